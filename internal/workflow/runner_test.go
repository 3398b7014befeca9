package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// A run stuck on a slow destination holds up no other run: the runner
// takes the next runs from the queue while the first one waits.
func TestRunnerSlowRunDoesNotBlockOthers(t *testing.T) {
	const oneStep = `
id: notify
trigger: { types: [email_delivered] }
steps:
  - { id: send, action: customerio.track_event, destination: cio, with: { identifier: "event.properties.recipient", name: "'seen'" } }
`
	f := newEngineFixture(t, oneStep)
	stuck, release := make(chan struct{}), make(chan struct{})
	f.gate = func(r *http.Request) {
		if strings.Contains(r.URL.Path, "a@example.com") {
			close(stuck)
			<-release
		}
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	var others []*cdp.Run
	if err := f.store.Update(t.Context(), func(tx cdp.Tx) error {
		for i := range 4 {
			ev := &cdp.Event{ID: fmt.Sprintf("ev-other%d", i), SourceID: "cio-reports", Type: "email_delivered", Timestamp: f.clock,
				ReceivedAt: f.clock, Properties: json.RawMessage(fmt.Sprintf(`{"recipient":"b%d@example.com"}`, i)), Context: json.RawMessage(`{}`)}
			if _, err := tx.InsertEvent(t.Context(), ev); err != nil {
				return err
			}
			r := &cdp.Run{ID: fmt.Sprintf("other%d", i), WorkflowID: "notify", WorkflowVersion: 1, EventID: ev.ID,
				Status: cdp.RunPending, CreatedAt: f.clock, UpdatedAt: f.clock}
			if _, err := tx.InsertRun(t.Context(), r); err != nil {
				return err
			}
			others = append(others, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	q, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Stream: "RUNS", Subject: "sy.runs",
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithCancel(t.Context())
	runner := &Runner{Engine: f.engine, Queue: q, Log: slog.New(slog.DiscardHandler), Heartbeat: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if err := Enqueue(t.Context(), q, []*cdp.Run{{ID: "run1", WorkflowID: "notify"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("the first run never reached its destination")
	}
	if err := Enqueue(t.Context(), q, others); err != nil {
		t.Fatal(err)
	}
	status := func(id string) string {
		r, err := f.store.FindRunByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	testenv.Await(t, "the other runs to finish while one waits on its destination", 10*time.Second, func() (bool, string) {
		n := 0
		for _, r := range others {
			if status(r.ID) == cdp.RunSucceeded {
				n++
			}
		}
		return n == len(others), fmt.Sprintf("%d of %d finished", n, len(others))
	})
	if s := status("run1"); s == cdp.RunSucceeded {
		t.Fatal("the stuck run finished before its destination answered")
	}
	close(release)
	testenv.Eventually(t, "the released run to succeed", 10*time.Second, func() bool { return status("run1") == cdp.RunSucceeded })
}

// Two nodes handed the same run at once: one advances it under its
// lease, the other is told to come back later and sends nothing.
func TestLeaseKeepsOneNodePerRun(t *testing.T) {
	f := newEngineFixture(t, `
id: welcome
trigger: { types: [email_delivered] }
steps: [ { id: send, action: customerio.track_event, destination: cio, with: { identifier: "'u1'", name: "'seen'" } } ]
`)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.gate = func(*http.Request) { once.Do(func() { close(entered) }); <-release }
	node := func(name string) *Engine {
		e := f.engine
		return &Engine{Store: e.Store, Actions: e.Actions, Client: e.Client, Workflow: e.Workflow, Destination: e.Destination, Now: e.Now, Log: e.Log,
			DefaultRetry: e.DefaultRetry, Metrics: e.Metrics, Node: name, LeaseTTL: e.LeaseTTL}
	}
	a, b := node("node-a"), node("node-b")
	done := make(chan error, 1)
	go func() { _, err := a.Advance(t.Context(), "run1"); done <- err }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("node a never reached the destination")
	}
	if d, err := b.Advance(t.Context(), "run1"); err != nil || d <= 0 {
		t.Fatalf("node b advanced a leased run: %v %v", d, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Release(t.Context(), "run1")
	if d, err := b.Advance(t.Context(), "run1"); err != nil || d != 0 {
		t.Fatalf("node b after the release: %v %v", d, err)
	}
	if len(f.bodies) != 1 || f.run(t).Status != cdp.RunSucceeded {
		t.Fatalf("%d requests, run %s", len(f.bodies), f.run(t).Status)
	}
}
