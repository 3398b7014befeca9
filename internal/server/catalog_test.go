package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/catalog"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// documented is every event type the AsyncAPI document names.
var documented = func() map[string]bool {
	types := map[string]bool{}
	for _, t := range catalog.EventTypes() {
		types[t.Name] = true
	}
	return types
}()

// checkDocumented runs when every test stack closes: each event the test
// made the server store must have a type the AsyncAPI document names, or
// be client-named: its source kind lets clients name types and the type
// is a JSON string of the request that carried it.
func checkDocumented(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	cursor := ""
	for {
		events, next, err := a.Store.FindEvents(ctx, cdp.EventFilter{Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Errorf("list events: %v", err)
			return
		}
		for _, e := range events {
			if documented[e.Type] {
				continue
			}
			src, _ := a.Sources.Get(e.SourceID)
			if src == nil {
				continue // deleted by the test: its kind is unknown
			}
			if catalog.ClientNamed[src.Kind] == "" {
				t.Errorf("event type %q (source %s) is not in the AsyncAPI document", e.Type, e.SourceID)
				continue
			}
			if e.RequestID == "" || src.Kind == cdp.SourceWebhook || src.Transform != "" {
				continue // not captured, or named by the source's expression or transform
			}
			raw, err := a.Store.FindRawRequest(ctx, e.RequestID)
			if err == nil && !namedBy(e.Type, raw) {
				t.Errorf("event type %q (source %s) is neither documented nor named by the request %s %s", e.Type, e.SourceID, raw.Path, raw.Body)
			}
		}
		if next == "" {
			return
		}
		cursor = next
	}
}

// namedBy reports whether every word of typ appears in the request's
// (inflated, decoded) body or path: the client named it, possibly in
// another case or spacing (Tracardi normalises types).
func namedBy(typ string, raw *cdp.RawRequest) bool {
	body := raw.Body
	if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
		body, _ = io.ReadAll(zr)
	}
	path, _ := url.PathUnescape(raw.Path)
	text := strings.ToLower(string(body) + " " + path)
	for _, word := range regexp.MustCompile(`[a-z0-9]+`).FindAllString(strings.ToLower(typ), -1) {
		if !strings.Contains(text, word) {
			return false
		}
	}
	return true
}

// TestDocumentedRoutes: every operation of the OpenAPI document is routed,
// and every route of routes.go is documented.
func TestDocumentedRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	documentedOps := map[string]bool{}
	for _, op := range catalog.Operations() {
		documentedOps[op.Method+" "+op.Path] = true
		if op.Stream {
			continue
		}
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(op.Path, "x")
		r := s.do(t, op.Method, path, "application/json", "{}")
		if strings.Contains(string(r.body), "no such path") || r.status == http.StatusMethodNotAllowed {
			t.Errorf("%s %s is documented but not served: %d %s", op.Method, op.Path, r.status, r.body)
		}
	}
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"((?:GET|POST|PUT|DELETE) /[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		route := m[1]
		if strings.HasPrefix(route, "GET /debug/pprof") || strings.HasSuffix(route, "/") {
			continue // the Go runtime's profiles, behind admin auth
		}
		if strings.Contains(route, " /console/") || route == "GET /{$}" {
			continue // the web console's HTML pages (and the redirect to them): not an API
		}
		if !documentedOps[route] {
			t.Errorf("route %q is not in the catalogue", route)
		}
	}
}

// TestServedDocuments fetches both documents from a running server.
func TestServedDocuments(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, path := range []string{"/asyncapi.json", "/openapi.json"} {
		r := s.do(t, "GET", path, "", "")
		wantStatus(t, r, 200)
		doc := r.json(t)
		if doc["info"].(map[string]any)["title"] != "Switchyard" {
			t.Errorf("%s: %v", path, doc["info"])
		}
	}
}
