package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type auditEntry struct {
	Actor, Action, Target, RemoteAddr string
	Status                            int
	Summary                           map[string]any
}

// audit reads the audit trail (newest first) with the admin token.
func (s *stack) audit(t *testing.T, query string) []auditEntry {
	t.Helper()
	r := s.do(t, "GET", "/admin/v1/audit?limit=1000&"+query, "", "", "Authorization", "Bearer t-admin")
	wantStatus(t, r, 200)
	var page struct {
		Entries []struct {
			auditEntry
			RemoteAddr string `json:"remote_addr"`
		}
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var out []auditEntry
	for _, e := range page.Entries {
		e.auditEntry.RemoteAddr = e.RemoteAddr
		out = append(out, e.auditEntry)
	}
	return out
}

// Each change is recorded with who made it, the route, the target, the
// status and a summary whose secrets are masked; refused changes too, and
// console sign-ins, failed or not, and sign-outs; reads and requests
// without a valid token are not. The trail filters by actor and target.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	s := rolesStack(t)
	admin := []string{"Authorization", "Bearer t-admin"}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"pay","kind":"webhook","verify":{"scheme":"hmac_sha256","secret":"hush-1","header":"X-Sig"},"name":"Payments"}`, admin...), 201)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/pay", "application/json",
		`{"id":"pay","kind":"webhook","verify":{"scheme":"hmac_sha256","secret":"hush-2","header":"X-Sig"},"name":"Payments 2"}`, admin...), 200)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/pay", "", "", "Authorization", "Bearer t-viewer"), 403)
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows", "application/yaml",
		"id: w\ntrigger: {source: web}\nsteps:\n  - {id: call, action: http.call, with: {url: '\"https://example.com\"', headers: {Authorization: '\"Bearer hush-3\"'}}}\n", admin...), 201)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/pay", "", "", admin...), 204)
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/retry?workflow=w&confirm=true", "", "", "Authorization", "Bearer t-operator"), 200)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/web", "", "", "Authorization", "Bearer wrong"), 401)
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources", "", "", admin...), 200)
	code, h, _ := s.page(t, "POST", "/console/signin", url.Values{"token": {"t-operator"}, "next": {"/console/"}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	s.page(t, "POST", "/console/signin", url.Values{"token": {"guess"}})
	s.page(t, "POST", "/console/signout", nil, "Cookie", strings.SplitN(h.Get("Set-Cookie"), ";", 2)[0])

	got := s.audit(t, "")
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s %d", e.Actor, e.Action, e.Target, e.Status))
		if e.RemoteAddr != "127.0.0.1" {
			t.Errorf("entry %+v: remote address", e)
		}
	}
	want := []string{
		"console:oncall sign_out  303",
		"anonymous sign_in  401",
		"console:oncall sign_in  303",
		"token:oncall POST /admin/v1/runs/retry runs/retry 200",
		"token:ci DELETE /admin/v1/sources/{id} sources/pay 204",
		"token:ci POST /admin/v1/workflows workflows 201",
		"token:analyst DELETE /admin/v1/sources/{id} sources/pay 403",
		"token:ci PUT /admin/v1/sources/{id} sources/pay 200",
		"token:ci POST /admin/v1/sources sources 201",
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("the audit trail:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	raw := s.do(t, "GET", "/admin/v1/audit", "", "", admin...)
	for _, secret := range []string{"hush-1", "hush-2", "hush-3", "t-admin", "t-operator", "guess"} {
		if strings.Contains(string(raw.body), secret) {
			t.Fatalf("the audit trail holds %q: %s", secret, raw.body)
		}
	}
	put := got[7].Summary["body"].(map[string]any)
	if put["name"] != "Payments 2" || put["verify"].(map[string]any)["secret"] != "[redacted]" || put["verify"].(map[string]any)["header"] != "X-Sig" {
		t.Fatalf("the summary of the PUT: %v", got[7].Summary)
	}
	if q := got[3].Summary["query"].(map[string]any); q["workflow"] != "w" || q["confirm"] != "true" {
		t.Fatalf("the summary of the retry: %v", got[3].Summary)
	}
	if n := len(s.audit(t, "actor=token:ci")); n != 4 {
		t.Fatalf("token:ci made %d changes", n)
	}
	if n := len(s.audit(t, "target=sources")); n != 4 {
		t.Fatalf("%d changes to sources", n)
	}
	// A viewer reads the trail; the trail itself is not a change.
	wantStatus(t, s.do(t, "GET", "/admin/v1/audit?target=sources/pay", "", "", "Authorization", "Bearer t-viewer"), 200)
	wantStatus(t, s.do(t, "GET", "/admin/v1/audit?limit=0", "", "", admin...), 400)
	code, _, body := s.page(t, "GET", "/console/audit?actor=token:ci", nil, "Authorization", "Bearer t-admin")
	wantPage(t, code, body, 200, "POST /admin/v1/sources", "sources/pay")
}
