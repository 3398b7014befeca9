package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// DryRun is what a workflow would do with an event, found without
// calling anything or changing anything.
type DryRun struct {
	// Matches says whether the trigger (sources, types, condition) selects
	// the event; the steps are walked either way.
	Matches bool      `json:"matches"`
	Trigger string    `json:"trigger"`
	Steps   []DryStep `json:"steps"`
	Outcome string    `json:"outcome"`
}

// DryStep is one step as it would run: its mapped inputs and, for an
// action, the request it would send (credentials masked).
type DryStep struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Input   map[string]any `json:"input,omitempty"`
	Request *cdp.Captured  `json:"request,omitempty"`
	Value   any            `json:"value,omitempty"` // a filter's or branch's result, a wait's end, profile changes, a foreach's items
	Error   string         `json:"error,omitempty"`
}

// maxDryItems caps how many items of a foreach a dry run walks.
const maxDryItems = 5

// DryRun compiles w against the destinations and walks it over the
// stored event eventID with the engine's own step code, in dry mode: the
// run lives only in memory, actions build their request and send nothing,
// waits do not pause and profile updates change nothing. Earlier actions'
// outputs are unknown, so an expression reading steps.<id>.output fails
// there, and says so.
func (r *Registry) DryRun(ctx context.Context, store cdp.Store, w *Workflow, eventID string, now time.Time) (*DryRun, error) {
	wf, problems := Compile(w, r.refs())
	if problems != nil {
		return nil, cdp.Errorf(cdp.EINVALID, "%s", strings.Join(problems, "; "))
	}
	e, err := store.FindEventByID(ctx, eventID)
	if err != nil {
		return nil, err
	}
	engine := &Engine{Store: store, Destination: r.Destination, Now: func() time.Time { return now }, Actions: r.actions}
	run := &cdp.Run{ID: "dry-run", WorkflowID: wf.ID, WorkflowVersion: wf.Version, EventID: e.ID, Status: cdp.RunRunning}
	log := &dryLog{requests: map[string]*cdp.Captured{}}
	st := &runState{e: engine, run: run, wf: wf, outs: map[string]any{}, byStep: map[string]int{}, dry: log}
	if err := st.load(ctx, e, e.View()); err != nil {
		return nil, err
	}
	d := &DryRun{Matches: wf.Matches(e.SourceID, e.Type), Trigger: fmt.Sprintf("source %s and type %s: ", e.SourceID, e.Type)}
	switch {
	case !d.Matches:
		d.Trigger += "not selected by the trigger's sources and types"
	case wf.If != nil:
		ok, err := wf.If.EvalBool(ctx, st.vars)
		d.Matches = err == nil && ok
		switch {
		case err != nil:
			d.Trigger += "the condition fails: " + err.Error()
		case !ok:
			d.Trigger += "the condition is false"
		default:
			d.Trigger += "selected, and the condition holds"
		}
	default:
		d.Trigger += "selected"
	}
	st.mu.Lock()
	err = st.walk(ctx, wf.Steps, "")
	st.mu.Unlock()
	if err != nil && err != errStop {
		return nil, err
	}
	d.Steps, d.Outcome = log.steps, log.outcome()
	if d.Steps == nil {
		d.Steps = []DryStep{}
	}
	if !d.Matches {
		d.Outcome = "would not start (" + d.Trigger + "); if it did, it " + d.Outcome
	}
	return d, nil
}

// dryLog is what a dry run records while the engine's step code walks
// its run. A runState with one writes nothing and sends nothing: each
// place where the engine would act on the world asks it instead.
type dryLog struct {
	steps    []DryStep
	requests map[string]*cdp.Captured // by step id: what the action would send
	current  string                   // the step being executed
	// how the run ended, if a step ended it: its status, the message, and
	// the step that ended it.
	status, msg, at string
}

// exec executes one step as the engine would, and records a row for it.
func (d *dryLog) exec(ctx context.Context, st *runState, cs *CompiledStep, id string) error {
	i := len(d.steps)
	d.steps = append(d.steps, DryStep{ID: id, Kind: strings.Join(cs.kinds(), "")})
	d.current = id
	err := st.exec(ctx, cs, id)
	row, rec := &d.steps[i], st.step(id)
	row.Request = d.requests[id]
	if rec.Status == cdp.RunFailed {
		row.Error = explain(cs, rec.Error)
	}
	switch {
	case cs.Action != "":
		if len(rec.Input) > 0 {
			in := map[string]any{}
			_ = json.Unmarshal(rec.Input, &in)
			row.Input = redact.Fields(in)
		}
	case cs.Foreach != nil:
		_ = json.Unmarshal(rec.Input, &row.Value) // the items
	default:
		_ = json.Unmarshal(rec.Output, &row.Value)
	}
	return err
}

// end records how a step ended the run.
func (d *dryLog) end(status, msg string) {
	if d.status == "" {
		d.status, d.msg, d.at = status, msg, d.current
	}
}

// outcome says how the run would end.
func (d *dryLog) outcome() string {
	switch d.status {
	case cdp.RunFailed:
		return "would fail at " + d.msg
	case cdp.RunSkipped:
		return "would be skipped at " + d.at + " (its filter is false)"
	case cdp.RunSucceeded:
		return "would succeed at " + d.at + " (stop)"
	}
	return "would succeed"
}

// explain is a step's error, and why it may fail only in a dry run.
func explain(cs *CompiledStep, msg string) string {
	if readsSteps(cs) {
		msg += " (an earlier action's output: a dry run calls nothing, so it has none)"
	}
	return msg
}

// readsSteps reports whether an expression of the step itself reads
// steps.
func readsSteps(cs *CompiledStep) bool {
	progs := []*expr.Program{cs.Filter, cs.Wait, cs.If, cs.Map}
	for _, in := range cs.With {
		progs = append(progs, in.Program)
	}
	for _, p := range cs.Set {
		progs = append(progs, p)
	}
	for _, p := range cs.Increment {
		progs = append(progs, p)
	}
	for _, p := range progs {
		if p.Uses("steps") {
			return true
		}
	}
	return false
}
