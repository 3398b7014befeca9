package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// waitRuns polls until the store holds n runs matching f.
func (s *stack) waitRuns(t *testing.T, f cdp.RunFilter, n int) []*cdp.Run {
	t.Helper()
	var runs []*cdp.Run
	testenv.Await(t, fmt.Sprintf("%d runs matching %+v", n, f), 10*time.Second, func() (bool, string) {
		var err error
		if runs, _, err = s.store.FindRuns(t.Context(), f); err == nil && len(runs) == n {
			return true, ""
		}
		all, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{})
		var saw strings.Builder
		for _, r := range all {
			fmt.Fprintf(&saw, "\nrun %s %s v%d %s %s", r.ID, r.WorkflowID, r.WorkflowVersion, r.Status, r.Error)
		}
		return false, saw.String()
	})
	return runs
}

const versionedWorkflow = `
id: notify
trigger: { source: web, types: [purchase] }
steps:
  - { id: later, wait: "duration('400ms')" }
  - id: send
    action: customerio.track_event
    destination: cio
    with: { identifier: "'u1'", name: "'%s'" }
`

// Workflows created through the API are versioned: a run finishes with
// the version it started with while newer ones are saved; a deletion
// starts no more runs; configured workflows are read-only; bad input gets
// 400/404/409/413 naming the problem.
func TestWorkflowsAPI(t *testing.T) {
	t.Parallel()
	standIn := &cioStandIn{}
	srv := standIn.serve(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: srv.URL,
			AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "configured", Trigger: workflow.Trigger{Types: []string{"never"}},
			Steps: []workflow.Step{{ID: "x", Stop: true}}}}
	})
	r := s.do(t, "POST", "/admin/v1/workflows", "application/yaml", strings.Replace(versionedWorkflow, "%s", "one", 1))
	wantStatus(t, r, 201)
	if m := r.json(t); m["version"] != 1.0 || m["origin"] != "api" || m["enabled"] != true || r.header.Get("ETag") != `"1"` ||
		r.header.Get("Location") != "/admin/v1/workflows/notify" {
		t.Fatalf("created %s %v", r.body, r.header)
	}
	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{strings.Replace(versionedWorkflow, "%s", "one", 1), 409, "already exists"},
		{`{"id":"configured","trigger":{},"steps":[{"id":"s","stop":true}]}`, 409, "already exists"},
		{`{"id":"b","trigger":{},"steps":[{"id":"s","action":"customerio.track_event","destination":"cio","with":{"identifier":"'u'","name":"event."}}]}`, 400, "steps[0].with.name: ERROR"},
		{`{"id":"b","trigger":{},"steps":[{"id":"s","action":"customerio.track_event","destination":"nope","with":{"identifier":"'u'","name":"'n'"}}]}`, 400, `steps[0].destination: no destination \"nope\"`},
		{`{"id":"b","trigger":{},"steps":[],"colour":"red"}`, 400, "colour"},
		{`{"id":"b",`, 400, "invalid workflow"},
		{``, 400, "must be a workflow"},
		{`{"id":"b","trigger":{},"steps":[{"id":"s","stop":true}],"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
	} {
		r := s.do(t, "POST", "/admin/v1/workflows", "application/json", c.body)
		wantStatus(t, r, c.status)
		if !strings.Contains(string(r.body), c.want) {
			t.Errorf("POST %.60s: %s lacks %q", c.body, r.body, c.want)
		}
	}
	r = s.do(t, "GET", "/admin/v1/workflows", "", "")
	wantStatus(t, r, 200)
	if list := r.json(t)["workflows"].([]any); len(list) != 2 || list[0].(map[string]any)["origin"] != "config" {
		t.Fatalf("list %s", r.body)
	}

	// A run of version 1 waits; version 2 is saved meanwhile.
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase"}]}`), 200)
	s.waitRuns(t, cdp.RunFilter{WorkflowID: "notify"}, 1)
	r = s.do(t, "PUT", "/admin/v1/workflows/notify", "application/yaml", strings.Replace(versionedWorkflow, "%s", "two", 1), "If-Match", `"1"`)
	wantStatus(t, r, 200)
	if r.json(t)["version"] != 2.0 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("updated %s", r.body)
	}
	wantStatus(t, s.do(t, "PUT", "/admin/v1/workflows/notify", "application/yaml", strings.Replace(versionedWorkflow, "%s", "three", 1), "If-Match", `"1"`), 409)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/workflows/other", "application/yaml", strings.Replace(versionedWorkflow, "%s", "x", 1)), 400)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/workflows/configured", "application/json", `{"trigger":{},"steps":[{"id":"s","stop":true}]}`), 403)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/workflows/missing", "application/json", `{"trigger":{},"steps":[{"id":"s","stop":true}]}`), 404)
	s.waitRuns(t, cdp.RunFilter{WorkflowID: "notify", Status: cdp.RunSucceeded}, 1)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase"}]}`), 200)
	runs := s.waitRuns(t, cdp.RunFilter{WorkflowID: "notify", Status: cdp.RunSucceeded}, 2)
	if runs[0].WorkflowVersion != 2 || runs[1].WorkflowVersion != 1 {
		t.Fatalf("run versions %d, %d", runs[0].WorkflowVersion, runs[1].WorkflowVersion)
	}
	standIn.mu.Lock()
	if len(standIn.requests) != 2 || standIn.requests[0]["name"] != "one" || standIn.requests[1]["name"] != "two" {
		t.Fatalf("sent %v", standIn.requests)
	}
	standIn.mu.Unlock()

	r = s.do(t, "GET", "/admin/v1/workflows/notify?version=1", "", "")
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), `"name":"'one'"`) || r.json(t)["version"] != 1.0 {
		t.Fatalf("version 1: %s", r.body)
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/workflows/notify?version=7", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/workflows/notify?version=x", "", ""), 400)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/workflows/configured", "", ""), 403)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/workflows/notify", "", ""), 204)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/workflows/notify", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/workflows/notify", "", ""), 404)
	r = s.do(t, "GET", "/admin/v1/workflows/notify/versions", "", "")
	wantStatus(t, r, 200)
	if v := r.json(t)["versions"].([]any); len(v) != 3 || v[2].(map[string]any)["deleted"] != true {
		t.Fatalf("versions %s", r.body)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase"}]}`), 200)
	s.settle(t) // runs are created in the transaction that stores their event
	if runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "notify"}); len(runs) != 2 {
		t.Fatalf("a deleted workflow started a run: %d runs", len(runs))
	}
	r = s.do(t, "POST", "/admin/v1/workflows", "application/yaml", strings.Replace(versionedWorkflow, "%s", "again", 1))
	wantStatus(t, r, 201)
	if r.json(t)["version"] != 4.0 {
		t.Fatalf("re-created %s", r.body)
	}
}

// A source created through the API forwards its events to a webhook
// destination; forward_to naming another kind is refused.
func TestForwardToOnAPISource(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got [][]byte
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	defer sink.Close()
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: sink.URL, SigningSecret: swSecret, AllowPrivateNetwork: true},
			{ID: "cio", Kind: "customerio", SiteID: "s", APIKey: "k"}}
	})
	r := s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"shop","kind":"track","forward_to":["cio"]}`)
	wantStatus(t, r, 400)
	if !strings.Contains(string(r.body), `forward_to[0]: steps[0].destination: \"cio\" is of kind customerio`) {
		t.Fatalf("refusal %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"shop","kind":"track","forward_to":["app"]}`), 201)
	r = s.do(t, "GET", "/admin/v1/workflows/forward-shop-app", "", "")
	wantStatus(t, r, 200)
	if r.json(t)["origin"] != "forward_to" {
		t.Fatalf("implied workflow %s", r.body)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"shop"},"events":[{"type":"purchase"}]}`), 200)
	testenv.Eventually(t, "the purchase forwarded", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(got, func(b []byte) bool { return strings.Contains(string(b), `"type":"purchase"`) })
	})
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/workflows/forward-shop-app", "", ""), 403)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/shop", "application/json", `{"id":"shop","kind":"track"}`), 200)
	wantStatus(t, s.do(t, "GET", "/admin/v1/workflows/forward-shop-app", "", ""), 404)
}
