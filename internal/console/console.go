// Package console is the web console at /console/: pages rendered on the
// server (html/template) from the same services the management API uses,
// and a little hand-written JavaScript for what must be live (the tail)
// or act (retry, erase, save), which calls the management API from the
// page with the sign-in cookie. Everything is embedded: no build step, no
// CDN, it works offline.
package console

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/telemetry"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

//go:embed templates static
var files embed.FS

// Deps are the services the pages read.
type Deps struct {
	Log       *slog.Logger
	Store     cdp.Store
	Sources   *ingest.Sources
	Workflows *workflow.Registry
	Metrics   *metrics.Metrics
	// Destinations are the destinations with their breakers and health.
	Destinations *admin.Destinations
	// Audit records sign-ins and sign-outs in the audit trail.
	Audit *admin.Audit
	// Resources are the destinations and alerts created through the
	// management API.
	Resources *resources.Resources
	// Catalog is the event catalog, beside the tracking plans in force.
	Catalog *admin.Catalog
	// Access is the management API's: loopback only without tokens, else
	// a token or a console session.
	Access *auth.Access
	// BaseURL is how clients reach this server, for setup snippets
	// (derived from the request when empty).
	BaseURL string
}

// Console serves the pages.
type Console struct {
	d        Deps
	pages    map[string]*template.Template
	attempts *attempts // sign-in attempts per client address
}

// nav is the menu, in order.
var nav = []struct{ Path, Name string }{
	{"/console/", "Overview"}, {"/console/live", "Live"}, {"/console/events", "Events"},
	{"/console/profiles", "Profiles"}, {"/console/sources", "Sources"}, {"/console/catalog", "Catalog"}, {"/console/workflows", "Workflows"},
	{"/console/runs", "Runs"}, {"/console/destinations", "Destinations"}, {"/console/alerts", "Alerts"},
	{"/console/audit", "Audit"},
}

// New parses the templates: each page is the layout plus its own file.
func New(d Deps) (*Console, error) {
	c := &Console{d: d, pages: map[string]*template.Template{}, attempts: newAttempts()}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	return c, nil
}

// MustNew is New for templates known to parse (they are embedded).
func MustNew(d Deps) *Console {
	c, err := New(d)
	if err != nil {
		panic(err)
	}
	return c
}

var funcs = template.FuncMap{
	// traceID is a traceparent's trace id, to look the trace up in a
	// tracing backend.
	"traceID": telemetry.TraceID,
	// when renders a time for the viewer's zone: UTC text that the page's
	// script rewrites in local time.
	"when": func(t any) template.HTML {
		var tt time.Time
		switch v := t.(type) {
		case time.Time:
			tt = v
		case *time.Time:
			if v == nil {
				return ""
			}
			tt = *v
		}
		if tt.IsZero() {
			return ""
		}
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
			tt.UTC().Format(time.RFC3339Nano), tt.UTC().Format("2006-01-02 15:04:05 UTC")))
	},
	// pretty indents JSON (raw bytes or any value).
	"pretty": func(v any) string {
		var raw []byte
		switch v := v.(type) {
		case json.RawMessage:
			raw = v
		case []byte:
			raw = v
		case string: // a captured body: indented when it is JSON
			raw = []byte(v)
		default:
			raw, _ = json.Marshal(v)
		}
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			return string(raw)
		}
		return buf.String()
	},
	// short cuts s to n characters.
	"short": func(n int, s string) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n-1]) + "…"
		}
		return s
	},
	// shortid shows the end of a long id: time-ordered ids (UUIDv7) share
	// their leading, time, digits with every id made the same minute, so
	// only the random tail tells two apart.
	"shortid": func(id string) string {
		if r := []rune(id); len(r) > 13 {
			return "…" + string(r[len(r)-12:])
		}
		return id
	},
	// body shows captured bytes: as text when they are UTF-8, else base64.
	"body": func(b []byte) string {
		if utf8.Valid(b) {
			return string(b)
		}
		return "base64: " + base64.StdEncoding.EncodeToString(b)
	},
	"deref":   func(b *bool) bool { return b != nil && *b },
	"percent": func(ratio float64) string { return fmt.Sprintf("%.1f %%", 100*ratio) },
	"query":   url.QueryEscape,
	"path":    url.PathEscape,
}

// view is what every page template receives.
type view struct {
	Title string
	Path  string
	Nav   any
	Data  any
	// SignedIn is true when a cookie (not loopback) let the viewer in.
	SignedIn bool
	// Role is the viewer's: the page hides the controls of the roles
	// above it (data-needs), which the management API would refuse.
	Role string
}

// page wraps a page's handler: access as for the management API (a
// browser without a token is sent to sign in), then the page's template
// with what load returns. load's errors render as the page's message
// with their status (404 for a missing event …).
func (c *Console) page(name, title string, load func(r *http.Request) (any, error)) http.Handler {
	return c.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := load(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.render(w, r, http.StatusOK, name, title, data)
	}))
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	_, cookie := r.Cookie(auth.CookieName)
	var buf bytes.Buffer
	if err := t.Execute(&buf, view{Title: title, Path: r.URL.Path, Nav: nav, Data: data, SignedIn: cookie == nil,
		Role: auth.PrincipalFrom(r.Context()).Role.String()}); err != nil {
		c.d.Log.Error("render console page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders err as a page with its status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := map[string]int{cdp.ENOTFOUND: 404, cdp.EINVALID: 400, cdp.EFORBIDDEN: 403, cdp.ECONFLICT: 409,
		cdp.ERATELIMIT: 429, cdp.EUNAVAILABLE: 503}[cdp.ErrorCode(err)]
	if status == 0 {
		if r.Context().Err() != nil {
			return // the browser went away
		}
		status = http.StatusInternalServerError
		c.d.Log.Error("console page", "path", r.URL.Path, "err", err)
	}
	c.render(w, r, status, "error", http.StatusText(status), cdp.ErrorMessage(err))
}

// NotFound answers a console path no page serves with the styled error
// page (a browser shows it; the API's JSON 404 would be a bare text blob).
func (c *Console) NotFound() http.Handler {
	return c.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, cdp.Errorf(cdp.ENOTFOUND, "no console page at %s", r.URL.Path))
	}))
}

// guard admits what the management API admits; a browser that needs a
// token is sent to the sign-in page.
func (c *Console) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := c.d.Access.Check(r)
		switch {
		case err == nil:
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		case cdp.ErrorCode(err) == cdp.EUNAUTHORIZED:
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case cdp.ErrorCode(err) == cdp.EFORBIDDEN:
			c.render(w, r, http.StatusForbidden, "error", "Forbidden", cdp.ErrorMessage(err)+
				". Configure admin.tokens to sign in from elsewhere.")
		default:
			c.fail(w, r, err)
		}
	})
}

// Static serves the embedded stylesheet and script.
func (c *Console) Static() http.Handler {
	sub, _ := fs.Sub(files, "static")
	fsrv := http.StripPrefix("/console/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// baseURL is the server's address as the viewer reached it.
func (c *Console) baseURL(r *http.Request) string {
	if c.d.BaseURL != "" {
		return strings.TrimSuffix(c.d.BaseURL, "/")
	}
	scheme := "http"
	if httpx.IsHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
