package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
)

// Wake resumes, in the transaction that stored events, the runs waiting
// for what those events' people did: a wait_for whose event (and match)
// an event meets, or whose until the profile now meets, and the runs
// whose exit_when an event meets (they end as exited). It returns the
// runs to queue once the transaction commits. Every event of a person
// with waits is looked at; people without waits cost one lookup each.
func (r *Registry) Wake(ctx context.Context, tx cdp.Tx, events []*cdp.Event, now time.Time) ([]*cdp.Run, error) {
	var pids []string
	seen := map[string]bool{}
	for _, e := range events {
		if e.ProfileID != "" && !seen[e.ProfileID] {
			seen[e.ProfileID] = true
			pids = append(pids, e.ProfileID)
		}
	}
	if len(pids) == 0 {
		return nil, nil
	}
	if any, err := tx.HasWaits(ctx); err != nil || !any {
		return nil, err
	}
	waits, err := tx.ProfileWaits(ctx, pids)
	if err != nil || len(waits) == 0 {
		return nil, err
	}
	byProfile := map[string][]*cdp.Wait{}
	for _, w := range waits {
		byProfile[w.ProfileID] = append(byProfile[w.ProfileID], w)
	}
	var woken []*cdp.Run
	ended := map[string]bool{} // runs resumed or exited in this transaction
	profiles := map[string]map[string]any{}
	for _, e := range events {
		ws := byProfile[e.ProfileID]
		if len(ws) == 0 {
			continue
		}
		view := e.View()
		for _, w := range ws {
			if ended[w.RunID] || !e.ReceivedAt.After(w.After) {
				continue
			}
			ok, err := r.meets(ctx, tx, w, view, profiles, now)
			if err != nil {
				r.log.Warn("wait condition failed", "workflow", w.WorkflowID, "run", w.RunID, "step", w.StepID, "event", e.ID, "err", err)
			}
			if !ok {
				continue
			}
			claimed, err := tx.DeleteWait(ctx, w.RunID, w.StepID)
			if err != nil {
				return nil, err
			}
			if !claimed {
				continue
			}
			ended[w.RunID] = true
			r.counted(w, "event")
			run, err := resume(ctx, tx, w, waitOutcome{Matched: true, Event: view}, e.ID, now)
			if err != nil {
				return nil, err
			}
			if run != nil {
				woken = append(woken, run)
			}
		}
	}
	return woken, nil
}

// counted counts a wait ended (in its transaction: one retried counts
// again).
func (r *Registry) counted(w *cdp.Wait, how string) {
	if r.Metrics == nil {
		return
	}
	if w.Kind == cdp.WaitExit {
		how = "exit"
	}
	r.Metrics.WaitsEnded.WithLabelValues(w.WorkflowID, how).Inc()
}

// meets reports whether the event (its view) ends wait w.
func (r *Registry) meets(ctx context.Context, tx cdp.Tx, w *cdp.Wait, view map[string]any, profiles map[string]map[string]any, now time.Time) (bool, error) {
	wf, err := r.Workflow(ctx, w.WorkflowID, w.Version)
	if err != nil {
		return false, err
	}
	if w.Kind == cdp.WaitExit {
		if wf.ExitWhen == nil {
			return false, nil
		}
		return wf.ExitWhen.EvalBool(ctx, matchVars(w, view, nil, now))
	}
	cs := wf.stepByID(w.StepID)
	if cs == nil || cs.WaitFor == nil {
		return false, errNoStep(w)
	}
	if cs.WaitUntil == nil {
		return matchesEvent(ctx, cs, w, view, now)
	}
	p, ok := profiles[w.ProfileID]
	if !ok { // as this transaction left it
		pr, err := tx.Profile(ctx, w.ProfileID)
		if err != nil {
			return false, err
		}
		p = asMap(pr)
		profiles[w.ProfileID] = p
	}
	return cs.WaitUntil.EvalBool(ctx, matchVars(w, view, p, now))
}

// resume records, in tx, how wait w ended: a wait_for's step is done with
// out and its run pending again, returned to be queued; an exit ends the
// run as exited, with the event that ended it, and nothing is queued. A
// run that ended meanwhile is left as it is.
func resume(ctx context.Context, tx cdp.Tx, w *cdp.Wait, out waitOutcome, eventID string, now time.Time) (*cdp.Run, error) {
	for range 3 { // a write of the run's own that came first: read it again
		run, err := tx.Run(ctx, w.RunID)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		switch run.Status {
		case cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped, cdp.RunExited:
			return nil, nil
		}
		run.NextAt, run.UpdatedAt = nil, now
		if w.Kind == cdp.WaitExit {
			run.Status, run.Error = cdp.RunExited, fmt.Sprintf("exited: event %s met exit_when", eventID)
			if err := tx.DeleteRunWaits(ctx, run.ID); err != nil {
				return nil, err
			}
			if err := releaseLine(ctx, tx, run); err != nil { // the sweeper queues the next in line
				return nil, err
			}
		} else {
			i := stepIndex(run, w.StepID)
			if i < 0 {
				run.Steps = append(run.Steps, cdp.StepRun{ID: w.StepID})
				i = len(run.Steps) - 1
			}
			rec := &run.Steps[i]
			rec.Status, rec.Error = cdp.RunSucceeded, ""
			rec.Output, _ = json.Marshal(out)
			run.Status = cdp.RunPending
		}
		err = tx.UpdateRun(ctx, run)
		if cdp.ErrorCode(err) == cdp.ECONFLICT {
			continue
		}
		if err != nil || run.Status == cdp.RunExited {
			return nil, err
		}
		return run, nil
	}
	return nil, cdp.Errorf(cdp.ECONFLICT, "run %s keeps changing", w.RunID)
}

func stepIndex(run *cdp.Run, id string) int {
	for i, s := range run.Steps {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// ClaimTimeouts ends, in one transaction, up to limit waits whose
// deadline passed (a wait_for's output is then {matched: false}). It
// returns their runs, to be queued once it commits, and how many waits it
// claimed. Nodes sharing a store claim different waits.
func ClaimTimeouts(ctx context.Context, store cdp.Store, now time.Time, limit int) ([]*cdp.Run, int, error) {
	runs, _, claimed, err := claimTimeouts(ctx, store, now, limit)
	return runs, claimed, err
}

// claimTimeouts is ClaimTimeouts that also returns the waits it claimed.
func claimTimeouts(ctx context.Context, store cdp.Store, now time.Time, limit int) ([]*cdp.Run, []*cdp.Wait, int, error) {
	var runs []*cdp.Run
	var waits []*cdp.Wait
	claimed := 0
	err := store.Update(ctx, func(tx cdp.Tx) error {
		runs = runs[:0]
		due, err := tx.ClaimDueWaits(ctx, now, limit)
		if err != nil {
			return err
		}
		claimed, waits = len(due), due
		for _, w := range due {
			run, err := resume(ctx, tx, w, waitOutcome{}, "", now)
			if err != nil {
				return err
			}
			if run != nil {
				runs = append(runs, run)
			}
		}
		return nil
	})
	return runs, waits, claimed, err
}

// Started keeps, for a run just inserted in tx, the wait of its
// workflow's exit rule: every later event of the person is then looked at
// for exit_when until the run ends.
func (r *Registry) Started(ctx context.Context, tx cdp.Tx, run *cdp.Run, e *cdp.Event) error {
	wf, err := r.Workflow(ctx, run.WorkflowID, run.WorkflowVersion)
	if err != nil || wf.ExitWhen == nil || e.ProfileID == "" {
		return nil
	}
	scope, _ := json.Marshal(waitScope{Trigger: e.View()})
	return tx.InsertWait(ctx, &cdp.Wait{RunID: run.ID, WorkflowID: run.WorkflowID, Version: run.WorkflowVersion, Kind: cdp.WaitExit,
		ProfileID: e.ProfileID, After: e.ReceivedAt, Scope: scope, CreatedAt: run.CreatedAt})
}

// key is the value of a key expression (order_by, a debounce's key)
// over the trigger's variables (vars, when the trigger made them), or the
// event's person when byProfile; "" for none.
func (wf *Compiled) key(ctx context.Context, p *expr.Program, byProfile bool, e *cdp.Event, vars map[string]any) string {
	switch {
	case byProfile:
		return e.ProfileID
	case p == nil:
		return ""
	}
	if vars == nil {
		vars = exprVars(e, e.View(), time.Now(), people{})
	}
	v, err := p.Eval(ctx, vars)
	if err != nil || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// debounce holds a new run of a debounced trigger for its period and
// makes it the latest of its key: a run that ends its period while a
// later one of its key exists ends as skipped (Engine.Advance). An event
// with no key is not debounced.
func (wf *Compiled) debounce(ctx context.Context, tx cdp.Tx, run *cdp.Run, e *cdp.Event, vars map[string]any, now time.Time) error {
	if wf.debouncePeriod == 0 {
		return nil
	}
	key := wf.key(ctx, wf.debounceKey, wf.debounceKey == nil, e, vars)
	if key == "" {
		return nil
	}
	until := now.Add(wf.debouncePeriod)
	run.Status, run.NextAt, run.DebounceKey = cdp.RunWaiting, &until, key
	return tx.SetDebounce(ctx, wf.ID, key, run.ID)
}
