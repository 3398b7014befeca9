package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// externalConfig points cfg at a fresh PostgreSQL schema and fresh NATS
// streams, or skips the test without them.
func externalConfig(t *testing.T, cfg *config.Config) {
	t.Helper()
	if os.Getenv("SWITCHYARD_TEST_POSTGRES_URL") == "" || os.Getenv("SWITCHYARD_TEST_NATS_URL") == "" {
		t.Skip("set SWITCHYARD_TEST_POSTGRES_URL and SWITCHYARD_TEST_NATS_URL to run against external engines")
	}
	cfg.PostgresURL = testenv.Postgres(t)
	cfg.NATSURL, cfg.NATSPrefix = testenv.NATS(t)
}

// The same pipeline on PostgreSQL and an external JetStream: an event is
// acknowledged, stored, counted, and starts its workflow's run.
func TestExternalEngines(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	externalConfig(t, cfg)
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}}
	cfg.Workflows = []workflow.Workflow{{ID: "note", Trigger: workflow.Trigger{Types: []string{"kept"}},
		Steps: []workflow.Step{{ID: "done", Stop: true}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/track", "application/json",
		strings.NewReader(`{"source":{"id":"web"},"profile":{"id":"p"},"events":[{"type":"kept","properties":{"a":1}}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", resp, err)
	}
	resp.Body.Close()
	ctx := t.Context()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		events, _, _ := a.Store.FindEvents(ctx, cdp.EventFilter{Type: "kept"})
		runs, _, _ := a.Store.FindRuns(ctx, cdp.RunFilter{WorkflowID: "note", Status: cdp.RunSucceeded})
		if len(events) == 1 && len(runs) == 1 && events[0].ProfileID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %d, succeeded runs %d", len(events), len(runs))
		}
	}
	counts, err := a.Store.EventsPerMinute(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(counts) == 0 {
		t.Fatalf("per-minute counts %v, %v", counts, err)
	}
}

// Two nodes on one PostgreSQL and one NATS: a tail on node B shows an
// event ingested by node A, whichever node's processor stored it.
func TestTailAcrossNodes(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	externalConfig(t, cfg)
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}}
	open := func(dir string) *App {
		c := *cfg
		c.DataDir = dir
		a, err := Open(t.Context(), &c, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	a, b := open(t.TempDir()), open(t.TempDir())
	sub := b.Hub.Subscribe(tail.Filter{Type: "seen-on-b"}, 16)
	defer sub.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	time.Sleep(200 * time.Millisecond) // node A hears that a tail is open
	for i := range 5 {
		resp, err := http.Post(srv.URL+"/track", "application/json",
			strings.NewReader(fmt.Sprintf(`{"source":{"id":"web"},"events":[{"type":"seen-on-b","properties":{"i":%d}}]}`, i)))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("track: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	got := 0
	for timeout := time.After(10 * time.Second); got < 5; {
		select {
		case <-sub.C:
			got++
		case <-timeout:
			t.Fatalf("node B's tail saw %d of 5 events ingested on node A", got)
		}
	}
}

// A destination's rate limit holds for the cluster: two nodes sending to
// a destination limited to 20 requests/s never show it more than 20 in a
// second between them.
func TestRateLimitAcrossNodes(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer standIn.Close()
	cfg := config.Default()
	externalConfig(t, cfg)
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}}
	cfg.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "s", APIKey: "k", TrackURL: standIn.URL,
		AllowPrivateNetwork: true, RateLimit: 20}}
	cfg.Workflows = []workflow.Workflow{{ID: "tell", Trigger: workflow.Trigger{Types: []string{"purchase"}},
		Steps: []workflow.Step{{ID: "send", Action: "customerio.track_event", Destination: "cio",
			With: map[string]any{"identifier": "'u1'", "name": "'bought'"}}}}}
	var nodes []*App
	for range 2 {
		c := *cfg
		c.DataDir = t.TempDir()
		a, err := Open(t.Context(), &c, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		nodes = append(nodes, a)
	}
	time.Sleep(300 * time.Millisecond) // the nodes hear each other
	if nodes[0].members.Count() != 2 {
		t.Fatalf("node 0 counts %d nodes", nodes[0].members.Count())
	}
	events := make([]string, 60)
	for i := range events {
		events[i] = fmt.Sprintf(`{"type":"purchase","properties":{"n":%d}}`, i)
	}
	for i, a := range nodes {
		srv := httptest.NewServer(a.Handler())
		resp, err := http.Post(srv.URL+"/track", "application/json",
			strings.NewReader(`{"source":{"id":"web"},"events":[`+strings.Join(events[i*30:(i+1)*30], ",")+`]}`))
		srv.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("track: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(at)
		mu.Unlock()
		if n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in received %d of 60", n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n, i := testenv.BusiestSecond(at); n > 20 {
		var offs []string
		for _, u := range at {
			offs = append(offs, u.Sub(at[0]).Round(time.Millisecond).String())
		}
		t.Fatalf("%d requests within one second of request %d, from two nodes: %v; shares %v %v", n, i, offs,
			nodes[0].share(), nodes[1].share())
	}
	if span := at[59].Sub(at[0]); span < 2900*time.Millisecond {
		t.Fatalf("60 requests in %v", span)
	}
}

func (a *App) share() float64 { return a.members.Share() }
