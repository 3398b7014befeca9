package workflow

import (
	"context"
	"fmt"
	"github.com/switchyardhq/switchyard/internal/redact"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/httpclient"
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
	Value   any            `json:"value,omitempty"` // a filter's or branch's result, a wait's end, profile changes
	Error   string         `json:"error,omitempty"`
}

// maxDryItems caps how many items of a foreach a dry run walks.
const maxDryItems = 5

// DryRun compiles w against the destinations and walks it over the
// stored event eventID. Earlier actions' outputs are unknown (nothing is
// called), so an expression reading steps.<id>.output fails there, and
// says so.
func (r *Registry) DryRun(ctx context.Context, store cdp.Store, w *Workflow, eventID string, now time.Time) (*DryRun, error) {
	wf, problems := Compile(w, r.refs())
	if problems != nil {
		return nil, cdp.Errorf(cdp.EINVALID, "%s", strings.Join(problems, "; "))
	}
	e, err := store.FindEventByID(ctx, eventID)
	if err != nil {
		return nil, err
	}
	vars := exprVars(e, e.View(), now, storePeople(ctx, store, true, true))
	d := &DryRun{Steps: []DryStep{}}
	d.Matches = wf.Matches(e.SourceID, e.Type)
	d.Trigger = fmt.Sprintf("source %s and type %s: ", e.SourceID, e.Type)
	if !d.Matches {
		d.Trigger += "not selected by the trigger's sources and types"
	} else if wf.If != nil {
		ok, err := wf.If.EvalBool(ctx, vars)
		d.Matches = err == nil && ok
		switch {
		case err != nil:
			d.Trigger += "the condition fails: " + err.Error()
		case !ok:
			d.Trigger += "the condition is false"
		default:
			d.Trigger += "selected, and the condition holds"
		}
	} else {
		d.Trigger += "selected"
	}
	named := map[string]any{}
	for name, in := range wf.Vars {
		if in.Program == nil {
			named[name] = in.Literal
			continue
		}
		v, err := in.Program.Eval(ctx, vars)
		if err != nil {
			v = nil
		}
		named[name] = v
	}
	vars["vars"] = named
	dr := &dryWalk{r: r, d: d, vars: vars, now: now}
	d.Outcome = dr.walk(ctx, wf.Steps, "")
	if d.Outcome == "" {
		d.Outcome = "would succeed"
	}
	if !d.Matches {
		d.Outcome = "would not start (" + d.Trigger + "); if it did, it " + d.Outcome
	}
	return d, nil
}

type dryWalk struct {
	r    *Registry
	d    *DryRun
	vars map[string]any
	now  time.Time
}

// walk returns "" to go on, or how the run would end.
func (w *dryWalk) walk(ctx context.Context, steps []*CompiledStep, suffix string) string {
	for _, cs := range steps {
		id := cs.ID + suffix
		st := DryStep{ID: id, Kind: strings.Join(cs.kinds(), "")}
		end := w.step(ctx, cs, &st)
		w.d.Steps = append(w.d.Steps, st)
		if end == "" && st.Error != "" {
			end = "would fail at " + id + ": " + st.Error
		}
		if end != "" {
			return end
		}
		if cs.Foreach != nil {
			if end := w.foreach(ctx, cs, st.Value); end != "" {
				return end
			}
		}
	}
	return ""
}

// step evaluates one step into st; it returns how the run would end there.
func (w *dryWalk) step(ctx context.Context, cs *CompiledStep, st *DryStep) string {
	switch {
	case cs.Action != "":
		w.action(ctx, cs, st)
	case cs.Filter != nil:
		ok, err := cs.Filter.EvalBool(ctx, w.vars)
		if err != nil {
			st.Error = "filter: " + explain(err)
			return ""
		}
		st.Value = ok
		if !ok {
			return "would be skipped at " + st.ID + " (its filter is false)"
		}
	case cs.Wait != nil:
		v, err := cs.Wait.Eval(ctx, w.vars)
		if err != nil {
			st.Error = "wait: " + explain(err)
			return ""
		}
		st.Value = fmt.Sprintf("would wait: %v", v)
	case cs.Branch != nil:
		ok, err := cs.If.EvalBool(ctx, w.vars)
		if err != nil {
			st.Error = "branch.if: " + explain(err)
			return ""
		}
		st.Value = ok
		steps := cs.Else
		if ok {
			steps = cs.Then
		}
		return w.walk(ctx, steps, "")
	case cs.Foreach != nil:
		v, err := cs.Map.Eval(ctx, w.vars)
		if err != nil {
			st.Error = "foreach.items: " + explain(err)
			return ""
		}
		st.Value = v
	case cs.ProfileUpdate != nil:
		w.profileUpdate(ctx, cs, st)
	case cs.Stop:
		return "would succeed at " + st.ID + " (stop)"
	}
	return ""
}

// explain is an expression's error, and why it may fail only in a dry run.
func explain(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "steps") || strings.Contains(msg, "output") {
		msg += " (an earlier action's output: a dry run calls nothing, so it has none)"
	}
	return msg
}

// action maps an action step's inputs and builds the request it would
// send, credentials masked.
func (w *dryWalk) action(ctx context.Context, cs *CompiledStep, st *DryStep) {
	in := map[string]any{}
	for name, input := range cs.With {
		v, err := w.evalInput(ctx, input)
		if err != nil {
			st.Error = fmt.Sprintf("with.%s: %s", name, explain(err))
			return
		}
		in[name] = v
	}
	if cs.Spec != nil && cs.Spec.EventBody && !has(in, "body") {
		in["body"] = w.vars["event"]
	}
	st.Input = redact.Fields(in)
	dest, ok := w.r.Destination(cs.Destination)
	if !ok {
		dest = noDestination
	}
	call, err := BuildCall(cs.Spec, dest, in, "dry-run:"+st.ID, w.now)
	if err != nil {
		st.Error = err.Error()
		return
	}
	req := httpclient.CaptureRequest(call.Request, w.r.actions.Secrets(dest))
	st.Request = &req
}

// profileUpdate evaluates the changes a profile.update step would make.
func (w *dryWalk) profileUpdate(ctx context.Context, cs *CompiledStep, st *DryStep) {
	changes := map[string]any{}
	for _, part := range []struct {
		name  string
		progs map[string]*expr.Program
	}{{"set", cs.Set}, {"increment", cs.Increment}} {
		for k, p := range part.progs {
			v, err := p.Eval(ctx, w.vars)
			if err != nil {
				st.Error = fmt.Sprintf("profile.update.%s.%s: %s", part.name, k, explain(err))
				return
			}
			changes[part.name+"."+k] = v
		}
	}
	for _, k := range cs.ProfileUpdate.Unset {
		changes["unset."+k] = true
	}
	st.Value = changes
}

// foreach walks the body for the first items of the list.
func (w *dryWalk) foreach(ctx context.Context, cs *CompiledStep, items any) string {
	list, _ := items.([]any)
	outer := w.vars["item"]
	defer func() { w.vars["item"] = outer }()
	for i, item := range list {
		if i == maxDryItems {
			break
		}
		w.vars["item"] = item
		if end := w.walk(ctx, cs.Body, fmt.Sprintf("[%d]", i)); end != "" {
			return end
		}
	}
	return ""
}

func (w *dryWalk) evalInput(ctx context.Context, in Input) (any, error) {
	if in.Program == nil {
		return in.Literal, nil
	}
	return in.Program.Eval(ctx, w.vars)
}
