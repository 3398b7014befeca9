package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// cioStandIn stands in for Customer.io's Track API: it records what it
// receives and fails the first requests as told.
type cioStandIn struct {
	mu       sync.Mutex
	fails    []int
	requests []map[string]any
	paths    []string
	// failEvents answers 500 to every event while set.
	failEvents bool
}

func (c *cioStandIn) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		user, pass, ok := r.BasicAuth()
		if !ok || user != "site" || pass != "key" {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		c.requests, c.paths = append(c.requests, m), append(c.paths, r.Method+" "+r.URL.EscapedPath())
		if len(c.fails) > 0 {
			w.WriteHeader(c.fails[0])
			c.fails = c.fails[1:]
			return
		}
		if c.failEvents && strings.HasSuffix(r.URL.Path, "/events") {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// seen returns the requests' methods and paths so far.
func (c *cioStandIn) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

func (c *cioStandIn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// A Customer.io report triggers a workflow whose action reaches the
// stand-in: 500 twice, then 200 on attempt 3; the run records every attempt.
func TestWorkflowRunsFromAWebhook(t *testing.T) {
	t.Parallel()
	standIn := &cioStandIn{fails: []int{500, 500}}
	srv := standIn.serve(t)
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey})
		c.Destinations = []config.Destination{{ID: "cio-dest", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: srv.URL,
			AllowPrivateNetwork: true, Retry: &workflow.Retry{Base: "20ms", Max: "100ms"}}}
		c.Workflows = []workflow.Workflow{{ID: "seen", Trigger: workflow.Trigger{Source: "cio", Types: []string{"email_*"},
			If: "event.properties.recipient.endsWith('@example.com')"},
			Steps: []workflow.Step{{ID: "notify", Action: "customerio.track_event", Destination: "cio-dest",
				With: map[string]any{"identifier": "event.user_id", "name": "'email_seen'", "data": "{'subject': event.properties.subject}"}}}}}
	})
	wantStatus(t, s.postCIO(t, "cio", "", `{"event_id":"E1","object_type":"email","metric":"delivered","data":{"identifiers":{"id":"u 1"},"recipient":"a@example.com","subject":"Hi"}}`), 200)
	wantStatus(t, s.postCIO(t, "cio", "", `{"event_id":"E2","object_type":"email","metric":"delivered","data":{"identifiers":{"id":"u2"},"recipient":"b@other.com"}}`), 200)
	var run *cdp.Run
	testenv.Await(t, "the run to succeed", 10*time.Second, func() (bool, string) {
		runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "seen"})
		if len(runs) > 0 {
			run = runs[0]
		}
		return run != nil && run.Status == cdp.RunSucceeded, fmt.Sprintf("run %+v; stand-in saw %v", run, standIn.seen())
	})
	if runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{}); len(runs) != 1 {
		t.Fatalf("%d runs; the condition should have started one", len(runs))
	}
	attempts := run.Steps[0].Attempts
	if len(attempts) != 3 || attempts[0].Response.Status != 500 || attempts[2].Response.Status != 200 || standIn.count() != 3 {
		t.Fatalf("attempts %+v", attempts)
	}
	standIn.mu.Lock()
	defer standIn.mu.Unlock()
	if standIn.paths[2] != "POST /api/v1/customers/u%201/events" || standIn.requests[2]["name"] != "email_seen" ||
		standIn.requests[2]["id"] != run.ID+":notify" || standIn.requests[0]["id"] != standIn.requests[2]["id"] ||
		standIn.requests[2]["data"].(map[string]any)["subject"] != "Hi" {
		t.Fatalf("requests %v %v", standIn.paths, standIn.requests)
	}
	if attempts[0].Request.Headers["Authorization"][0] != "[redacted]" {
		t.Errorf("credentials in the run log: %v", attempts[0].Request.Headers)
	}
	metrics := string(s.do(t, "GET", "/metrics", "", "").body)
	for _, want := range []string{`switchyard_workflow_runs_total{outcome="succeeded",workflow="seen"} 1`,
		`switchyard_action_attempts_total{destination="cio-dest",outcome="retryable"} 2`,
		`switchyard_action_attempts_total{destination="cio-dest",outcome="succeeded"} 1`, "switchyard_action_latency_seconds_count 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A run that exhausts its attempts is failed (the dead letter); the bulk
// retry first counts, then retries; a retry after the stand-in recovers
// succeeds without repeating the steps that succeeded.
func TestWorkflowRetryThroughTheAPI(t *testing.T) {
	t.Parallel()
	standIn := &cioStandIn{failEvents: true}
	srv := standIn.serve(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: srv.URL,
			AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "fwd", Trigger: workflow.Trigger{Source: "web", Types: []string{"purchase"}},
			Steps: []workflow.Step{
				{ID: "first", Action: "customerio.identify", Destination: "cio", With: map[string]any{"identifier": "'u1'"}},
				{ID: "second", Action: "customerio.track_event", Destination: "cio", With: map[string]any{"identifier": "'u1'", "name": "event.type"},
					Retry: &workflow.Retry{MaxAttempts: 3, Base: "10ms", Max: "20ms"}}}}}
	})
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase"}]}`), 200)
	waitRun := func(status string) *cdp.Run {
		t.Helper()
		var run *cdp.Run
		testenv.Await(t, "a "+status+" run", 10*time.Second, func() (bool, string) {
			runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "fwd"})
			if len(runs) == 1 && runs[0].Status == status {
				run = runs[0]
				return true, ""
			}
			return false, fmt.Sprintf("%+v", runs)
		})
		return run
	}
	run := waitRun(cdp.RunFailed)
	if run.Steps[0].Status != cdp.RunSucceeded || run.Steps[1].Status != cdp.RunFailed || len(run.Steps[1].Attempts) != 3 {
		t.Fatalf("failed run %+v", run)
	}
	// The dead letter shows in the metrics (refreshed every 2 s).
	testenv.Await(t, "the run gauges", 5*time.Second, func() (bool, string) {
		m := string(s.do(t, "GET", "/metrics", "", "").body)
		return strings.Contains(m, `switchyard_workflow_runs{status="failed"} 1`) && strings.Contains(m, "switchyard_run_oldest_pending_seconds 0"), m
	})
	r := s.do(t, "GET", "/admin/v1/runs?status=failed&workflow=fwd", "", "")
	wantStatus(t, r, 200)
	if runs := r.json(t)["runs"].([]any); len(runs) != 1 {
		t.Fatalf("listed %v", runs)
	}
	r = s.do(t, "POST", "/admin/v1/runs/retry?workflow=fwd", "", "")
	wantStatus(t, r, 200)
	if r.json(t)["matched"] != 1.0 || r.json(t)["retried"] != nil {
		t.Fatalf("dry run: %s", r.body)
	}
	standIn.mu.Lock()
	standIn.failEvents = false // the destination recovers
	standIn.mu.Unlock()
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/"+run.ID+"/retry", "", ""), 202)
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/"+run.ID+"/retry", "", ""), 409) // not failed any more
	run = waitRun(cdp.RunSucceeded)
	standIn.mu.Lock()
	defer standIn.mu.Unlock()
	if len(standIn.requests) != 5 || standIn.paths[0] != "PUT /api/v1/customers/u1" || len(run.Steps[1].Attempts) != 4 {
		t.Fatalf("requests %v; run %+v", standIn.paths, run)
	}
	r = s.do(t, "GET", "/admin/v1/runs/"+run.ID, "", "")
	wantStatus(t, r, 200)
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs/nope", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/runs?limit=0", "", ""), 400)
}

// A CEL error in one workflow (its condition, or a step's input) never
// affects another triggered by the same event.
func TestWorkflowExpressionErrorsAreIsolated(t *testing.T) {
	t.Parallel()
	standIn := &cioStandIn{}
	srv := standIn.serve(t)
	step := func(name string) []workflow.Step {
		return []workflow.Step{{ID: "s", Action: "customerio.track_event", Destination: "cio",
			With: map[string]any{"identifier": "'u1'", "name": name}}}
	}
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: srv.URL,
			AllowPrivateNetwork: true}}
		trigger := workflow.Trigger{Source: "web", Types: []string{"purchase"}}
		bad := trigger
		bad.If = "event.properties.missing.deeper == 1"
		c.Workflows = []workflow.Workflow{
			{ID: "bad-condition", Trigger: bad, Steps: step("'x'")},
			{ID: "bad-input", Trigger: trigger, Steps: step("event.properties.nope")},
			{ID: "good", Trigger: trigger, Steps: step("'good'")},
		}
	})
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase","properties":{"a":1}}]}`), 200)
	testenv.Await(t, "the good run to succeed and the bad input's to fail", 10*time.Second, func() (bool, string) {
		good, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "good", Status: cdp.RunSucceeded})
		bad, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "bad-input", Status: cdp.RunFailed})
		if len(good) == 1 && len(bad) == 1 {
			if !strings.Contains(bad[0].Error, "with.name") {
				t.Errorf("failed run's error: %q", bad[0].Error)
			}
			return true, ""
		}
		all, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{})
		return false, fmt.Sprintf("runs %+v", all)
	})
	if runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "bad-condition"}); len(runs) != 0 {
		t.Fatalf("a failing condition started %d runs", len(runs))
	}
	if standIn.count() != 1 {
		t.Fatalf("stand-in saw %d requests", standIn.count())
	}
}

// forward_to sends every event of a source to a webhook destination,
// signed with Standard Webhooks, the webhook-id being the run step's key.
func TestForwardTo(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	defer sink.Close()
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey,
			ForwardTo: []string{"app"}})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: sink.URL + "/in", SigningSecret: swSecret,
			AllowPrivateNetwork: true}}
	})
	wantStatus(t, s.postCIO(t, "cio", "", `{"event_id":"F1","object_type":"email","metric":"opened","data":{"identifiers":{"id":"u1"}}}`), 200)
	testenv.Eventually(t, "the event forwarded", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if err := hooks.VerifyStandard(swSecret, hooks.DefaultTolerance, got[0].Header, bodies[0], time.Now()); err != nil {
		t.Fatalf("forwarded signature: %v", err)
	}
	var e map[string]any
	json.Unmarshal(bodies[0], &e)
	if e["type"] != "email_opened" || e["source_id"] != "cio" || !strings.HasSuffix(got[0].Header.Get("Webhook-Id"), ":forward") {
		t.Fatalf("forwarded %s with %v", bodies[0], got[0].Header)
	}
}
