package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// serve validates cfg, opens an App on it and serves its handler on
// loopback, until the test ends.
func serve(t *testing.T, cfg *config.Config) (*App, *httptest.Server) {
	t.Helper()
	if err := cfg.Validate(builtin.Registry); err != nil {
		t.Fatal(err)
	}
	a, err := Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv
}

// Raw requests past their retention are purged; their events stay.
func TestPurgeRawRequests(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}}
	a, srv := serve(t, cfg)
	resp, err := http.Post(srv.URL+"/track", "application/json",
		strings.NewReader(`{"source":{"id":"web"},"events":[{"type":"kept","properties":{"a":1}}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx := context.Background()
	var e *cdp.Event
	testenv.Eventually(t, "the event stored", 10*time.Second, func() bool {
		events, _, _ := a.Store.FindEvents(ctx, cdp.EventFilter{Type: "kept"})
		if len(events) == 1 {
			e = events[0]
		}
		return e != nil
	})
	if _, err := a.Store.FindRawRequest(ctx, e.RequestID); err != nil {
		t.Fatalf("raw request: %v", err)
	}
	a.purgeRawRequests(ctx, time.Hour) // younger than the retention: kept
	if _, err := a.Store.FindRawRequest(ctx, e.RequestID); err != nil {
		t.Fatalf("raw request purged too early: %v", err)
	}
	a.purgeRawRequests(ctx, 0)
	if _, err := a.Store.FindRawRequest(ctx, e.RequestID); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("raw request after purge: %v", err)
	}
	if _, err := a.Store.FindEventByID(ctx, e.ID); err != nil {
		t.Fatalf("the event went with its raw request: %v", err)
	}
}
