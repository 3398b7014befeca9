package app

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// PostgreSQL goes away for longer than the processor's retries and comes
// back: requests the edge can serve from the event log alone are still
// acknowledged, the others get 503; /readyz says the node is not ready;
// afterwards every acknowledged event is stored exactly once as itself
// (none as poison, though every message's delivery count passed the
// poison threshold), each starts its run once, and runs caught mid-attempt
// by the outage finish without sending their request again.
func TestPostgresOutage(t *testing.T) { testOutage(t, "PostgreSQL") }

// NATS goes away and comes back: every ingest request gets 503 at once
// while it is away (none hangs for the publish timeout); afterwards the
// node's processor and runner carry on on their own, with the same
// guarantees as after a PostgreSQL outage.
func TestNATSOutage(t *testing.T) { testOutage(t, "NATS") }

// testOutage cuts engine (PostgreSQL or NATS) off from a node for eight
// seconds mid-traffic, through a proxy.
func testOutage(t *testing.T, engine string) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	externalConfig(t, cfg)
	engineURL := &cfg.PostgresURL
	if engine == "NATS" {
		engineURL = &cfg.NATSURL
	}
	u, err := url.Parse(*engineURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	*engineURL = u.String()
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack},
		{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"}}
	// The destination holds each request half a second, so the runs of
	// the events sent before the outage are mid-attempt when it starts.
	var mu sync.Mutex
	delivered := map[string]int{} // webhook-id → requests
	var arrived atomic.Int64      // requests the stand-in has begun to answer
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		time.Sleep(500 * time.Millisecond)
		mu.Lock()
		delivered[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer standIn.Close()
	cfg.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: standIn.URL, AllowPrivateNetwork: true,
		SigningSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	cfg.Workflows = []workflow.Workflow{{ID: "note", Trigger: workflow.Trigger{Types: []string{"purchase"}},
		Steps: []workflow.Step{{ID: "tell", Action: "webhook.send", Destination: "app"}}}}
	a, srv := serve(t, cfg)

	acked := map[string]bool{}
	send := func(phase string, i int) int {
		key := fmt.Sprintf("%s-%02d", phase, i)
		var req *http.Request
		if i%2 == 0 {
			req, _ = http.NewRequest("POST", srv.URL+fmt.Sprintf("/api/v1/customers/u%d/events", i%3),
				strings.NewReader(fmt.Sprintf(`{"name":"purchase","id":%q,"data":{"key":%q}}`, key, key)))
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("site:key")))
		} else {
			req, _ = http.NewRequest("POST", srv.URL+"/track", strings.NewReader(fmt.Sprintf(
				`{"source":{"id":"web"},"session":{"id":"s-%s"},"events":[{"id":%q,"type":"purchase","properties":{"key":%q}}]}`,
				key, key, key)))
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			acked[key] = true
		} else if resp.StatusCode != 503 {
			t.Fatalf("%s: status %d, want 200 or 503", key, resp.StatusCode)
		}
		return resp.StatusCode
	}
	ready := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	for i := range 10 {
		if code := send("before", i); code != 200 {
			t.Fatalf("before the outage: status %d", code)
		}
	}
	testenv.Eventually(t, "a run mid-attempt", 10*time.Second, func() bool { return arrived.Load() > 0 })
	proxy.Cut()
	cutAt := time.Now()
	testenv.Eventually(t, "/readyz to see "+engine+" gone", 10*time.Second, func() bool { return ready() == 503 })
	codes := map[int]int{}
	for i := range 20 {
		start := time.Now()
		codes[send("during", i)]++
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("a request while %s was away took %v", engine, took)
		}
	}
	switch {
	case engine == "PostgreSQL" && codes[200] == 0:
		t.Errorf("no request acknowledged while PostgreSQL was away (%v): Customer.io events need only the event log", codes)
	case engine == "NATS" && codes[503] != 20:
		t.Errorf("requests while NATS was away: %v, want all 503", codes)
	}
	if code := ready(); code != 503 {
		t.Errorf("/readyz while %s is away: %d, want 503", engine, code)
	}
	// Past the processor's five attempts (0.1+0.4+0.9+1.6 s of backoff),
	// 8 s from the cut however long the requests above took on a busy
	// machine: a run caught mid-attempt waits up to 15 s for the store to
	// record its outcome, and a longer outage would rightly send it again.
	time.Sleep(time.Until(cutAt.Add(8 * time.Second)))
	proxy.Restore()
	testenv.Eventually(t, "/readyz 200 after "+engine+"'s return", 30*time.Second, func() bool { return ready() == 200 })
	for i := range 10 {
		send("after", i)
	}

	testenv.Await(t, "every acknowledged event stored once and its run delivered once", 60*time.Second, func() (bool, string) {
		events, _, err := a.Store.FindEvents(t.Context(), cdp.EventFilter{Limit: 1000})
		stored := map[string]int{}
		poison := 0
		for _, e := range events {
			if e.Type == "poison" {
				poison++
			}
			if e.Type == "purchase" {
				stored[e.MessageID]++
			}
		}
		runs, _, _ := a.Store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "note", Status: cdp.RunSucceeded, Limit: 1000})
		if poison > 0 {
			t.Fatalf("%d events stored as poison after the outage", poison)
		}
		missing := testenv.Missing(t, acked, stored)
		mu.Lock()
		sent, repeated, which := len(delivered), 0, []string{}
		for id, n := range delivered {
			repeated += n - 1
			if n > 1 {
				which = append(which, id)
			}
		}
		mu.Unlock()
		if repeated > 0 {
			// The runs caught mid-attempt wait for the store to record
			// their outcome instead of being sent again after redelivery.
			for _, id := range which {
				run, _ := a.Store.FindRunByID(t.Context(), strings.Split(id, ":")[0])
				if run != nil {
					t.Logf("run %s sent twice: %+v", id, run.Steps)
				}
			}
			t.Fatalf("%d requests sent again after the outage", repeated)
		}
		if err == nil && missing == 0 && len(runs) == len(stored) && sent == len(stored) && ready() == 200 {
			t.Logf("during the %s outage: %v; %d acknowledged, %d stored once, %d runs succeeded, %d webhook-ids delivered (%d repeated)",
				engine, codes, len(acked), len(stored), len(runs), sent, repeated)
			return true, ""
		}
		return false, fmt.Sprintf("%d of %d acknowledged events missing, %d runs succeeded and %d webhook-ids delivered for %d events, readyz %d (err %v)",
			missing, len(acked), len(runs), sent, len(stored), ready(), err)
	})
}

// A node started before its engines can be reached waits for them (nodes
// and engines started together); a node whose engine answers with an
// error that waiting cannot fix (a database that does not exist) fails at
// once.
func TestStartWaitsForEngines(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	externalConfig(t, cfg)
	pgURL, err := url.Parse(cfg.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	natsURL, err := url.Parse(cfg.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	pg, nats := testenv.NewProxy(t, pgURL.Host), testenv.NewProxy(t, natsURL.Host)
	pg.Cut()
	nats.Cut()
	pgURL.Host, natsURL.Host = pg.Addr(), nats.Addr()
	cfg.PostgresURL, cfg.NATSURL = pgURL.String(), natsURL.String()
	cfg.Sources = []config.Source{{ID: "web", Kind: cdp.SourceTrack}}
	time.AfterFunc(1500*time.Millisecond, pg.Restore)
	time.AfterFunc(3*time.Second, nats.Restore)
	start := time.Now()
	a, err := Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open while the engines come up: %v", err)
	}
	defer a.Close()
	if waited := time.Since(start); waited < 3*time.Second {
		t.Fatalf("opened after %v, before NATS could be reached", waited)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/track", "application/json", strings.NewReader(`{"source":{"id":"web"},"events":[{"type":"up"}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track after the wait: %v %v", resp, err)
	}
	resp.Body.Close()

	bad := *cfg
	bad.DataDir = t.TempDir()
	pgURL.Path = "/no_such_database_" + strings.ReplaceAll(t.Name(), "/", "_")
	bad.PostgresURL = pgURL.String()
	start = time.Now()
	if _, err := Open(t.Context(), &bad, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("open on a missing database: %v", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("a missing database took %v to report", waited)
	}
}
