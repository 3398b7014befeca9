package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/config"
)

// page fetches a console page without following redirects.
func (s *stack) page(t *testing.T, method, path string, body url.Values, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func wantPage(t *testing.T, status int, body string, wantStatus int, wants ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d:\n%.2000s", status, wantStatus, body)
	}
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%.3000s", w, body)
		}
	}
}

// Every page renders from the stores: an event sent with /track shows on
// the overview's chart, in the events list, on its page with its raw
// request, and a missing one is a 404 page.
func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code, _, body := s.page(t, "GET", "/console/", nil)
	wantPage(t, code, body, 200, "No events in the last hour", `href="/console/live"`, "failed (the dead letter)")
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase","properties":{"sku":"A-1"}}]}`), 200)
	ev := s.events(t, "type=purchase", 1)[0]
	code, h, body := s.page(t, "GET", "/console/", nil)
	wantPage(t, code, body, 200, "<svg", "Events per minute over the last hour", "web (")
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("headers %v", h)
	}
	code, _, body = s.page(t, "GET", "/console/events?type=purchase", nil)
	wantPage(t, code, body, 200, "/console/events/"+ev["id"].(string), "A-1")
	code, _, body = s.page(t, "GET", "/console/events/"+ev["id"].(string), nil)
	wantPage(t, code, body, 200, "&#34;sku&#34;: &#34;A-1&#34;", "POST /track", "This event started no workflow run")
	code, _, body = s.page(t, "GET", "/console/events/nope", nil)
	wantPage(t, code, body, 404, "event nope not found")
	code, _, body = s.page(t, "GET", "/console/events?since=yesterday", nil)
	wantPage(t, code, body, 400, "since must be a time")
	code, _, body = s.page(t, "GET", "/console/live", nil)
	wantPage(t, code, body, 200, `id="live-list"`, "CEL filter")
	code, _, body = s.page(t, "GET", "/console/runs?status=failed", nil)
	wantPage(t, code, body, 200, "No runs match", "Retry failed runs")
	code, h, body = s.page(t, "GET", "/console/nowhere/at/all", nil)
	wantPage(t, code, body, 404, "no console page at /console/nowhere/at/all", `href="/console/live"`)
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("unknown console path served as %q", h.Get("Content-Type"))
	}
	code, h, _ = s.page(t, "GET", "/", nil)
	if code != http.StatusFound || h.Get("Location") != "/console/" {
		t.Errorf("GET / answered %d, Location %q; want a redirect to /console/", code, h.Get("Location"))
	}
	code, h, body = s.page(t, "GET", "/console/static/console.js", nil)
	wantPage(t, code, body, 200, "X-Switchyard-Console")
	if !strings.Contains(h.Get("Content-Type"), "javascript") {
		t.Errorf("script served as %q", h.Get("Content-Type"))
	}
}

// With admin tokens a browser signs in with a token and gets a cookie
// (the token's hash) that opens the console and the management API; a
// change through the API with the cookie also needs the console's header.
func TestConsoleSignIn(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.Admin.Tokens = config.Tokens("s3cret") })
	code, h, _ := s.page(t, "GET", "/console/events?type=x", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/console/signin?next=%2Fconsole%2Fevents%3Ftype%3Dx" {
		t.Fatalf("unsigned: %d %v", code, h)
	}
	code, _, body := s.page(t, "POST", "/console/signin", url.Values{"token": {"wrong"}, "next": {"/console/events"}})
	wantPage(t, code, body, 401, "not one of admin.tokens")
	code, h, _ = s.page(t, "POST", "/console/signin", url.Values{"token": {"s3cret"}, "next": {"//evil.example/"}})
	cookie := h.Get("Set-Cookie")
	if code != http.StatusSeeOther || h.Get("Location") != "/console/" || !strings.Contains(cookie, "HttpOnly") ||
		!strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, "s3cret") {
		t.Fatalf("sign-in: %d %v", code, h)
	}
	jar := strings.SplitN(cookie, ";", 2)[0]
	code, _, body = s.page(t, "GET", "/console/", nil, "Cookie", jar)
	wantPage(t, code, body, 200, "Sign out")
	code, _, _ = s.page(t, "GET", "/admin/v1/runs", nil, "Cookie", jar)
	if code != 200 {
		t.Fatalf("the API with the cookie: %d", code)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/retry", "", "", "Cookie", jar), 403)
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/retry", "", "", "Cookie", jar, "X-Switchyard-Console", "1"), 200)
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs", "", "", "Cookie", "switchyard_console=forged"), 401)
}

// Profiles are found by identifier and shown with their timeline and the
// erase control; sources show their setup text with masked secrets;
// workflows show their YAML, and a dry run tells what a workflow would
// send for a stored event without sending it.
func TestConsoleProfilesSourcesWorkflows(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: "customerio_track", SiteID: "site-1", APIKey: "key-1"},
			config.Source{ID: "cdp", Kind: "customerio_pipelines", WriteKey: "wk-1"})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: "https://example.com/in", SigningSecret: swSecret}}
	})
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"profile":{"id":"p-1"},"events":[{"type":"purchase","properties":{"total":120}}]}`), 200)
	ev := s.events(t, "type=purchase", 1)[0]
	pid := ev["profile_id"].(string)
	code, h, _ := s.page(t, "GET", "/console/profiles?kind=profile&value="+pid, nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/console/profiles/"+pid {
		t.Fatalf("lookup: %d %v", code, h)
	}
	code, _, body := s.page(t, "GET", "/console/profiles?kind=email&value=nobody@example.com", nil)
	wantPage(t, code, body, 200, "not found", "Recent profiles", `href="/console/profiles/`+pid+`"`)
	// An email is found in any case, as the page says.
	wantStatus(t, s.do(t, "POST", "/v1/identify", "application/json", `{"userId":"u-mail","traits":{"email":"Ann@Example.com"}}`,
		"Authorization", "Basic "+basic("wk-1", "")), 200)
	mailed := s.events(t, "type=identify", 1)[0]["profile_id"].(string)
	code, h, _ = s.page(t, "GET", "/console/profiles?kind=email&value=ANN%40example.COM", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/console/profiles/"+mailed {
		t.Fatalf("lookup by email in another case: %d %v", code, h)
	}
	code, _, body = s.page(t, "GET", "/console/profiles/"+pid, nil)
	wantPage(t, code, body, 200, "purchase", `data-delete="/admin/v1/profiles/`+pid+`"`, "Type the profile id")

	code, _, body = s.page(t, "GET", "/console/sources", nil)
	wantPage(t, code, body, 200, `href="/console/sources/web"`, "configuration file")
	code, _, body = s.page(t, "GET", "/console/sources/web", nil)
	wantPage(t, code, body, 200, s.url+"/track", `&#34;source&#34;:{&#34;id&#34;:&#34;web&#34;}`, "Tracardi JS tracker options")
	code, _, body = s.page(t, "GET", "/console/sources/cio", nil)
	wantPage(t, code, body, 200, `data-value="key-1"`, "••••", `customerio.WithURL(&#34;`+s.url)
	code, _, body = s.page(t, "GET", "/console/sources/new", nil)
	wantPage(t, code, body, 200, `id="source-form"`)
	code, _, body = s.page(t, "GET", "/console/sources/nope", nil)
	wantPage(t, code, body, 404, "source nope not found")

	wf := `id: big
trigger: { source: web, types: [purchase], if: "event.properties.total > 100.0" }
steps:
  - { id: big_only, filter: "event.properties.total > 100.0" }
  - { id: tell, action: webhook.send, destination: app, with: { body: "{'total': event.properties.total}" } }
`
	r := s.do(t, "POST", "/admin/v1/workflows/dry-run?event="+ev["id"].(string), "application/yaml", wf)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), `"matches":true`) || !strings.Contains(string(r.body), `"url":"https://example.com/in"`) ||
		!strings.Contains(string(r.body), `"outcome":"would succeed"`) || !strings.Contains(string(r.body), `\"total\":120`) {
		t.Fatalf("dry run: %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows/dry-run?event=nope", "application/yaml", wf), 404)
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows/dry-run", "application/yaml", wf), 400)
	r = s.do(t, "POST", "/admin/v1/workflows/dry-run?event="+ev["id"].(string), "application/yaml", strings.Replace(wf, "100.0", "100.0 +", 1))
	wantStatus(t, r, 400)
	if !strings.Contains(string(r.body), "trigger.if: ERROR") {
		t.Fatalf("bad CEL: %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows", "application/yaml", wf), 201)
	code, _, body = s.page(t, "GET", "/console/workflows", nil)
	wantPage(t, code, body, 200, `href="/console/workflows/big"`, "event.properties.total &gt; 100.0")
	// Newer events the trigger does not select (another type, a total
	// under 100) do not take the dry run's preselection.
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"profile":{"id":"p-1"},"events":[{"type":"purchase","properties":{"total":5}},{"type":"view"}]}`), 200)
	s.events(t, "type=view", 1)
	code, _, body = s.page(t, "GET", "/console/workflows/big", nil)
	wantPage(t, code, body, 200, `id="workflow-editor"`, "action: webhook.send", "Save as the next version",
		`<option value="`+ev["id"].(string)+`" selected>`)
	if strings.Count(body, " selected>") != 1 {
		t.Errorf("%d events preselected", strings.Count(body, " selected>"))
	}
	// Ids in lists show their random tail, the full id on hover.
	code, _, body = s.page(t, "GET", "/console/events?type=purchase", nil)
	wantPage(t, code, body, 200, `<code title="`+pid+`">…`+pid[len(pid)-12:]+`</code>`)
	// A configured source has no creation time to show.
	if r := s.do(t, "GET", "/admin/v1/sources/web", "", ""); strings.Contains(string(r.body), "created_at") {
		t.Errorf("configured source: %s", r.body)
	}
	code, _, body = s.page(t, "GET", "/console/workflows/new", nil)
	wantPage(t, code, body, 200, "Create")
}
