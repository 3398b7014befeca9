package workflow

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/retry"
)

// Engine advances runs: it executes a run's steps in order, records each
// step's result in the store before it moves on, and stops where the run
// must wait (a wait step, an action's next attempt). A run resumed after
// a crash skips the steps recorded as done; an action whose attempt was
// sent but not recorded is sent again with the same idempotency key.
type Engine struct {
	Store  cdp.Store
	Client *httpclient.Client
	// Workflow returns the version of a workflow a run started with, or
	// ENOTFOUND.
	Workflow    func(ctx context.Context, id string, version int) (*Compiled, error)
	Destination func(id string) (*Destination, bool)
	Now         func() time.Time
	Log         *slog.Logger
	// DefaultRetry is the policy of steps and destinations that set none;
	// its zero value is httpclient.DefaultPolicy.
	DefaultRetry httpclient.Policy
	Metrics      *metrics.Metrics // optional
	// fresh holds the runs this process just created, with their events,
	// for their first advance: it spares reading back what the processor
	// had in hand (two of a one-step run's three reads). An entry is
	// taken once; it lives freshTTL, well under the sweeper's 30 s, so a
	// run queued again by the sweeper is always read from the store. It
	// is kept only on a single node (Node empty): with several, another
	// node may advance a run first.
	fresh     *cache.Cache[string, freshRun]
	freshOnce sync.Once
	// Node, when set, names this process among several advancing runs
	// from one queue and store: a run is then advanced only under a lease
	// in the store (LeaseTTL long, renewed by the runner's heartbeat), so
	// that two nodes never advance it at once. Empty: one process owns
	// the runs (the embedded deployment) and no lease is written.
	Node     string
	LeaseTTL time.Duration
	// Breakers, if set, hold attempts to destinations that keep failing
	// or are paused, and Queue is where the runs they held go when their
	// destination closes.
	Breakers Breakers
	Queue    cdp.RunQueue
	// Go runs background work the engine starts (waking the runs a
	// destination held once its breaker closes) under its owner's wait
	// group, so that closing the node waits for it; nil: a bare goroutine.
	Go func(f func())
	// Actions are the action families steps call (the wiring's registry):
	// they give each destination its client settings and secrets.
	Actions *action.Registry

	batches batcher // the open batches of destinations that batch
}

// batching is how the call joins a batch to dest, or nil when it goes on
// its own: the destination does not batch, or the call cannot (an
// anonymous Customer.io event, transactional email).
func (e *Engine) batching(dest *Destination, call action.Call) *action.Batching {
	if dest.Batch == nil || call.Part == nil {
		return nil
	}
	if k, ok := e.Actions.DestinationKind(dest.Kind); ok {
		return k.Batching
	}
	return nil
}

// background runs f under e.Go.
func (e *Engine) background(f func()) {
	if e.Go != nil {
		e.Go(f)
		return
	}
	go f()
}

// Breakers decide whether an attempt may go to a destination now and
// learn from each outcome (package breaker).
type Breakers interface {
	Allow(ctx context.Context, d *Destination) breaker.Decision
	Peek(d *Destination) breaker.Decision
	// Record reports whether the attempt closed the breaker (a probe).
	Record(ctx context.Context, d *Destination, a *httpclient.Attempt, probe bool) (closed bool)
	Status(id string) breaker.Status
}

// errStop ends a walk: the run reached a final status or must wait.
var errStop = errors.New("stop")

// runState is one Advance of one run.
type runState struct {
	e    *Engine
	run  *cdp.Run
	wf   *Compiled
	vars map[string]any // event, profile, session, steps, vars, now
	// receivedAt is the event's, for the action latency metric.
	receivedAt time.Time
	outs       map[string]any // steps.<id>.output
	delay      time.Duration  // when the walk stopped to wait
	byStep     map[string]int // step run index by id
	acted      bool           // an action was attempted in this Advance
	// dry, when set, makes this a dry run (DryRun): the run lives only in
	// memory, nothing is written or sent, and dry records what would be.
	dry   *dryLog
	dirty bool // steps finished since the last write
	ended bool // the run reached a final status
	// mu is held by whoever advances the run; only a parallel foreach
	// has more than one goroutine, and they release it only while an
	// action's request is on the network (see unlocked).
	mu sync.Mutex
}

// unlocked runs fn (a network call) without holding st.mu, so that the
// other items of a parallel foreach may proceed meanwhile; the shared
// item variable is restored afterwards.
func (st *runState) unlocked(fn func()) {
	item := st.vars["item"]
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.vars["item"] = item
	}()
	fn()
}

// flush records the run if steps finished since the last write.
func (st *runState) flush(ctx context.Context) error {
	if !st.dirty {
		return nil
	}
	return st.save(ctx)
}

// Advance runs run id as far as it can go now. It returns how long to
// wait before advancing it again (0 when the run has ended).
func (e *Engine) Advance(ctx context.Context, id string) (wait time.Duration, err error) {
	if e.Node != "" {
		held, err := e.lease(ctx, id, e.Now().Add(cmp.Or(e.LeaseTTL, DefaultLeaseTTL)))
		if err != nil {
			return 0, err
		}
		if !held {
			if _, err := e.Store.FindRunByID(ctx, id); err != nil {
				return 0, err // gone: erased with its profile
			}
			return leaseBusyWait, nil // another node is advancing it
		}
	}
	run, event, view := e.take(id)
	if run == nil {
		if run, err = e.Store.FindRunByID(ctx, id); err != nil {
			return 0, err
		}
	}
	switch run.Status {
	case cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped, cdp.RunExited:
		return 0, nil
	}
	if run.NextAt != nil {
		if d := run.NextAt.Sub(e.Now()); d > 0 && !e.released(run) {
			return d, nil // woken early (a redelivery): keep waiting
		}
	}
	if run.DebounceKey != "" && len(run.Steps) == 0 {
		latest, err := e.Store.DebouncedRun(ctx, run.WorkflowID, run.DebounceKey)
		if err != nil {
			return 0, err
		}
		if latest != "" && latest != run.ID {
			return 0, e.finish(ctx, run, cdp.RunSkipped, "debounced: a later event started run "+latest)
		}
	}
	if run.OrderKey != "" {
		first, err := e.Store.FirstInLine(ctx, run.WorkflowID, run.OrderKey)
		if err != nil {
			return 0, err
		}
		if first != "" && first != run.ID {
			return 0, nil // in line: the run ahead queues it when it ends
		}
		held := false
		if err := e.Store.Update(ctx, func(tx cdp.Tx) (err error) {
			held, err = tx.ClaimLine(ctx, run.WorkflowID, run.OrderKey, run.ID)
			return err
		}); err != nil {
			return 0, err
		}
		if !held {
			return 0, nil // a run that started first holds the line: it queues the next when it ends
		}
	}
	wf, err := e.Workflow(ctx, run.WorkflowID, run.WorkflowVersion)
	if cdp.ErrorCode(err) == cdp.ENOTFOUND {
		return 0, e.finish(ctx, run, cdp.RunFailed, fmt.Sprintf("workflow %s version %d no longer exists", run.WorkflowID, run.WorkflowVersion))
	}
	if err != nil {
		return 0, err
	}
	ctx, span := startRunSpan(ctx, run)
	defer func() { endRunSpan(span, run, err) }()
	st := &runState{e: e, run: run, wf: wf, outs: map[string]any{}, byStep: map[string]int{}}
	for i, s := range run.Steps {
		st.byStep[s.ID] = i
		if s.Status == cdp.RunSucceeded && len(s.Output) > 0 {
			var v any
			_ = json.Unmarshal(s.Output, &v)
			st.outs[s.ID] = map[string]any{"output": v}
		}
	}
	if err := st.load(ctx, event, view); err != nil {
		return 0, err
	}
	run.Status, run.NextAt = cdp.RunRunning, nil
	st.mu.Lock()
	defer st.mu.Unlock()
	err = st.walk(ctx, wf.Steps, "")
	switch {
	case errors.Is(err, errStop):
		return st.delay, nil
	case err != nil:
		return 0, err
	}
	return 0, e.finish(ctx, run, cdp.RunSucceeded, "")
}

// load builds the expression variables: the event's view (view, made
// when the run was, else made from e or the event read from the store),
// its profile and session when they exist and an expression reads them,
// and the run's vars.
func (st *runState) load(ctx context.Context, e *cdp.Event, view map[string]any) error {
	if e == nil && st.run.Event != nil { // from the archive: the store no longer has it
		e = st.run.Event
	}
	if e == nil {
		var err error
		e, err = st.e.Store.FindEventByID(ctx, st.run.EventID)
		if err != nil && cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return err
		}
	}
	if e != nil {
		st.receivedAt = e.ReceivedAt
		if view == nil {
			view = e.View()
		}
	}
	st.vars = exprVars(e, view, st.e.Now(), storePeople(ctx, st.e.Store, st.wf.usesProfile, st.wf.usesSession))
	st.vars["steps"] = st.outs
	vars := map[string]any{}
	for name, in := range st.wf.Vars {
		v, err := st.eval(ctx, in)
		if err != nil {
			vars[name] = nil
			continue
		}
		vars[name] = v
	}
	st.vars["vars"] = vars
	return nil
}

func (st *runState) eval(ctx context.Context, in Input) (any, error) {
	if in.Program == nil {
		return in.Literal, nil
	}
	return in.Program.Eval(ctx, st.vars)
}

// step returns the run's record of step id, adding it if new. The pointer
// is valid until the next step is added: fetch it again after a walk.
func (st *runState) step(id string) *cdp.StepRun {
	if i, ok := st.byStep[id]; ok {
		return &st.run.Steps[i]
	}
	st.run.Steps = append(st.run.Steps, cdp.StepRun{ID: id, Status: cdp.RunPending})
	st.byStep[id] = len(st.run.Steps) - 1
	return &st.run.Steps[len(st.run.Steps)-1]
}

// walk executes steps in order; suffix distinguishes a foreach's items.
func (st *runState) walk(ctx context.Context, steps []*CompiledStep, suffix string) error {
	for _, cs := range steps {
		if st.ended {
			return errStop // another item of a parallel foreach ended the run
		}
		id := cs.ID + suffix
		rec := st.step(id)
		switch rec.Status {
		case cdp.RunSucceeded:
			if cs.Branch == nil && cs.Foreach == nil {
				continue
			}
		case cdp.RunFailed, cdp.RunSkipped, cdp.RunExited:
			return errStop
		}
		exec := st.execTraced
		if st.dry != nil {
			exec = func(ctx context.Context, cs *CompiledStep, id string) error { return st.dry.exec(ctx, st, cs, id) }
		}
		if err := exec(ctx, cs, id); err != nil {
			return err
		}
	}
	return nil
}

// exec executes one step whose record is not final.
func (st *runState) exec(ctx context.Context, cs *CompiledStep, id string) error {
	switch {
	case cs.Action != "":
		return st.action(ctx, cs, id)
	case cs.Filter != nil:
		ok, err := cs.Filter.EvalBool(ctx, st.vars)
		if err != nil {
			return st.fail(ctx, id, "filter: "+err.Error())
		}
		if !ok {
			st.done(id, false)
			return st.end(ctx, cdp.RunSkipped, "")
		}
		st.done(id, true)
		return nil
	case cs.Stop:
		st.done(id, nil)
		return st.end(ctx, cdp.RunSucceeded, "")
	case cs.WaitFor != nil:
		return st.waitFor(ctx, cs, id)
	case cs.Wait != nil:
		return st.wait(ctx, cs, id)
	case cs.Branch != nil:
		return st.branch(ctx, cs, id)
	case cs.Foreach != nil:
		return st.foreach(ctx, cs, id)
	case cs.ProfileUpdate != nil:
		return st.profileUpdate(ctx, cs, id)
	}
	return st.fail(ctx, id, "unknown step kind")
}

// done marks step id succeeded with output. It is recorded with the next
// write: before the next action acts, when the run pauses, or when it ends.
func (st *runState) done(id string, output any) *cdp.StepRun {
	st.dirty = true
	rec := st.step(id)
	rec.Status, rec.Error = cdp.RunSucceeded, ""
	rec.Output, _ = json.Marshal(output)
	st.outs[id] = map[string]any{"output": output}
	return rec
}

// action makes the step's next attempt and records it.
func (st *runState) action(ctx context.Context, cs *CompiledStep, id string) error {
	rec := st.step(id)
	dest, ok := st.e.Destination(cs.Destination)
	if !ok && cs.Destination != "" {
		return st.fail(ctx, id, fmt.Sprintf("destination %s no longer exists", cs.Destination))
	}
	if dest == nil {
		dest = noDestination
	}
	in, problem := st.inputs(ctx, cs, rec)
	if problem != "" {
		return st.fail(ctx, id, problem)
	}
	key := st.run.ID + ":" + id
	spec := cs.Spec
	call, err := BuildCall(spec, dest, in, key, st.e.Now())
	if err != nil {
		return st.fail(ctx, id, err.Error())
	}
	if st.dry != nil { // the request is what a dry run shows; its output stays unknown
		req := httpclient.CaptureRequest(call.Request, st.e.Actions.Secrets(dest))
		st.dry.requests[id], rec.Status = &req, cdp.RunSucceeded
		return nil
	}
	if err := st.breaker(ctx, dest, rec); err != nil {
		return err
	}
	var decision breaker.Decision
	client := st.e.Actions.Client(dest)
	client.Gate = st.gate(ctx, dest, &decision)
	// What earlier steps did must be recorded before this step acts, so
	// that a crash now cannot make them run again.
	if err := st.flush(ctx); err != nil {
		return err
	}
	rec = st.step(id)
	n := len(rec.Attempts) + 1 // numbers the attempt in the log
	var a *httpclient.Attempt
	actx, span := startAttemptSpan(ctx, dest, call.Request, n)
	if batching := st.e.batching(dest, call); batching != nil {
		st.unlocked(func() { a, err = st.e.batches.do(actx, st.e, dest, batching, client, n, call, key) })
	} else {
		st.unlocked(func() { a, err = st.e.Client.Do(actx, client, n, call.Request) })
	}
	st.endAttemptSpan(span, dest, a, err, decision.Probe)
	rec = st.step(id) // a parallel item may have added steps meanwhile
	if errors.Is(err, httpclient.ErrHeld) {
		if decision.Wait == 0 { // held with a batch another run led
			decision = st.e.Breakers.Peek(dest)
		}
		return st.hold(ctx, dest, rec, decision) // the breaker opened while the attempt waited
	}
	if err != nil {
		return err // ctx ended: nothing was decided
	}
	if a.Class != httpclient.Succeeded && a.Response != nil && spec.Explain != nil && len(a.Body) > 0 {
		a.Error += ": " + redact.Values(spec.Explain(a.Body), client.Secrets...)
	}
	a.Probe = decision.Probe
	rec.Attempts = append(rec.Attempts, a.Attempt)
	round := cdp.Spent(rec.Attempts[rec.RoundStart:]) // against the retry budget
	st.observe(dest, a, n)
	if st.e.Breakers != nil && dest != noDestination && st.e.Breakers.Record(ctx, dest, a, decision.Probe) {
		// Stops with the runner; the runs not reached wake at their own time.
		st.e.background(func() { st.e.ResumeWaiting(ctx, dest) })
	}
	switch a.Class {
	case httpclient.Succeeded:
		out, err := call.Output(a.Response.Status, a.Body)
		if err != nil {
			return st.fail(ctx, id, err.Error())
		}
		st.done(id, out)
		return nil
	case httpclient.Retryable:
		if a.Probe {
			// The breaker opened again: the run waits on the destination
			// with the others it holds, its retries untouched.
			if d := st.e.Breakers.Peek(dest); d.Wait > 0 {
				return st.hold(ctx, dest, rec, d)
			}
		}
		if d, ok := st.e.retryPolicy(cs, dest).Delay(max(round, 1), a.RetryAfter); ok {
			rec.Status, rec.Error = cdp.RunWaiting, a.Error
			return st.pause(ctx, d)
		}
		return st.fail(ctx, id, fmt.Sprintf("gave up after %d attempts: %s", round, a.Error))
	}
	return st.fail(ctx, id, a.Error)
}

// breaker asks the destination's breaker whether the attempt would go
// out; if not, the run waits on the destination (errStop) without
// spending an attempt. The attempt asks again once it holds its rate-limit
// token (gate), which may make it the breaker's probe.
func (st *runState) breaker(ctx context.Context, dest *Destination, rec *cdp.StepRun) error {
	if st.e.Breakers == nil || dest == noDestination {
		return nil
	}
	if d := st.e.Breakers.Peek(dest); d.Wait > 0 {
		return st.hold(ctx, dest, rec, d)
	}
	st.run.WaitingOn = ""
	return nil
}

// gate is the client's last question before sending: the breaker's
// decision, kept in *d.
func (st *runState) gate(ctx context.Context, dest *Destination, d *breaker.Decision) func() error {
	if st.e.Breakers == nil || dest == noDestination {
		return nil
	}
	return func() error {
		*d = st.e.Breakers.Allow(ctx, dest)
		if d.Wait > 0 {
			return errors.New(d.Reason)
		}
		return nil
	}
}

// hold makes the run wait on dest as the breaker decided.
func (st *runState) hold(ctx context.Context, dest *Destination, rec *cdp.StepRun, d breaker.Decision) error {
	rec.Status, rec.Error = cdp.RunWaiting, d.Reason
	st.run.WaitingOn = dest.ID
	return st.pause(ctx, d.Wait)
}

// released reports whether a run held by a breaker may go on before its
// wake-up time: its destination closed meanwhile.
func (e *Engine) released(run *cdp.Run) bool {
	return run.WaitingOn != "" && e.Breakers != nil && e.Breakers.Status(run.WaitingOn).State == breaker.Closed
}

// ResumeWaiting queues the runs waiting on dest, once its breaker closed
// (a probe succeeded, an operator resumed it): at the destination's rate
// limit, a second's worth at a time, so that they do not all hold runner
// slots waiting for the limiter. It stops with ctx, and the runs it did
// not reach wake at their own time. It returns how many it queued.
func (e *Engine) ResumeWaiting(ctx context.Context, dest *Destination) int {
	if e.Queue == nil {
		return 0
	}
	per, every := 1000, time.Duration(0)
	if dest.RateLimit > 0 {
		per, every = max(1, int(dest.RateLimit)), time.Second
	}
	n, cursor := 0, ""
	for {
		runs, next, err := e.Store.FindRuns(ctx, cdp.RunFilter{Status: cdp.RunWaiting, WaitingOn: dest.ID, Limit: per, Cursor: cursor})
		if err == nil {
			err = Enqueue(ctx, e.Queue, runs)
		}
		if err != nil {
			if e.Log != nil && ctx.Err() == nil {
				e.Log.Warn("resume runs waiting on a destination", "destination", dest.ID, "err", err)
			}
			return n
		}
		n += len(runs)
		if cursor = next; cursor == "" {
			return n
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return n
		}
	}
}

// inputs evaluates the step's inputs, once: a later attempt reads them
// from the record, so that every attempt sends the same request. It
// returns the problem that fails the step, if any.
func (st *runState) inputs(ctx context.Context, cs *CompiledStep, rec *cdp.StepRun) (map[string]any, string) {
	in := map[string]any{}
	if len(rec.Input) > 0 {
		_ = json.Unmarshal(rec.Input, &in)
		return in, ""
	}
	for name, input := range cs.With {
		v, err := st.eval(ctx, input)
		if err != nil {
			return nil, fmt.Sprintf("with.%s: %v", name, err)
		}
		in[name] = v
	}
	if cs.Spec != nil && cs.Spec.EventBody && !has(in, "body") {
		in["body"] = st.vars["event"]
	}
	rec.Input, _ = json.Marshal(in)
	return in, ""
}

// observe counts attempt n at dest, and the time from the event's
// arrival to the run's first request.
func (st *runState) observe(dest *Destination, a *httpclient.Attempt, n int) {
	first := !st.acted && n == 1
	st.acted = true
	m := st.e.Metrics
	if m == nil {
		return
	}
	m.Attempts.WithLabelValues(dest.ID, a.Outcome).Inc()
	m.AttemptDuration.WithLabelValues(dest.ID).Observe(a.DurationMS / 1000)
	if !first {
		return
	}
	if !st.receivedAt.IsZero() {
		m.ActionLatency.Observe(a.StartedAt.Sub(st.receivedAt).Seconds())
	}
}

// retryPolicy is the step's own policy, else its destination's, else the
// engine's default.
func (e *Engine) retryPolicy(cs *CompiledStep, dest *Destination) httpclient.Policy {
	if p := cs.Policy; p != nil {
		return httpclient.Policy{MaxAttempts: p.MaxAttempts, Base: p.Base, Max: p.Max}
	}
	if p := dest.Retry; p != nil {
		return *p
	}
	return e.DefaultRetry
}

// pause records the run as waiting for d.
func (st *runState) pause(ctx context.Context, d time.Duration) error {
	if st.ended {
		return errStop
	}
	if st.run.Status == cdp.RunWaiting && st.delay > 0 && st.delay < d {
		d = st.delay // a parallel item waits less: wake up for it
	}
	next := st.e.Now().Add(d)
	st.run.Status, st.run.NextAt, st.delay = cdp.RunWaiting, &next, d
	if err := st.save(ctx); err != nil {
		return err
	}
	return errStop
}

// fail ends the run as failed at step id (the dead letter).
func (st *runState) fail(ctx context.Context, id, msg string) error {
	rec := st.step(id)
	rec.Status, rec.Error = cdp.RunFailed, msg
	ended := st.ended
	err := st.end(ctx, cdp.RunFailed, id+": "+msg)
	if !ended && st.ended && st.e.Log != nil {
		// The one line an operator watching the logs needs: nothing else
		// retries this run unless someone does.
		st.e.Log.WarnContext(ctx, "run failed: in the dead letter until retried", "workflow", st.run.WorkflowID, "run", st.run.ID, "step", id, "reason", msg)
	}
	return err
}

func (st *runState) end(ctx context.Context, status, msg string) error {
	if st.ended {
		return errStop // a parallel item ended the run first
	}
	if st.dry != nil {
		st.dry.end(status, msg)
		st.ended = true
		return errStop
	}
	if err := st.e.finish(ctx, st.run, status, msg); err != nil {
		return err
	}
	st.ended, st.dirty = true, false
	return errStop
}

// save records the run as it is now.
func (st *runState) save(ctx context.Context) error {
	if st.dry != nil {
		st.dirty = false
		return nil
	}
	st.run.UpdatedAt = st.e.Now().UTC()
	if err := st.e.record(ctx, st.run); err != nil {
		return err
	}
	st.dirty = false
	return nil
}

// finish records a run's final status; what it waited for (an exit rule)
// goes with it.
func (e *Engine) finish(ctx context.Context, run *cdp.Run, status, msg string) error {
	run.Status, run.Error, run.NextAt, run.UpdatedAt = status, msg, nil, e.Now().UTC()
	err := retry.WhileUnavailable(ctx, recordWait, func() error {
		return e.Store.Update(ctx, func(tx cdp.Tx) error {
			if err := tx.DeleteRunWaits(ctx, run.ID); err != nil {
				return err
			}
			if err := releaseLine(ctx, tx, run); err != nil {
				return err
			}
			return tx.UpdateRun(ctx, run)
		})
	}, nil)
	if err == nil && run.OrderKey != "" {
		e.next(ctx, run)
	}
	if err == nil && e.Metrics != nil {
		e.Metrics.Runs.WithLabelValues(run.WorkflowID, status).Inc()
	}
	return err
}

// releaseLine lets go of the line an ending run holds (its order_by).
func releaseLine(ctx context.Context, tx cdp.Tx, run *cdp.Run) error {
	if run.OrderKey == "" {
		return nil
	}
	return tx.ReleaseLine(ctx, run.WorkflowID, run.OrderKey, run.ID)
}

// next queues the run in line behind run, which ended. If it cannot, the
// sweeper queues it within a minute: it is pending.
func (e *Engine) next(ctx context.Context, run *cdp.Run) {
	id, err := e.Store.FirstInLine(ctx, run.WorkflowID, run.OrderKey)
	if err == nil && id != "" && e.Queue != nil {
		err = Enqueue(ctx, e.Queue, []*cdp.Run{{ID: id, WorkflowID: run.WorkflowID}})
	}
	if err != nil && e.Log != nil && ctx.Err() == nil {
		e.Log.Warn("queue the next run in line", "workflow", run.WorkflowID, "run", run.ID, "err", err)
	}
}

// recordWait is how a run's record is retried while the store cannot be
// reached, up to 15 s: an attempt whose outcome is not recorded is sent
// again after the run's redelivery, so a short outage should not cost a
// second request. It stays well inside the lease (renewed every few
// seconds, lasting DefaultLeaseTTL), so no other node can have taken the
// run meanwhile; if one did, the run's version has moved and the write is
// refused.
var recordWait = retry.Backoff{First: 100 * time.Millisecond, Max: 2 * time.Second, Within: DefaultLeaseTTL / 2}

// record writes run, waiting out a store outage as recordWait says.
func (e *Engine) record(ctx context.Context, run *cdp.Run) error {
	return retry.WhileUnavailable(ctx, recordWait, func() error {
		return e.Store.Update(ctx, func(tx cdp.Tx) error { return tx.UpdateRun(ctx, run) })
	}, nil)
}

// RetryRun makes a failed run resumable from its failed step, which gets a
// new round of attempts; the steps that succeeded are not repeated. The
// caller queues the run. ECONFLICT if the run has not failed.
func RetryRun(ctx context.Context, store cdp.Store, id string, now time.Time) (*cdp.Run, error) {
	var run *cdp.Run
	err := store.Update(ctx, func(tx cdp.Tx) error {
		r, err := tx.Run(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != cdp.RunFailed {
			return cdp.Errorf(cdp.ECONFLICT, "run %s is %s; only a failed run can be retried", id, r.Status)
		}
		for i := range r.Steps {
			if s := &r.Steps[i]; s.Status == cdp.RunFailed {
				s.Status, s.Error, s.RoundStart = cdp.RunPending, "", len(s.Attempts)
			}
		}
		r.Status, r.Error, r.NextAt, r.UpdatedAt = cdp.RunPending, "", nil, now.UTC()
		run = r
		return tx.UpdateRun(ctx, r)
	})
	return run, err
}
