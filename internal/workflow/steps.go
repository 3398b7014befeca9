package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/identity"
)

// The steps other than actions: each runs inside a runState, under its
// lock, and records its result with done, pause, fail or end.

// foreach runs the body once per item of the list, with item set; the
// body's steps are recorded as <id>[<index>], so a resumed run continues
// with the items not done. The list is evaluated once, on the first
// visit. Items run one after the other, or up to parallel at once.
func (st *runState) foreach(ctx context.Context, cs *CompiledStep, id string) error {
	rec := st.step(id)
	var items []any
	if rec.Status == cdp.RunRunning || rec.Status == cdp.RunSucceeded {
		_ = json.Unmarshal(rec.Input, &items)
	} else {
		v, err := cs.Map.Eval(ctx, st.vars)
		if err != nil {
			return st.fail(ctx, id, "foreach.items: "+err.Error())
		}
		list, ok := v.([]any)
		if !ok && v != nil {
			return st.fail(ctx, id, fmt.Sprintf("foreach.items: %T is not a list", v))
		}
		const maxItems = 1000
		if len(list) > maxItems {
			return st.fail(ctx, id, fmt.Sprintf("foreach.items: %d items, more than %d", len(list), maxItems))
		}
		items, rec.Status = list, cdp.RunRunning
		rec.Input, _ = json.Marshal(items)
		st.dirty = true
	}
	outer := st.vars["item"]
	defer func() { st.vars["item"] = outer }()
	walked := items
	if st.dry != nil && len(walked) > maxDryItems {
		walked = walked[:maxDryItems] // enough to show what the body does
	}
	if cs.Foreach.Parallel > 1 && st.dry == nil {
		if err := st.parallel(ctx, cs, items); err != nil {
			return err
		}
	} else {
		for i, item := range walked {
			st.vars["item"] = item
			if err := st.walk(ctx, cs.Body, fmt.Sprintf("[%d]", i)); err != nil {
				return err
			}
		}
	}
	st.done(id, map[string]any{"items": len(items)})
	return nil
}

// parallel walks the foreach body for every item, up to
// cs.Foreach.Parallel at once. Items that must wait do not hold up the
// others; the run then waits for the earliest of them. A failure ends the
// run: items not started are not started, the others finish their
// current request and are recorded.
func (st *runState) parallel(ctx context.Context, cs *CompiledStep, items []any) error {
	slots := make(chan struct{}, cs.Foreach.Parallel)
	var wg sync.WaitGroup
	var failed error // the first error other than errStop
	stopped := false
	for i, item := range items {
		st.unlocked(func() { slots <- struct{}{} })
		if st.ended || failed != nil {
			<-slots
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			st.mu.Lock()
			defer st.mu.Unlock()
			st.vars["item"] = item
			err := st.walk(ctx, cs.Body, fmt.Sprintf("[%d]", i))
			switch {
			case errors.Is(err, errStop):
				stopped = true
			case err != nil && failed == nil:
				failed = err
			}
		})
	}
	st.unlocked(wg.Wait)
	switch {
	case failed != nil:
		return failed
	case st.ended || stopped: // ended, or paused until the earliest item may go on
		if err := st.flush(ctx); err != nil { // what the other items did meanwhile
			return err
		}
		return errStop
	}
	return nil
}

// profileUpdate sets, unsets and increments traits of the event's profile,
// in the transaction that records the step as done, so a resumed run
// cannot apply it twice.
func (st *runState) profileUpdate(ctx context.Context, cs *CompiledStep, id string) error {
	event, _ := st.vars["event"].(map[string]any)
	pid, _ := event["profile_id"].(string)
	if pid == "" {
		return st.fail(ctx, id, "profile.update: the event has no profile")
	}
	set, inc := map[string]any{}, map[string]float64{}
	for k, p := range cs.Set {
		v, err := p.Eval(ctx, st.vars)
		if err != nil {
			return st.fail(ctx, id, fmt.Sprintf("profile.update.set.%s: %v", k, err))
		}
		set[k] = v
	}
	for k, p := range cs.Increment {
		v, err := p.Eval(ctx, st.vars)
		n, ok := v.(float64)
		if i, isInt := v.(int64); isInt {
			n, ok = float64(i), true
		}
		if err != nil || !ok {
			return st.fail(ctx, id, fmt.Sprintf("profile.update.increment.%s: %v is not a number (%v)", k, v, err))
		}
		inc[k] = n
	}
	if st.dry != nil { // the changes, made to nothing
		st.done(id, map[string]any{"profile_id": pid, "set": set, "increment": inc, "unset": cs.ProfileUpdate.Unset})
		return nil
	}
	st.done(id, map[string]any{"profile_id": pid})
	st.run.UpdatedAt = st.e.Now().UTC()
	err := st.e.Store.Update(ctx, func(tx cdp.Tx) error {
		live, err := tx.ResolveProfileID(ctx, pid)
		if err != nil {
			return err
		}
		err = identity.UpdateProfileTx(ctx, tx, live, st.e.Now(), func(p *cdp.Profile) bool {
			maps.Copy(p.Traits, set)
			for _, k := range cs.ProfileUpdate.Unset {
				delete(p.Traits, k)
			}
			for k, n := range inc {
				old, _ := p.Traits[k].(float64)
				if i, ok := p.Traits[k].(int64); ok {
					old = float64(i)
				}
				p.Traits[k] = old + n
			}
			return true
		})
		if err != nil {
			return err
		}
		return tx.UpdateRun(ctx, st.run)
	})
	if cdp.ErrorCode(err) == cdp.ENOTFOUND {
		return st.fail(ctx, id, "profile.update: the profile no longer exists")
	}
	if err == nil {
		st.dirty = false // the run was recorded with the profile
	}
	return err
}

// wait pauses the run until a duration has passed or a time has come.
func (st *runState) wait(ctx context.Context, cs *CompiledStep, id string) error {
	rec := st.step(id)
	var until time.Time
	if rec.Status == cdp.RunWaiting {
		_ = json.Unmarshal(rec.Output, &struct {
			Until *time.Time `json:"until"`
		}{&until})
	} else {
		var problem string
		if until, problem = st.until(ctx, cs.Wait); problem != "" {
			return st.fail(ctx, id, "wait: "+problem)
		}
	}
	if d := until.Sub(st.e.Now()); d > 0 && st.dry == nil {
		rec.Status = cdp.RunWaiting
		rec.Output, _ = json.Marshal(map[string]any{"until": until.UTC()})
		return st.pause(ctx, d)
	}
	st.done(id, map[string]any{"until": until.UTC()})
	return nil
}

// until evaluates a wait's expression, a duration from now or a
// timestamp, into the time it ends; or says why it cannot.
func (st *runState) until(ctx context.Context, p *expr.Program) (time.Time, string) {
	v, err := p.Eval(ctx, st.vars)
	if err != nil {
		return time.Time{}, err.Error()
	}
	if s, ok := v.(string); ok { // CEL durations and timestamps come out as JSON strings
		if d, err := time.ParseDuration(s); err == nil {
			return st.e.Now().Add(d), ""
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, ""
		}
		return time.Time{}, fmt.Sprintf("%q is not a duration or a timestamp", s)
	}
	return time.Time{}, fmt.Sprintf("%v is not a duration or a timestamp", v)
}

func (st *runState) branch(ctx context.Context, cs *CompiledStep, id string) error {
	rec := st.step(id)
	var taken bool
	if rec.Status == cdp.RunSucceeded || rec.Status == cdp.RunRunning {
		_ = json.Unmarshal(rec.Output, &taken) // the choice made on the first visit
	} else {
		ok, err := cs.If.EvalBool(ctx, st.vars)
		if err != nil {
			return st.fail(ctx, id, "branch.if: "+err.Error())
		}
		taken = ok
		rec.Status = cdp.RunRunning
		rec.Output, _ = json.Marshal(taken)
		st.dirty = true
	}
	steps := cs.Else
	if taken {
		steps = cs.Then
	}
	if err := st.walk(ctx, steps, ""); err != nil {
		return err
	}
	st.done(id, taken)
	return nil
}
