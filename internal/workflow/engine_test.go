package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
)

// engineFixture is an engine over a real SQLite store, a fake clock, and a
// stand-in Customer.io that fails as told.
type engineFixture struct {
	engine *Engine
	store  cdp.Store
	clock  time.Time
	mu     sync.Mutex
	fails  []int // statuses to answer before succeeding
	bodies []map[string]any
	gate   func(*http.Request) // if set, called before answering
}

func newEngineFixture(t *testing.T, doc string, mutate ...func(*cdp.Event)) *engineFixture {
	t.Helper()
	f := &engineFixture{clock: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.gate != nil {
			f.gate(r)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f.bodies = append(f.bodies, m)
		if len(f.fails) > 0 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(f.fails[0])
			f.fails = f.fails[1:]
			w.Write([]byte(`{"meta":{"error":"'from' address domain has not been verified"}}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "s.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store = store
	wf, problems := Compile(parse(t, doc), References{Actions: testActions, Destinations: map[string]string{"cio": "customerio"}})
	if problems != nil {
		t.Fatal(problems)
	}
	dest := &Destination{ID: "cio", Kind: "customerio", AllowPrivateNetwork: true,
		Settings: map[string]string{"site_id": "s", "api_key": "k", "track_url": srv.URL}}
	f.engine = &Engine{Store: store, Actions: testActions, Client: httpclient.New(nil), Log: slog.New(slog.DiscardHandler),
		Workflow: func(_ context.Context, id string, _ int) (*Compiled, error) {
			if id != wf.ID {
				return nil, cdp.Errorf(cdp.ENOTFOUND, "no workflow %s", id)
			}
			return wf, nil
		},
		Destination:  func(id string) (*Destination, bool) { return dest, id == "cio" },
		Now:          func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.clock },
		DefaultRetry: httpclient.Policy{MaxAttempts: 5, Base: time.Second, Max: time.Minute}}
	ev := &cdp.Event{ID: "ev1", SourceID: "cio-reports", Type: "email_delivered", Timestamp: f.clock, ReceivedAt: f.clock,
		Properties: json.RawMessage(`{"recipient":"a@example.com","subject":"Hi"}`), Context: json.RawMessage(`{}`)}
	for _, m := range mutate {
		m(ev)
	}
	if err := store.Update(t.Context(), func(tx cdp.Tx) error {
		if ev.ProfileID != "" {
			p := cdp.NewProfile(ev.ProfileID, f.clock)
			p.Traits["emails"] = 2.0
			p.Traits["bounced"] = true
			if _, err := tx.InsertProfile(t.Context(), p); err != nil {
				return err
			}
		}
		if _, err := tx.InsertEvent(t.Context(), ev); err != nil {
			return err
		}
		_, err := tx.InsertRun(t.Context(), &cdp.Run{ID: "run1", WorkflowID: wf.ID, WorkflowVersion: 1, EventID: "ev1",
			Status: cdp.RunPending, CreatedAt: f.clock, UpdatedAt: f.clock})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// advance advances the run and moves the clock past the wait it asks for.
func (f *engineFixture) advance(t *testing.T) time.Duration {
	t.Helper()
	d, err := f.engine.Advance(context.Background(), "run1")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.clock = f.clock.Add(d)
	f.mu.Unlock()
	return d
}

func (f *engineFixture) run(t *testing.T) *cdp.Run {
	t.Helper()
	r, err := f.store.FindRunByID(context.Background(), "run1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const flow = `
id: welcome
trigger: { types: [email_delivered] }
steps:
  - id: known
    filter: "event.properties.recipient.endsWith('@example.com')"
  - id: notify
    action: customerio.track_event
    destination: cio
    with: { identifier: "'u1'", name: "'email_seen'", data: "{'subject': event.properties.subject}" }
  - id: later
    wait: "duration('1h')"
  - id: pick
    branch:
      if: "steps.notify.output.success"
      then: [ { id: again, action: customerio.identify, destination: cio, with: { identifier: "'u1'", attributes: "{'seen': true}" } } ]
`

// 500 twice then 200: success on attempt 3; the wait and the branch
// follow; no step is repeated.
func TestEngineRetriesThenSucceeds(t *testing.T) {
	f := newEngineFixture(t, flow)
	f.fails = []int{500, 500}
	if d := f.advance(t); d < 2*time.Second { // Retry-After: 2 is a floor
		t.Fatalf("first delay %v", d)
	}
	if r := f.run(t); r.Status != cdp.RunWaiting || len(r.Steps[1].Attempts) != 1 || r.Steps[1].Attempts[0].Response.Status != 500 {
		t.Fatalf("after attempt 1: %+v", r)
	}
	f.advance(t)
	if d := f.advance(t); d != time.Hour { // attempt 3 succeeds; the wait starts
		t.Fatalf("wait %v", d)
	}
	if d := f.advance(t); d != 0 {
		t.Fatalf("after the wait: %v", d)
	}
	r := f.run(t)
	if r.Status != cdp.RunSucceeded || len(r.Steps) != 5 || len(r.Steps[1].Attempts) != 3 {
		t.Fatalf("final run: %+v", r)
	}
	if len(f.bodies) != 4 || f.bodies[0]["id"] != "run1:notify" || f.bodies[2]["id"] != "run1:notify" ||
		f.bodies[3]["seen"] != true || f.bodies[0]["data"].(map[string]any)["subject"] != "Hi" {
		t.Fatalf("requests: %v", f.bodies)
	}
	// Advancing a finished run does nothing.
	if d := f.advance(t); d != 0 || len(f.bodies) != 4 {
		t.Fatal("a finished run acted again")
	}
}

// 400: no retry, the run fails at that step.
func TestEnginePermanentFailure(t *testing.T) {
	f := newEngineFixture(t, flow)
	var logs bytes.Buffer
	f.engine.Log = slog.New(slog.NewTextHandler(&logs, nil))
	f.fails = []int{400}
	if d := f.advance(t); d != 0 {
		t.Fatalf("delay %v", d)
	}
	r := f.run(t)
	if r.Status != cdp.RunFailed || r.Steps[1].Status != cdp.RunFailed || len(f.bodies) != 1 ||
		r.Error != "notify: the destination answered 400: 'from' address domain has not been verified" {
		t.Fatalf("run %+v", r)
	}
	// One WARN line says so, with what an operator needs to find it.
	line := logs.String()
	if strings.Count(line, "level=WARN") != 1 || !strings.Contains(line, "dead letter") || !strings.Contains(line, "workflow="+r.WorkflowID) ||
		!strings.Contains(line, "run="+r.ID) || !strings.Contains(line, "step=notify") || !strings.Contains(line, "answered 400") {
		t.Errorf("log: %q", line)
	}
}

// Always 500: failed after 5 attempts.
func TestEngineGivesUp(t *testing.T) {
	f := newEngineFixture(t, flow)
	f.fails = []int{500, 500, 500, 500, 500, 500}
	for range 6 {
		f.advance(t)
	}
	if r := f.run(t); r.Status != cdp.RunFailed || len(r.Steps[1].Attempts) != 5 || len(f.bodies) != 5 {
		t.Fatalf("run %+v, %d requests", r, len(f.bodies))
	}
}

// A filter that is false ends the run as skipped, before any action.
func TestEngineFilterSkips(t *testing.T) {
	f := newEngineFixture(t, `
id: welcome
steps:
  - id: known
    filter: "event.properties.recipient.endsWith('@other.com')"
  - id: notify
    action: customerio.delete_person
    destination: cio
    with: { identifier: "'u1'" }
`)
	f.advance(t)
	if r := f.run(t); r.Status != cdp.RunSkipped || len(f.bodies) != 0 {
		t.Fatalf("run %+v", r)
	}
}

// A run committed but never queued (a crash in between) is queued by the
// sweep once it is old enough.
func TestSweepQueuesPendingRuns(t *testing.T) {
	f := newEngineFixture(t, flow)
	q, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Stream: "RUNS", Subject: "sy.runs",
		AckWait: time.Second, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n, err := Sweep(t.Context(), f.store, q, time.Minute, f.clock); err != nil || n != 0 {
		t.Fatalf("a young pending run was queued: %d %v", n, err)
	}
	if n, err := Sweep(t.Context(), f.store, q, time.Minute, f.clock.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	got := make(chan string, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	go q.Consume(ctx, Group, func(_ context.Context, b []cdp.Delivery) {
		for _, d := range b {
			_ = d.Ack()
			got <- string(d.Data())
		}
	})
	select {
	case id := <-got:
		if id != "run1" {
			t.Fatalf("queued %q", id)
		}
	case <-ctx.Done():
		t.Fatal("nothing queued")
	}
}

// foreach runs its body per item (recorded per index); profile.update
// changes the profile once.
func TestEngineForeachAndProfileUpdate(t *testing.T) {
	f := newEngineFixture(t, `
id: welcome
steps:
  - id: each
    foreach:
      items: "event.properties.recipients"
      steps: [ { id: tell, action: customerio.identify, destination: cio, with: { identifier: "item.device_id", attributes: "{'n': item.n}" } } ]
  - id: count
    profile.update: { set: { last: "event.properties.subject" }, increment: { emails: "1" }, unset: [bounced] }
`, func(e *cdp.Event) {
		e.ProfileID = "p1"
		e.Properties = json.RawMessage(`{"subject":"Hi","recipients":[{"device_id":"d1","n":1},{"device_id":"d2","n":2}]}`)
	})
	f.fails = []int{500} // the first item's first attempt
	for range 3 {
		f.advance(t)
	}
	r := f.run(t)
	if r.Status != cdp.RunSucceeded || len(f.bodies) != 3 || f.bodies[2]["n"] != 2.0 {
		t.Fatalf("run %+v; requests %v", r, f.bodies)
	}
	ids := []string{}
	for _, s := range r.Steps {
		ids = append(ids, s.ID+"="+s.Status)
	}
	if got := strings.Join(ids, " "); got != "each=succeeded tell[0]=succeeded tell[1]=succeeded count=succeeded" {
		t.Fatalf("steps %s", got)
	}
	p, err := f.store.FindProfileByID(context.Background(), "p1")
	if err != nil || p.Traits["last"] != "Hi" || p.Traits["emails"] != 3.0 || p.Traits["bounced"] != nil {
		t.Fatalf("profile %+v, %v", p, err)
	}
	f.advance(t) // a finished run changes nothing more
	if p, _ := f.store.FindProfileByID(context.Background(), "p1"); p.Traits["emails"] != 3.0 {
		t.Fatalf("incremented twice: %v", p.Traits)
	}
}

// A parallel foreach keeps up to `parallel` requests in flight; an item
// that must retry does not hold up the others, and the run then waits
// for it alone.
func TestEngineParallelForeach(t *testing.T) {
	f := newEngineFixture(t, `
id: welcome
steps:
  - id: each
    foreach:
      items: "event.properties.ids"
      parallel: 3
      steps: [ { id: tell, action: customerio.identify, destination: cio, with: { identifier: "item" } } ]
`, func(e *cdp.Event) { e.Properties = json.RawMessage(`{"ids":["a","b","c","d","e","f","g"]}`) })
	var mu sync.Mutex
	inflight, most := 0, 0
	f.gate = func(*http.Request) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			full := inflight >= 3
			mu.Unlock()
			if full {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		inflight--
		mu.Unlock()
	}
	f.fails = []int{503} // whichever item comes first
	if d := f.advance(t); d <= 0 {
		t.Fatalf("the run did not wait for its failed item (%v)", d)
	}
	if r := f.run(t); r.Status != cdp.RunWaiting || len(f.bodies) != 7 {
		t.Fatalf("after the first pass: %s with %d requests", r.Status, len(f.bodies))
	}
	f.advance(t)
	r := f.run(t)
	if r.Status != cdp.RunSucceeded || len(f.bodies) != 8 || most != 3 {
		t.Fatalf("run %s, %d requests, at most %d at once (want 3)", r.Status, len(f.bodies), most)
	}
	retried := 0
	for _, s := range r.Steps {
		if strings.HasPrefix(s.ID, "tell[") {
			if s.Status != cdp.RunSucceeded {
				t.Errorf("%s is %s", s.ID, s.Status)
			}
			if len(s.Attempts) == 2 {
				retried++
			}
		}
	}
	if retried != 1 {
		t.Fatalf("%d items retried", retried)
	}
}
