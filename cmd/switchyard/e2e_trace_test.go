package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// jaegerSpan is a span as Jaeger's query API returns it.
type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []jaegerTag `json:"tags"`
	Logs []struct {
		Fields []jaegerTag `json:"fields"`
	} `json:"logs"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// logged reports whether the span has an event whose fields hold want.
func (s jaegerSpan) logged(want map[string]any) bool {
	for _, l := range s.Logs {
		n := 0
		for _, f := range l.Fields {
			if v, ok := want[f.Key]; ok && v == f.Value {
				n++
			}
		}
		if n == len(want) {
			return true
		}
	}
	return false
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(key string) any {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return nil
}

// A traced request's event goes through a workflow to a stand-in: the
// stand-in receives the caller's trace id, and Jaeger holds one tree from
// the request to the outbound attempt: POST /track → eventlog append →
// store → run → step → POST to the destination.
func TestTraceToCollector(t *testing.T) {
	otlpURL, queryURL := testenv.Jaeger(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // export spans within 0.1 s
	received := make(chan string, 10)
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusBadRequest) // a permanent failure: the run fails and says so in the log
			return
		}
		received <- r.Header.Get("Traceparent")
	}))
	defer standIn.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
tracing: { enabled: true, endpoint: %q, sampling_ratio: 0 }
sources:
  - { id: web, kind: track }
destinations:
  - { id: app, kind: webhook, url: %q, allow_private_network: true }
  - { id: refuser, kind: webhook, url: %q, allow_private_network: true }
workflows:
  - id: note
    trigger: { types: [purchase], if: "event.properties.total > 10.0" }
    steps: [ { id: tell, action: webhook.send, destination: app } ]
  - id: doomed
    trigger: { types: [purchase] }
    steps: [ { id: try, action: webhook.send, destination: refuser } ]
`, otlpURL, standIn.URL+"/in", standIn.URL+"/refuse"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, filepath.Join(dir, "data"), "--config", cfg, "--log-format", "json")

	// The caller samples its trace; the node's own ratio (0) would not.
	traceID := strings.ReplaceAll(cdp.NewID(), "-", "")
	req, _ := http.NewRequest("POST", p.url+"/track", strings.NewReader(
		`{"source":{"id":"web"},"session":{"id":"s1"},"events":[{"type":"purchase","properties":{"total":42}}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("track: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case tp := <-received:
		if !strings.HasPrefix(tp, "00-"+traceID+"-") {
			t.Fatalf("the destination received traceparent %q, not one of trace %s", tp, traceID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the workflow did not deliver")
	}

	want := []string{"POST /track", "eventlog append", "store", "run note", "step tell", "POST app"}
	var spans map[string]jaegerSpan
	testenv.Eventually(t, "Jaeger holds the trace from the request to the attempt", 30*time.Second, func() bool {
		spans = traceSpans(t, queryURL, traceID)
		for _, name := range want {
			if _, ok := spans[name]; !ok {
				return false
			}
		}
		return true
	})
	if got := spans[want[0]].parent(); got != "b7ad6b7169203331" {
		t.Errorf("%s: parent %q, want the caller's span", want[0], got)
	}
	for i := 1; i < len(want); i++ {
		if got, parent := spans[want[i]].parent(), spans[want[i-1]].SpanID; got != parent {
			t.Errorf("%s: parent %q, want %s's %s", want[i], got, want[i-1], parent)
		}
	}
	checks := map[string]map[string]any{
		"POST /track":     {"switchyard.source": "web", "http.response.status_code": float64(200)},
		"run note":        {"switchyard.workflow": "note", "switchyard.run_status": "succeeded"},
		"step tell":       {"switchyard.step_status": "succeeded"},
		"POST app":        {"switchyard.destination": "app", "http.response.status_code": float64(200), "switchyard.attempt": float64(1), "switchyard.breaker": "closed"},
		"eventlog append": {"switchyard.source": "web"},
	}
	// The failed run's log line (JSON) names the trace and the span.
	testenv.Eventually(t, "the failed run is logged in its trace", 10*time.Second, func() bool {
		for _, line := range strings.Split(p.logs(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(fmt.Sprint(rec["msg"]), "run failed") &&
				rec["trace_id"] == traceID && rec["span_id"] != nil && rec["workflow"] == "doomed" {
				return true
			}
		}
		return false
	})

	// The run names its trace, in the management API and the console.
	var runs struct {
		Runs []cdp.Run `json:"runs"`
	}
	if err := json.Unmarshal(get(t, p.url+"/admin/v1/runs?workflow=note", ""), &runs); err != nil || len(runs.Runs) != 1 ||
		!strings.HasPrefix(runs.Runs[0].TraceParent, "00-"+traceID+"-") {
		t.Fatalf("runs: %+v, %v", runs, err)
	}
	if page := get(t, p.url+"/console/runs/"+runs.Runs[0].ID, ""); !strings.Contains(string(page), `<code id="run-trace">`+traceID+`</code>`) {
		t.Errorf("the console's run page does not show trace %s", traceID)
	}
	// The trigger is on the store span: the runs the event started.
	for _, wf := range []string{"note", "doomed"} {
		if !spans["store"].logged(map[string]any{"event": "workflow run started", "switchyard.workflow": wf}) {
			t.Errorf("the store span does not record that the event started %s: %+v", wf, spans["store"].Logs)
		}
	}
	// The purchase and the events the tracker's first visit adds.
	if n, ok := spans["POST /track"].tag("switchyard.events").(float64); !ok || n < 1 {
		t.Errorf("POST /track: switchyard.events = %v", spans["POST /track"].tag("switchyard.events"))
	}
	for name, tags := range checks {
		for k, v := range tags {
			if got := spans[name].tag(k); got != v {
				t.Errorf("%s: %s = %v (%T), want %v", name, k, got, got, v)
			}
		}
	}
}

// traceSpans reads a trace from Jaeger's query API, by operation name.
func traceSpans(t *testing.T, queryURL, traceID string) map[string]jaegerSpan {
	resp, err := http.Get(queryURL + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			Spans []jaegerSpan `json:"spans"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Data) == 0 {
		return nil
	}
	out := map[string]jaegerSpan{}
	for _, s := range body.Data[0].Spans {
		out[s.OperationName] = s
	}
	return out
}
