package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// stack is a whole Switchyard in-process, wired exactly as `serve` wires
// it (embedded JetStream, SQLite, the processor), behind an httptest server.
type stack struct {
	url      string
	store    cdp.Store
	identity *identity.Service
	sources  *ingest.Sources
}

func newStack(t *testing.T, mutate ...func(*config.Config)) *stack {
	t.Helper()
	a := openApp(t, mutate...)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		checkDocumented(t, a)
	})
	return &stack{url: srv.URL, store: a.Store, identity: a.Identity, sources: a.Sources}
}

// openApp opens a Switchyard on the embedded engines in a fresh data dir,
// with the sources "web" and "off" (disabled) and mutate applied; it is
// closed when the test ends.
func openApp(t testing.TB, mutate ...func(*config.Config)) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}, {ID: "off", Kind: cdp.SourceTrack, Enabled: new(bool)}}
	for _, m := range mutate {
		m(cfg)
	}
	if err := cfg.Validate(builtin.Registry); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (s *stack) do(t *testing.T, method, path, contentType string, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.send(t, req)
}

func (s *stack) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func (s *stack) track(t *testing.T, body string) reply {
	t.Helper()
	return s.do(t, "POST", "/track", "application/json", body)
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); r.status != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "text/plain; version") {
		t.Fatalf("Content-Type %q, want JSON; body %s", ct, r.body)
	}
}

// events waits until the store holds want events matching query (an
// /admin/v1/events query string) and returns them.
func (s *stack) events(t *testing.T, query string, want int) []map[string]any {
	t.Helper()
	var list struct {
		Events []map[string]any `json:"events"`
	}
	testenv.Await(t, fmt.Sprintf("%d events for %q", want, query), 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/events?limit=1000&"+query, "", "")
		wantStatus(t, r, 200)
		list.Events = nil // decoded afresh: into the last poll's maps, it would merge them
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Events) > want {
			t.Fatalf("%d events for %q, want %d: %s", len(list.Events), query, want, r.body)
		}
		return len(list.Events) == want, string(r.body)
	})
	return list.Events
}

// settle waits until the processor has drained the event log, so that a
// test can assert that something was NOT stored.
func (s *stack) settle(t *testing.T) {
	t.Helper()
	marker := s.track(t, `{"source":{"id":"web"},"session":{"id":"settle-`+cdp.NewID()+`"},"events":[{"type":"settle-marker"}],"options":{"debugger":true}}`)
	wantStatus(t, marker, 200)
	ids := marker.json(t)["events"].([]any)
	testenv.Eventually(t, "the processor to catch up", 10*time.Second, func() bool {
		return s.do(t, "GET", "/admin/v1/events/"+ids[0].(string), "", "").status == 200
	})
}

func jsonBody(v any) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.String()
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// onBothStores runs check on the embedded SQLite store and, when
// SWITCHYARD_TEST_POSTGRES_URL is set, on PostgreSQL.
func onBothStores(t *testing.T, check func(t *testing.T, engine func(*config.Config))) {
	t.Run("SQLite", func(t *testing.T) { check(t, func(*config.Config) {}) })
	t.Run("PostgreSQL", func(t *testing.T) {
		url := testenv.Postgres(t)
		check(t, func(c *config.Config) { c.PostgresURL = url })
	})
}
