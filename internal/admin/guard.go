package admin

import (
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
)

// Guard keeps web pages in a browser out of the management API and the
// console. The loopback rule alone does not: a page from any site, open in
// a browser on the server's machine, reaches 127.0.0.1 too. Two attacks
// remain without Guard, and it stops both:
//
//   - DNS rebinding: a name the attacker controls resolves to 127.0.0.1,
//     so the attacker's page reads the API as its own origin. Its requests
//     carry the attacker's name in Host, so only Hosts the server answers
//     to are admitted: IP addresses (a page whose origin is an address is
//     served by whoever listens there), localhost, and admin.allowed_hosts.
//   - Cross-site requests that change state: a form or a no-cors fetch can
//     POST to any URL without a preflight. A change must come from the
//     server's own origin (Origin and Sec-Fetch-Site, when the browser
//     sends them) and, unless it carries the console's custom header,
//     have a JSON or YAML body, which a cross-site request cannot send
//     without a CORS preflight the management API never grants.
//
// Reads from another site are refused too, unless they carry a token: a
// page cannot read the answer, but it can time it or feed it to an
// element, and nothing legitimate asks cross-site. The one exception is a
// console page opened by following a link (a top-level navigation), such
// as an alert's link to a run.
type Guard struct {
	log   *slog.Logger
	any   bool
	hosts []string // lower case; ".example.com" admits its subdomains
}

// NewGuard admits the Hosts in allowed besides IP addresses and localhost:
// exact names, "*.example.com" for any subdomain, or "*" for every Host.
func NewGuard(log *slog.Logger, allowed []string) *Guard {
	g := &Guard{log: log}
	for _, h := range allowed {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		switch {
		case h == "*":
			g.any = true
		case strings.HasPrefix(h, "*."):
			g.hosts = append(g.hosts, h[1:])
		case h != "":
			g.hosts = append(g.hosts, h)
		}
	}
	return g
}

// What a guarded handler serves, which decides what is admitted.
type guarded int

const (
	apiRoute  guarded = iota // the management API, /metrics
	pageRoute                // a console page: may be opened from a link
	formRoute                // the console's sign-in and sign-out forms
)

// API guards a management API handler (and /metrics).
func (g *Guard) API(h http.Handler) http.Handler { return g.wrap(h, apiRoute) }

// Page guards a console page, which a link from elsewhere may open.
func (g *Guard) Page(h http.Handler) http.Handler { return g.wrap(h, pageRoute) }

// Form guards a handler that takes an HTML form (the console's sign-in
// and sign-out): same origin required, any body type.
func (g *Guard) Form(h http.Handler) http.Handler { return g.wrap(h, formRoute) }

func (g *Guard) wrap(h http.Handler, kind guarded) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.check(r, kind); err != nil {
			httpx.Error(w, r, g.log, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (g *Guard) check(r *http.Request, kind guarded) error {
	if !g.allowedHost(r.Host) {
		return cdp.Errorf(cdp.EFORBIDDEN, "the management API and console do not answer to host %q: add it to admin.allowed_hosts", hostOnly(r.Host))
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		if kind == pageRoute && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
			return nil // a link followed to a console page
		}
		if r.Header.Get("Authorization") == "" {
			if from := crossSite(r); from != "" {
				return cdp.Errorf(cdp.EFORBIDDEN, "%s cannot read anything here without a token", from)
			}
		}
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return cdp.Errorf(cdp.EFORBIDDEN, "a %s request cannot change anything here", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return cdp.Errorf(cdp.EFORBIDDEN, "a request from origin %q cannot change anything here", origin)
		}
	}
	if kind == formRoute || r.Header.Get(auth.CSRFHeader) != "" {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil // nothing to read: a retry, a delete
	}
	if mt, _, _ := mime.ParseMediaType(ct); !isDocumentType(mt) {
		return cdp.Errorf(cdp.EINVALID, "send the body as Content-Type: application/json (or application/yaml), not %q", ct)
	}
	return nil
}

// crossSite describes where a browser says a request comes from when
// that is another site or another origin, or returns "".
func crossSite(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "a " + site + " request"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Sprintf("a request from origin %q", origin)
		}
	}
	return ""
}

// isDocumentType reports whether a body of media type mt is one the
// management API reads, and one a browser sends cross-site only after a
// CORS preflight.
func isDocumentType(mt string) bool {
	switch mt {
	case "application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

func (g *Guard) allowedHost(hostport string) bool {
	if g.any || hostport == "" {
		return true
	}
	host := strings.ToLower(strings.TrimSuffix(hostOnly(hostport), "."))
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, h := range g.hosts {
		if host == h || (h[0] == '.' && strings.HasSuffix(host, h)) {
			return true
		}
	}
	return false
}

// hostOnly drops the port (and an IPv6 address's brackets) from a Host.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
