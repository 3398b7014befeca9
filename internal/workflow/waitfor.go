package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// A wait_for holds a run until its person does something: a later event
// that meets the step's condition, or a profile that meets it, or the
// timeout. The run does not wait in memory or in the run queue: it is
// parked (waiting, no wake-up time, its queue message acknowledged) with
// a row in the store's waits (cdp.Wait). Three parties may end the wait,
// and whoever deletes the row first is the one that resumes the run:
//
//   - the run itself, when it starts waiting: it first writes the row,
//     then looks at the events stored since its own event (a run slow to
//     start, retried or backfilled behaves as a live one), and at the
//     profile for an until;
//   - the processor, in the transaction that stores a later event of the
//     person (Registry.Wake);
//   - the timeouts, claimed from the store's deadline index (Timeouts).
//
// The step's output is {matched, event}: matched false on a timeout.

// waitOutcome is a wait_for step's output.
type waitOutcome struct {
	Matched bool           `json:"matched"`
	Event   map[string]any `json:"event,omitempty"`
}

// waitScope is what a wait's expressions read besides the incoming event:
// kept with the wait, as it was when the run started waiting.
type waitScope struct {
	Trigger map[string]any `json:"trigger"`
	Vars    map[string]any `json:"vars,omitempty"`
	Steps   map[string]any `json:"steps,omitempty"`
	Item    any            `json:"item,omitempty"`
}

// waitFor runs a wait_for step.
func (st *runState) waitFor(ctx context.Context, cs *CompiledStep, id string) error {
	rec := st.step(id)
	if rec.Status == cdp.RunWaiting {
		return st.park() // parked here: the wait's row says when it goes on
	}
	deadline, problem := st.until(ctx, cs.Wait)
	if problem != "" {
		return st.fail(ctx, id, "wait_for.timeout: "+problem)
	}
	trigger, _ := st.vars["trigger"].(map[string]any)
	pid, _ := trigger["profile_id"].(string)
	if pid == "" {
		return st.fail(ctx, id, "wait_for: the event has no profile whose next events to wait for")
	}
	scope, _ := json.Marshal(waitScope{Trigger: trigger, Vars: mapOf(st.vars["vars"]), Steps: st.outs, Item: st.vars["item"]})
	now := st.e.Now().UTC()
	w := &cdp.Wait{RunID: st.run.ID, StepID: id, WorkflowID: st.run.WorkflowID, Version: st.run.WorkflowVersion,
		Kind: cdp.WaitEvent, ProfileID: pid, After: st.receivedAt, Deadline: &deadline, Scope: scope, CreatedAt: now}
	if cs.WaitUntil != nil {
		w.Kind = cdp.WaitProfile
	}
	if st.dry != nil { // what it would find already stored; a dry run waits for nothing
		out, _, err := st.e.storedMatch(ctx, cs, w)
		if err != nil {
			return err
		}
		shown := outputOf(out)
		shown["deadline"] = deadline
		st.done(id, shown)
		return nil
	}
	// Wait first, then look: an event stored meanwhile is either found by
	// the look or wakes the wait, and only one of the two goes on.
	rec.Status, rec.Error = cdp.RunWaiting, ""
	rec.Output, _ = json.Marshal(map[string]any{"deadline": deadline, "waiting_for": w.Kind})
	st.run.Status, st.run.NextAt, st.run.UpdatedAt = cdp.RunWaiting, nil, now
	if err := st.e.Store.Update(ctx, func(tx cdp.Tx) error {
		if err := tx.InsertWait(ctx, w); err != nil {
			return err
		}
		return tx.UpdateRun(ctx, st.run)
	}); err != nil {
		return err
	}
	st.dirty = false
	out, found, err := st.e.storedMatch(ctx, cs, w)
	if err != nil {
		return err
	}
	if !found && !deadline.After(st.e.Now()) {
		found = true // the timeout passed while it looked (or before it began)
	}
	if !found {
		return st.park()
	}
	claimed, err := st.claim(ctx, w, out)
	if err != nil || claimed {
		return err
	}
	return st.reloaded(ctx, id) // the processor or a timeout ended the wait first
}

// park leaves the run waiting on its wait's row: the walk stops with no
// time to come back at, and the runner lets go of the run.
func (st *runState) park() error {
	st.delay = 0
	return errStop
}

// claim ends the run's wait w with out, if no one else did: it deletes
// the row and records the step done in one transaction.
func (st *runState) claim(ctx context.Context, w *cdp.Wait, out waitOutcome) (bool, error) {
	rec := st.step(w.StepID)
	saved := *rec
	rec.Status, rec.Error = cdp.RunSucceeded, ""
	rec.Output, _ = json.Marshal(out)
	st.run.Status, st.run.UpdatedAt = cdp.RunRunning, st.e.Now().UTC()
	claimed := false
	err := st.e.Store.Update(ctx, func(tx cdp.Tx) error {
		var err error
		if claimed, err = tx.DeleteWait(ctx, w.RunID, w.StepID); err != nil || !claimed {
			return err
		}
		return tx.UpdateRun(ctx, st.run)
	})
	if err != nil || !claimed {
		*st.step(w.StepID) = saved
		return false, err
	}
	st.outs[w.StepID] = map[string]any{"output": outputOf(out)}
	return true, nil
}

// reloaded reads the run again after another party changed it (ended a
// wait, exited it) and goes on from what it recorded.
func (st *runState) reloaded(ctx context.Context, id string) error {
	run, err := st.e.Store.FindRunByID(ctx, st.run.ID)
	if err != nil {
		return err
	}
	*st.run = *run
	st.byStep, st.outs = map[string]int{}, map[string]any{}
	for i, s := range run.Steps {
		st.byStep[s.ID] = i
		if s.Status == cdp.RunSucceeded && len(s.Output) > 0 {
			var v any
			_ = json.Unmarshal(s.Output, &v)
			st.outs[s.ID] = map[string]any{"output": v}
		}
	}
	st.vars["steps"] = st.outs
	switch run.Status {
	case cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped, cdp.RunExited:
		st.ended = true
		return errStop
	}
	if st.step(id).Status != cdp.RunSucceeded {
		return st.park()
	}
	st.run.Status = cdp.RunRunning
	return nil
}

// storedMatch looks for what w waits for among what is already stored:
// the profile, for an until; else the person's events received after
// the run's event, oldest first.
func (e *Engine) storedMatch(ctx context.Context, cs *CompiledStep, w *cdp.Wait) (waitOutcome, bool, error) {
	if cs.WaitUntil != nil {
		p, err := e.Store.FindProfileByID(ctx, w.ProfileID)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			return waitOutcome{}, false, nil
		} else if err != nil {
			return waitOutcome{}, false, err
		}
		ok, _ := cs.WaitUntil.EvalBool(ctx, matchVars(w, nil, asMap(p), e.Now()))
		return waitOutcome{Matched: ok}, ok, nil
	}
	f := cdp.EventFilter{ProfileID: w.ProfileID, Since: w.After, Limit: 1000}
	var later []*cdp.Event
	for {
		page, next, err := e.Store.FindEvents(ctx, f)
		if err != nil {
			return waitOutcome{}, false, err
		}
		later = append(later, page...)
		if next == "" || len(later) >= 10_000 {
			break
		}
		f.Cursor = next
	}
	for i := len(later) - 1; i >= 0; i-- { // oldest first
		ev := later[i]
		if !ev.ReceivedAt.After(w.After) {
			continue
		}
		view := ev.View()
		if ok, _ := matchesEvent(ctx, cs, w, view, e.Now()); ok {
			return waitOutcome{Matched: true, Event: view}, true, nil
		}
	}
	return waitOutcome{}, false, nil
}

// matchesEvent reports whether an event (its view) meets a wait_for's
// event and match.
func matchesEvent(ctx context.Context, cs *CompiledStep, w *cdp.Wait, view map[string]any, now time.Time) (bool, error) {
	vars := matchVars(w, view, nil, now)
	ok, err := cs.WaitEvent.EvalBool(ctx, vars)
	if err != nil || !ok || cs.WaitMatch == nil {
		return ok, err
	}
	return cs.WaitMatch.EvalBool(ctx, vars)
}

// matchVars are a wait's expression variables: the incoming event (nil:
// the trigger), the profile when known, and the wait's scope.
func matchVars(w *cdp.Wait, event, profile map[string]any, now time.Time) map[string]any {
	var sc waitScope
	_ = json.Unmarshal(w.Scope, &sc)
	if sc.Trigger == nil {
		sc.Trigger = map[string]any{}
	}
	if event == nil {
		event = sc.Trigger
	}
	if profile == nil {
		profile = map[string]any{}
	}
	return map[string]any{"event": event, "trigger": sc.Trigger, "profile": profile, "session": map[string]any{},
		"steps": orEmpty(sc.Steps), "vars": orEmpty(sc.Vars), "item": sc.Item, "now": now}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// outputOf is out as expressions read steps.<id>.output.
func outputOf(out waitOutcome) map[string]any {
	m := map[string]any{"matched": out.Matched}
	if out.Event != nil {
		m["event"] = out.Event
	}
	return m
}

// foreachIndex is a foreach item's suffix of a step id.
var foreachIndex = regexp.MustCompile(`\[\d+\]`)

// stepByID finds a compiled step by its recorded id (a foreach's
// items carry their index).
func (c *Compiled) stepByID(id string) *CompiledStep {
	base := StepName(id)
	var find func([]*CompiledStep) *CompiledStep
	find = func(steps []*CompiledStep) *CompiledStep {
		for _, cs := range steps {
			if cs.ID == base {
				return cs
			}
			for _, sub := range [][]*CompiledStep{cs.Then, cs.Else, cs.Body} {
				if f := find(sub); f != nil {
					return f
				}
			}
		}
		return nil
	}
	return find(c.Steps)
}

// errNoStep is a wait whose workflow version no longer has its step.
func errNoStep(w *cdp.Wait) error {
	return fmt.Errorf("workflow %s version %d has no step %s", w.WorkflowID, w.Version, w.StepID)
}

// StepName is a recorded step id without a foreach's item indexes: the
// step as the workflow names it.
func StepName(id string) string { return foreachIndex.ReplaceAllString(id, "") }

// Waiting says what step id (as recorded) waits for, for people reading
// a run: the event condition and its match, or the profile condition;
// "" if the step is not a wait_for.
func (c *Compiled) Waiting(id string) string {
	cs := c.stepByID(id)
	if cs == nil || cs.WaitFor == nil {
		return ""
	}
	w := cs.WaitFor
	switch {
	case w.Until != "":
		return "the profile to meet " + w.Until
	case w.Match != "":
		return "an event of the person meeting " + w.Event + ", matched by " + w.Match
	}
	return "an event of the person meeting " + w.Event
}
