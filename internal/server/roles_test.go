package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/catalog"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// rolesStack is a stack with a token of each role.
func rolesStack(t *testing.T) *stack {
	return newStack(t, func(c *config.Config) {
		c.Admin.Tokens = []config.AdminToken{{Name: "ci", Token: "t-admin", Role: "admin"},
			{Name: "oncall", Token: "t-operator", Role: "operator"}, {Name: "analyst", Token: "t-viewer", Role: "viewer"},
			{Token: "t-bare"}}
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "k3y-s3cret"})
	})
}

// Walking every management route of the catalogue with a token of each
// role: a viewer is refused every route that changes anything, an
// operator every admin route, each with a 403 naming the role needed and
// the token's; what a role may do is never refused for its role. A bare
// token is an admin.
func TestRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := rolesStack(t)
	rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3}
	tokens := map[string]string{"viewer": "t-viewer", "operator": "t-operator", "admin": "t-admin", "bare": "t-bare"}
	names := map[string]string{"viewer": "analyst", "operator": "oncall", "admin": "ci", "bare": "tokens[3]"}
	refused, changes := map[string]int{}, map[string]int{}
	for _, op := range catalog.Operations() {
		if op.Tag != catalog.TagManagement {
			continue
		}
		if rank[op.Role] == 0 {
			t.Fatalf("%s %s has no role (%q)", op.Method, op.Path, op.Role)
		}
		if op.Method != "GET" && op.Role == "viewer" && op.Path != "/admin/v1/workflows/dry-run" {
			t.Errorf("%s %s changes something but a viewer may call it", op.Method, op.Path)
		}
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.Path, "x")
		for who, token := range tokens {
			role := who
			if who == "bare" {
				role = "admin"
			}
			allowed := rank[role] >= rank[op.Role]
			if allowed && op.Stream {
				continue // the live tail streams until the client goes
			}
			r := s.do(t, op.Method, path, "application/json", "{}", "Authorization", "Bearer "+token)
			if op.Method != "GET" {
				changes[fmt.Sprintf("token:%s %s %s %d", names[who], op.Method+" "+op.Path, strings.TrimPrefix(path, "/admin/v1/"), r.status)]++
			}
			switch {
			case !allowed && r.status != 403:
				t.Errorf("%s %s as a %s: %d, want 403", op.Method, op.Path, who, r.status)
			case !allowed:
				msg := r.json(t)["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, "needs the "+op.Role+" role") || !strings.Contains(msg, `"`+names[who]+`" is a `+role) {
					t.Errorf("%s %s as a %s: the refusal says %q", op.Method, op.Path, who, msg)
				}
				refused[who]++
			case r.status == 403 || r.status == 401:
				t.Errorf("%s %s as a %s: %d %s", op.Method, op.Path, who, r.status, r.body)
			}
		}
	}
	if refused["viewer"] < 15 || refused["operator"] < 7 || refused["operator"] >= refused["viewer"] || refused["admin"]+refused["bare"] != 0 {
		t.Fatalf("refusals by role: %v", refused)
	}
	// The audit trail holds each of the changes asked, refused or not.
	recorded := map[string]int{}
	for _, e := range s.audit(t, "") {
		recorded[fmt.Sprintf("%s %s %s %d", e.Actor, e.Action, e.Target, e.Status)]++
	}
	if fmt.Sprint(recorded) != fmt.Sprint(changes) {
		t.Fatalf("the audit trail holds\n%v\nthe walk asked\n%v", recorded, changes)
	}
	// The metrics take any role's token.
	wantStatus(t, s.do(t, "GET", "/metrics", "", "", "Authorization", "Bearer t-viewer"), 200)
}

// A viewer reads sources without their credentials; an admin with them.
func TestViewerSeesNoSecrets(t *testing.T) {
	t.Parallel()
	s := rolesStack(t)
	for token, want := range map[string]string{"t-viewer": "[redacted]", "t-operator": "[redacted]", "t-admin": "k3y-s3cret"} {
		r := s.do(t, "GET", "/admin/v1/sources/cio", "", "", "Authorization", "Bearer "+token)
		wantStatus(t, r, 200)
		if got := r.json(t)["api_key"]; got != want {
			t.Errorf("%s reads the api_key as %v, want %s", token, got, want)
		}
		list := s.do(t, "GET", "/admin/v1/sources", "", "", "Authorization", "Bearer "+token)
		if strings.Contains(string(list.body), "k3y-s3cret") != (want == "k3y-s3cret") {
			t.Errorf("%s: the source list %s", token, list.body)
		}
	}
}

// A viewer signed in to the console sees the pages with the controls of
// the roles above it hidden (data-role on the page, data-needs on the
// controls) and sources without their credentials; the API behind the
// console refuses the viewer's changes with the cookie as with the token.
func TestConsoleForAViewer(t *testing.T) {
	t.Parallel()
	s := rolesStack(t)
	code, h, _ := s.page(t, "POST", "/console/signin", url.Values{"token": {"t-viewer"}, "next": {"/console/"}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	jar := strings.SplitN(h.Get("Set-Cookie"), ";", 2)[0]
	code, _, body := s.page(t, "GET", "/console/destinations", nil, "Cookie", jar)
	wantPage(t, code, body, 200, `data-role="viewer"`)
	code, _, body = s.page(t, "GET", "/console/sources/cio", nil, "Cookie", jar)
	wantPage(t, code, body, 200, `data-role="viewer"`)
	if strings.Contains(body, "k3y-s3cret") {
		t.Fatal("the source page shows a viewer the api_key")
	}
	code, _, body = s.page(t, "GET", "/console/sources", nil, "Cookie", jar)
	wantPage(t, code, body, 200, `data-needs="admin"`)
	r := s.do(t, "DELETE", "/admin/v1/sources/cio", "", "", "Cookie", jar, "X-Switchyard-Console", "1")
	wantStatus(t, r, 403)
	code, h, _ = s.page(t, "POST", "/console/signin", url.Values{"token": {"t-admin"}, "next": {"/console/"}})
	admin := strings.SplitN(h.Get("Set-Cookie"), ";", 2)[0]
	code, _, body = s.page(t, "GET", "/console/sources/cio", nil, "Cookie", admin)
	wantPage(t, code, body, 200, `data-role="admin"`, "k3y-s3cret")
}
