package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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

// flaky is a loopback stand-in for a destination that answers 500 while
// down and 200 when up; it counts every request and the successful
// deliveries of each webhook-id (a run's step).
type flaky struct {
	url       string
	down      atomic.Bool
	requests  atomic.Int64
	mu        sync.Mutex
	delivered map[string]int
}

func newFlaky(t *testing.T) *flaky {
	f := &flaky{delivered: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		f.mu.Lock()
		f.delivered[r.Header.Get("Webhook-Id")]++
		f.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *flaky) deliveries() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.delivered {
		out[k] = v
	}
	return out
}

// breakerStack is a Switchyard with one webhook destination at the
// stand-in, opening after 3 failures with a 1 s cooldown, and a workflow
// sending every "order" event to it with retries enough to outlast an
// outage.
func breakerStack(t *testing.T, f *flaky) *stack {
	return newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: f.url, AllowPrivateNetwork: true,
			Retry:          &workflow.Retry{MaxAttempts: 100, Base: "50ms", Max: "200ms"},
			CircuitBreaker: &config.CircuitBreaker{Failures: 3, Cooldown: "1s", MaxCooldown: "2s"}}}
		c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app"}}}}
	})
}

func (s *stack) sendOrders(t *testing.T, n int, tag string) {
	t.Helper()
	var events []string
	for i := range n {
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":"%s-%d"}}`, tag, i))
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`), 200)
}

func (s *stack) destination(t *testing.T, id string) map[string]any {
	t.Helper()
	r := s.do(t, "GET", "/admin/v1/destinations/"+id, "", "")
	wantStatus(t, r, 200)
	return r.json(t)
}

// A destination answering 500 opens after 3 failures; the runs then wait
// on it (status waiting, "destination app paused") instead of spending
// their attempts; the probe after the cooldown closes it once the
// stand-in recovers, and every waiting run completes, each delivered
// exactly once.
func TestBreakerHoldsRunsUntilTheDestinationRecovers(t *testing.T) {
	f := newFlaky(t)
	f.down.Store(true)
	s := breakerStack(t, f)
	s.sendOrders(t, 20, "a")
	testenv.Eventually(t, "the breaker to open", 10*time.Second, func() bool { return s.destination(t, "app")["state"] == "open" })
	waiting := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunWaiting, WaitingOn: "app"}, 20)
	if !strings.HasPrefix(waiting[0].Steps[0].Error, "destination app paused") {
		t.Fatalf("a waiting run's step says %q", waiting[0].Steps[0].Error)
	}
	d := s.destination(t, "app")
	if d["runs_waiting"] != 20.0 || !strings.Contains(d["reason"].(string), "consecutive failures") {
		t.Fatalf("destination while open: %v", d)
	}
	// While it is open only probes reach the stand-in: one per cooldown
	// (1 s, then 2 s).
	before := f.requests.Load()
	time.Sleep(2500 * time.Millisecond)
	if probes := f.requests.Load() - before; probes > 2 {
		t.Fatalf("%d requests reached the destination in 2.5 s while it was open", probes)
	}
	spent := f.requests.Load()

	f.down.Store(false)
	testenv.Eventually(t, "every run to succeed", 15*time.Second, func() bool {
		runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{Status: cdp.RunSucceeded})
		return len(runs) == 20
	})
	delivered := f.deliveries()
	if len(delivered) != 20 {
		t.Fatalf("%d distinct deliveries, want 20", len(delivered))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
	if d := s.destination(t, "app"); d["state"] != "closed" || d["runs_waiting"] != 0.0 {
		t.Fatalf("after recovery: %v", d)
	}
	t.Logf("%d requests reached the destination while it was down for 20 runs (without a breaker each run would retry every 50-200 ms)", spent)
}

// A paused destination holds every run without an attempt until resumed;
// resuming releases them all.
func TestPauseAndResumeDestination(t *testing.T) {
	f := newFlaky(t)
	s := breakerStack(t, f)
	r := s.do(t, "POST", "/admin/v1/destinations/app/pause", "", "")
	wantStatus(t, r, 200)
	if r.json(t)["state"] != "paused" {
		t.Fatalf("pause answered %s", r.body)
	}
	s.sendOrders(t, 5, "p")
	runs := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunWaiting, WaitingOn: "app"}, 5)
	if !strings.Contains(runs[0].Steps[0].Error, "paused by an operator") {
		t.Fatalf("a held run says %q", runs[0].Steps[0].Error)
	}
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached a paused destination", n)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/destinations/app/resume", "", ""), 200)
	testenv.Eventually(t, "the held runs to be delivered", 10*time.Second, func() bool { return len(f.deliveries()) == 5 })
	for _, path := range []string{"/admin/v1/destinations/nope", "/admin/v1/destinations/nope/pause"} {
		method := "GET"
		if strings.HasSuffix(path, "pause") {
			method = "POST"
		}
		wantStatus(t, s.do(t, method, path, "", ""), 404)
	}
}

// The probe an open breaker lets through costs its run none of its
// retries: three runs with a budget of 2 attempts spend one each opening
// the breaker (their retries wait a second, the breaker opens at once);
// while the destination stays down they carry on waiting through failed
// probes instead of landing in the dead letter, each probe is marked in
// the run log, and all are delivered once it recovers.
func TestFailedProbesSpendNoRetries(t *testing.T) {
	f := newFlaky(t)
	f.down.Store(true)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: f.url, AllowPrivateNetwork: true,
			Retry:          &workflow.Retry{MaxAttempts: 2, Base: "1s", Max: "1s"},
			CircuitBreaker: &config.CircuitBreaker{Failures: 3, Cooldown: "1s", MaxCooldown: "1s"}}}
		c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app"}}}}
	})
	s.sendOrders(t, 3, "p")
	probes := func() int {
		runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "ship"})
		n := 0
		for _, r := range runs {
			for _, st := range r.Steps {
				for _, a := range st.Attempts {
					if a.Probe {
						n++
					}
				}
			}
		}
		return n
	}
	testenv.Eventually(t, "three failed probes", 15*time.Second, func() bool { return probes() >= 3 })
	if failed, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{Status: cdp.RunFailed}); len(failed) != 0 {
		t.Fatalf("%d runs in the dead letter after failed probes: %+v", len(failed), failed[0].Steps)
	}
	f.down.Store(false)
	testenv.Eventually(t, "every run to succeed", 15*time.Second, func() bool {
		runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{Status: cdp.RunSucceeded})
		return len(runs) == 3
	})
	for id, n := range f.deliveries() {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}
