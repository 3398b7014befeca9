package workflow

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
)

const cartFlow = `
id: cart
trigger: { types: [email_delivered] }
exit_when: "event.type == 'unsubscribed'"
steps:
  - id: bought
    wait_for:
      event: "event.type == 'order_completed'"
      match: "event.properties.cart_id == trigger.properties.cart_id"
      timeout: "duration('1h')"
  - id: remind
    branch:
      if: "!steps.bought.output.matched"
      then: [ { id: nudge, action: customerio.track_event, destination: cio, with: { identifier: "'u1'", name: "'cart_reminder'" } } ]
      else: [ { id: thank, action: customerio.track_event, destination: cio, with: { identifier: "'u1'", name: "'thanks ' + steps.bought.output.event.properties.cart_id" } } ]
`

// journey is an engine fixture whose workflow is served by a Registry,
// as the processor's Wake and Started see it, with the run's event of
// profile p1 carrying cart c1, and the exit rule's wait in place.
func journey(t *testing.T) (*engineFixture, *Registry) {
	t.Helper()
	f := newEngineFixture(t, cartFlow, func(e *cdp.Event) {
		e.ProfileID = "p1"
		e.Properties = json.RawMessage(`{"cart_id":"c1","recipient":"a@example.com"}`)
	})
	dest, _ := f.engine.Destination("cio")
	reg, err := NewRegistry(f.store, testActions, []Workflow{*parse(t, cartFlow)}, []*Destination{dest}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.engine.Workflow = func(ctx context.Context, id string, v int) (*Compiled, error) { return reg.Workflow(ctx, id, v) }
	ev, _ := f.store.FindEventByID(t.Context(), "ev1")
	if err := f.store.Update(t.Context(), func(tx cdp.Tx) error { return reg.Started(t.Context(), tx, f.run(t), ev) }); err != nil {
		t.Fatal(err)
	}
	return f, reg
}

// later stores an event of p1 received after (or before) the run's, and
// wakes what it meets, as the processor does in one transaction; it
// returns the runs to queue. Its id is made from its time (minted from
// the clock, as the edge's ids are), named name in the properties.
func (f *engineFixture) later(t *testing.T, reg *Registry, name, typ, props string, after time.Duration) []*cdp.Run {
	t.Helper()
	at := f.clock.Add(after)
	e := &cdp.Event{ID: cdp.MinIDAt(at), MessageID: name, SourceID: "web", Type: typ, ProfileID: "p1", Timestamp: at, ReceivedAt: at,
		Properties: json.RawMessage(props), Context: json.RawMessage(`{}`)}
	var woken []*cdp.Run
	if err := f.store.Update(t.Context(), func(tx cdp.Tx) error {
		if _, err := tx.InsertEvent(t.Context(), e); err != nil {
			return err
		}
		var err error
		woken, err = reg.Wake(t.Context(), tx, []*cdp.Event{e}, at)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return woken
}

func (f *engineFixture) waits(t *testing.T) []*cdp.Wait {
	t.Helper()
	var ws []*cdp.Wait
	if err := f.store.Update(t.Context(), func(tx cdp.Tx) (err error) {
		ws, err = tx.ProfileWaits(t.Context(), []string{"p1"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func (f *engineFixture) sentNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.bodies {
		out = append(out, b["name"].(string))
	}
	return out
}

// A run parks at wait_for (a row, no wake-up time); an event of another
// cart or an unrelated type does not wake it, the matching one does,
// once, and the run goes on with the event as the step's output.
func TestWaitForWokenByAMatchingEvent(t *testing.T) {
	f, reg := journey(t)
	if d := f.advance(t); d != 0 {
		t.Fatalf("a parked run asks to come back in %v", d)
	}
	if r := f.run(t); r.Status != cdp.RunWaiting || r.NextAt != nil || r.Steps[0].Status != cdp.RunWaiting {
		t.Fatalf("parked run %+v", r)
	}
	if ws := f.waits(t); len(ws) != 2 { // the exit rule's and the step's
		t.Fatalf("waits %+v", ws)
	}
	if woken := f.later(t, reg, "e2", "order_completed", `{"cart_id":"other"}`, time.Minute); len(woken) != 0 {
		t.Fatalf("another cart woke %v", woken)
	}
	if woken := f.later(t, reg, "e3", "page", `{"cart_id":"c1"}`, 2*time.Minute); len(woken) != 0 {
		t.Fatalf("a page view woke %v", woken)
	}
	woken := f.later(t, reg, "e4", "order_completed", `{"cart_id":"c1"}`, 3*time.Minute)
	if len(woken) != 1 || woken[0].ID != "run1" || woken[0].Status != cdp.RunPending {
		t.Fatalf("woken %+v", woken)
	}
	if again := f.later(t, reg, "e5", "order_completed", `{"cart_id":"c1"}`, 4*time.Minute); len(again) != 0 {
		t.Fatalf("woken twice: %+v", again)
	}
	f.advance(t)
	r := f.run(t)
	if r.Status != cdp.RunSucceeded || string(r.Steps[0].Output) == "" {
		t.Fatalf("run %+v", r)
	}
	if got := f.sentNames(); len(got) != 1 || got[0] != "thanks c1" {
		t.Fatalf("sent %v", got)
	}
	if ws := f.waits(t); len(ws) != 0 {
		t.Fatalf("waits left after the run ended: %+v", ws)
	}
}

// A woken run may be advanced from the store (the queue redelivering it,
// its timeout falling due) before the processor reports it committed;
// the copy the processor then reports is stale and must not be advanced
// again: the destination hears once.
func TestWokenRunAdvancedOnceWhateverTheOrder(t *testing.T) {
	f, reg := journey(t)
	f.advance(t)
	woken := f.later(t, reg, "e2", "order_completed", `{"cart_id":"c1"}`, time.Minute)
	if len(woken) != 1 {
		t.Fatalf("woken %+v", woken)
	}
	f.advance(t) // from the store, before the processor's report
	f.engine.Committed(woken, nil)
	f.advance(t) // the woken run's own queue message
	if got := f.sentNames(); len(got) != 1 {
		t.Fatalf("sent %v", got)
	}
}

// A wait that times out goes on with matched false, once, whoever claims
// it; before its deadline nothing claims it.
func TestWaitForTimesOut(t *testing.T) {
	f, _ := journey(t)
	f.advance(t)
	if runs, n, err := ClaimTimeouts(t.Context(), f.store, f.clock.Add(59*time.Minute), 10); err != nil || n != 0 || len(runs) != 0 {
		t.Fatalf("claimed before the deadline: %v %d %v", runs, n, err)
	}
	runs, n, err := ClaimTimeouts(t.Context(), f.store, f.clock.Add(61*time.Minute), 10)
	if err != nil || n != 1 || len(runs) != 1 {
		t.Fatalf("timeouts %v %d %v", runs, n, err)
	}
	if _, n, _ := ClaimTimeouts(t.Context(), f.store, f.clock.Add(2*time.Hour), 10); n != 0 {
		t.Fatal("a timeout claimed twice")
	}
	f.advance(t)
	if r := f.run(t); r.Status != cdp.RunSucceeded {
		t.Fatalf("run %+v", r)
	}
	if got := f.sentNames(); len(got) != 1 || got[0] != "cart_reminder" {
		t.Fatalf("sent %v", got)
	}
}

// An event stored after the run's event but before the run reached its
// wait_for (a slow start, a retry, a backfill) is found at once: the run
// does not park; one stored before the run's event does not count.
func TestWaitForFindsEventsAlreadyStored(t *testing.T) {
	f, reg := journey(t)
	f.later(t, reg, "early", "order_completed", `{"cart_id":"c1"}`, -time.Minute)
	f.later(t, reg, "e2", "order_completed", `{"cart_id":"c1"}`, time.Minute)
	if d := f.advance(t); d != 0 {
		t.Fatalf("delay %v", d)
	}
	r := f.run(t)
	var out struct {
		Matched bool
		Event   map[string]any
	}
	json.Unmarshal(r.Steps[0].Output, &out)
	if r.Status != cdp.RunSucceeded || !out.Matched || out.Event["message_id"] != "e2" {
		t.Fatalf("run %+v; output %s", r, r.Steps[0].Output)
	}
}

// exit_when ends the run at once, as exited, while it waits; nothing
// more is sent and its waits go.
func TestExitWhenEndsAWaitingRun(t *testing.T) {
	f, reg := journey(t)
	f.advance(t)
	if woken := f.later(t, reg, "bye", "unsubscribed", `{}`, time.Minute); len(woken) != 0 {
		t.Fatalf("an exited run was queued: %+v", woken)
	}
	r := f.run(t)
	if r.Status != cdp.RunExited || r.Error != "exited: event "+cdp.MinIDAt(f.clock.Add(time.Minute))+" met exit_when" {
		t.Fatalf("run %+v", r)
	}
	if ws := f.waits(t); len(ws) != 0 {
		t.Fatalf("waits left: %+v", ws)
	}
	f.advance(t)
	if _, n, _ := ClaimTimeouts(t.Context(), f.store, f.clock.Add(2*time.Hour), 10); n != 0 || len(f.sentNames()) != 0 {
		t.Fatalf("an exited run acted: %v", f.sentNames())
	}
}

// Erasing the person ends the runs waiting for them: nothing is sent at
// the timeout, and their waits are gone.
func TestEraseEndsWaitingRuns(t *testing.T) {
	f, _ := journey(t)
	f.advance(t)
	if err := f.store.Update(t.Context(), func(tx cdp.Tx) error { return identity.EraseTx(t.Context(), tx, "p1") }); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t); r.Status != cdp.RunExited || r.Error != "exited: the person was erased" {
		t.Fatalf("run %+v", r)
	}
	if ws := f.waits(t); len(ws) != 0 {
		t.Fatalf("waits left: %+v", ws)
	}
	if _, n, _ := ClaimTimeouts(t.Context(), f.store, f.clock.Add(2*time.Hour), 10); n != 0 {
		t.Fatal("a timeout of an erased person's run")
	}
	f.advance(t)
	if got := f.sentNames(); len(got) != 0 {
		t.Fatalf("sent %v", got)
	}
}

// The timeouts' pace halves whenever the scheduler is short of CPU, down
// to a floor, and grows back by a step a tick up to the cap.
func TestTimeoutPaceAdapts(t *testing.T) {
	pace := 2000.0
	for range 3 {
		pace = nextRate(pace, 2000, true)
	}
	if pace != 250 {
		t.Fatalf("after three busy ticks %v", pace)
	}
	for range 10 {
		pace = nextRate(pace, 2000, true)
	}
	if pace != minTimeoutRate {
		t.Fatalf("never below the floor: %v", pace)
	}
	pace = nextRate(pace, 2000, false)
	if pace != minTimeoutRate+paceStep {
		t.Fatalf("one quiet tick %v", pace)
	}
	for range 100 {
		pace = nextRate(pace, 2000, false)
	}
	if pace != 2000 {
		t.Fatalf("never above the cap: %v", pace)
	}
}

// Timeouts ends a due wait and queues its run, on an idle process and on
// one that never has headroom (the pace at its floor still ends some).
func TestTimeoutsRunEvenWhenBusy(t *testing.T) {
	for _, busy := range []bool{false, true} {
		f, _ := journey(t)
		f.advance(t)
		q, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Stream: "RUNS", Subject: "sy.runs",
			AckWait: time.Second, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		tm := &Timeouts{Store: f.store, Queue: q, Log: slog.New(slog.DiscardHandler), Every: 5 * time.Millisecond,
			Now: func() time.Time { return f.clock.Add(2 * time.Hour) }}
		if busy {
			tm.Busy = func() bool { return true }
		}
		done := make(chan struct{})
		go func() { tm.Run(ctx); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for f.run(t).Status == cdp.RunWaiting && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		if r := f.run(t); r.Status != cdp.RunPending {
			t.Fatalf("busy %v: run %s", busy, r.Status)
		}
		got := make(chan string, 1)
		cctx, ccancel := context.WithTimeout(t.Context(), 10*time.Second)
		go q.Consume(cctx, Group, func(_ context.Context, batch []cdp.Delivery) {
			for _, d := range batch {
				_ = d.Ack()
				select {
				case got <- string(d.Data()):
				default:
				}
			}
		})
		select {
		case id := <-got:
			if id != "run1" {
				t.Fatalf("busy %v: queued %q", busy, id)
			}
		case <-cctx.Done():
			t.Fatalf("busy %v: the run was not queued", busy)
		}
		ccancel()
		q.Close()
	}
}
