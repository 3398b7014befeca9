package workflow

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/expr"
)

// Env declares what workflow expressions see: the triggering event (as
// event and as trigger; in a wait_for's event and match and in exit_when,
// event is the incoming event and trigger the run's own), its profile and
// session (as the management API renders them), the outputs of earlier
// steps (steps.<id>.output), the run's vars, the current item of a
// foreach, and now.
var Env = expr.MustEnv(
	expr.Var{Name: "event", Type: expr.Object}, expr.Var{Name: "trigger", Type: expr.Object}, expr.Var{Name: "profile", Type: expr.Object},
	expr.Var{Name: "session", Type: expr.Object}, expr.Var{Name: "steps", Type: expr.Object},
	expr.Var{Name: "vars", Type: expr.Object}, expr.Var{Name: "item", Type: expr.Dyn},
	expr.Var{Name: "now", Type: expr.Timestamp})

// Input is a step input: a compiled expression, or a literal.
type Input struct {
	Program *expr.Program
	Literal any
}

// Compiled is a workflow ready to match events and run.
type Compiled struct {
	*Workflow
	If *expr.Program
	// ExitWhen ends a run at a later event of its person (nil: none).
	ExitWhen *expr.Program
	// OrderBy is the key that puts runs in line (nil: none, or the
	// event's person when orderByProfile).
	OrderBy        *expr.Program
	orderByProfile bool
	// debounceKey and debouncePeriod are the trigger's debounce (a nil
	// key is the event's person; a zero period, none).
	debounceKey    *expr.Program
	debouncePeriod time.Duration
	Vars           map[string]Input
	Steps          []*CompiledStep
	// Version, Origin and UpdatedAt say where this definition comes
	// from (set by the Registry).
	Version   int
	Origin    string
	UpdatedAt time.Time
	sources   []string
	types     []*regexp.Regexp
	// usesProfile and usesSession say whether an expression reads them:
	// a run reads from the store only what its expressions read.
	usesProfile, usesSession bool
}

// CompiledStep is a step with its expressions compiled.
type CompiledStep struct {
	*Step
	With                  map[string]Input
	Filter, Wait, If, Map *expr.Program
	// WaitFor's expressions (Timeout in Wait).
	WaitEvent, WaitMatch, WaitUntil *expr.Program
	Then, Else, Body                []*CompiledStep
	Set, Increment                  map[string]*expr.Program
	Policy                          *RetryPolicy
	// Spec is the action's (nil for a step that calls none).
	Spec *action.Spec
}

// RetryPolicy is a step's parsed retry override.
type RetryPolicy struct {
	MaxAttempts int
	Base, Max   time.Duration
}

// References are what a workflow may name: Compile checks its actions
// against Actions (the families this build ships, which the wiring
// passes in) and its sources and destinations against the others (a nil
// map checks nothing).
type References struct {
	Actions      *action.Registry
	Sources      map[string]bool   // source ids
	Destinations map[string]string // destination id → kind
}

var (
	// idPattern names steps and vars: they are read as steps.<id> and
	// vars.<name> in expressions.
	idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	// workflowIDPattern is the source id rule.
	workflowIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
)

// Compile checks w against refs and compiles every expression. Problems
// come back as "path: message", the path relative to the workflow
// (trigger.if, steps[1].with.name …), all of them at once.
func Compile(w *Workflow, refs References) (*Compiled, []string) {
	c := &compiler{refs: refs, ids: map[string]string{}}
	out := &Compiled{Workflow: w, Vars: map[string]Input{}}
	if !workflowIDPattern.MatchString(w.ID) {
		c.add("id", "must be 1-128 letters, digits, '_' or '-', starting with a letter or digit")
	}
	c.source("trigger.source", w.Trigger.Source)
	for i, src := range w.Trigger.Sources {
		c.source(fmt.Sprintf("trigger.sources[%d]", i), src)
	}
	out.sources = slices.Clone(w.Trigger.Sources)
	if w.Trigger.Source != "" {
		out.sources = append(out.sources, w.Trigger.Source)
	}
	for i, t := range w.Trigger.Types {
		if strings.TrimSpace(t) == "" {
			c.add(fmt.Sprintf("trigger.types[%d]", i), "is empty")
			continue
		}
		out.types = append(out.types, glob(t))
	}
	if w.Trigger.If != "" {
		out.If = c.program("trigger.if", w.Trigger.If, expr.Bool)
	}
	if w.ExitWhen != "" {
		out.ExitWhen = c.program("exit_when", w.ExitWhen, expr.Bool)
	}
	if d := w.Trigger.Debounce; d != nil {
		if p, err := time.ParseDuration(d.Period); err != nil || p <= 0 {
			c.add("trigger.debounce.period", "%q is not a positive duration such as 10m", d.Period)
		} else {
			out.debouncePeriod = p
		}
		if d.Key != "" {
			out.debounceKey = c.program("trigger.debounce.key", d.Key, expr.Any)
		}
	}
	switch w.OrderBy {
	case "":
	case "profile":
		out.orderByProfile = true
	default:
		out.OrderBy = c.program("order_by", w.OrderBy, expr.Any)
	}
	for _, name := range sortedKeys(w.Vars) {
		if !idPattern.MatchString(name) {
			c.add("vars."+name, "must be a name of letters, digits and '_'")
		}
		out.Vars[name] = c.input("vars."+name, w.Vars[name])
	}
	if len(w.Steps) == 0 {
		c.add("steps", "a workflow needs at least one step")
	}
	out.Steps = c.steps("steps", w.Steps)
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	for _, p := range c.programs {
		out.usesProfile = out.usesProfile || p.Uses("profile")
		out.usesSession = out.usesSession || p.Uses("session")
	}
	return out, nil
}

type compiler struct {
	programs []*expr.Program // every program compiled, for Uses
	refs     References
	ids      map[string]string // step id → its path
	problems []string
}

func (c *compiler) source(path, id string) {
	if id != "" && c.refs.Sources != nil && !c.refs.Sources[id] {
		c.add(path, "no source %q", id)
	}
}

func (c *compiler) add(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func (c *compiler) program(path, src string, out expr.Output) *expr.Program {
	p, err := Env.Compile(src, out)
	if err != nil {
		c.add(path, "%v", err)
	}
	c.programs = append(c.programs, p)
	return p
}

// input compiles a string as an expression and keeps anything else as a
// literal (numbers, booleans, lists and maps of literals).
func (c *compiler) input(path string, v any) Input {
	s, ok := v.(string)
	if !ok {
		return Input{Literal: v}
	}
	p, err := Env.Compile(s, expr.Any)
	if err != nil {
		c.add(path, "%v", err)
	}
	c.programs = append(c.programs, p)
	return Input{Program: p}
}

func (c *compiler) steps(path string, steps []Step) []*CompiledStep {
	var out []*CompiledStep
	for i := range steps {
		out = append(out, c.step(fmt.Sprintf("%s[%d]", path, i), &steps[i]))
	}
	return out
}

func (c *compiler) step(path string, s *Step) *CompiledStep {
	cs := &CompiledStep{Step: s}
	switch prev, dup := c.ids[s.ID]; {
	case !idPattern.MatchString(s.ID):
		c.add(path+".id", "must start with a letter, then letters, digits or '_' (steps.<id>.output names it)")
	case dup:
		c.add(path+".id", "duplicates %s.id %q", prev, s.ID)
	default:
		c.ids[s.ID] = path
	}
	kinds := s.kinds()
	if len(kinds) != 1 {
		c.add(path, "must be exactly one of action, filter, wait, wait_for, branch, foreach, profile.update or stop (has %s)", describe(kinds))
		return cs
	}
	switch kinds[0] {
	case "action":
		c.action(path, s, cs)
	case "filter":
		cs.Filter = c.program(path+".filter", s.Filter, expr.Bool)
	case "wait":
		cs.Wait = c.program(path+".wait", s.Wait, expr.Time)
	case "wait_for":
		c.waitFor(path+".wait_for", s.WaitFor, cs)
	case "branch":
		cs.If = c.program(path+".branch.if", s.Branch.If, expr.Bool)
		if len(s.Branch.Then) == 0 {
			c.add(path+".branch.then", "needs at least one step")
		}
		cs.Then = c.steps(path+".branch.then", s.Branch.Then)
		cs.Else = c.steps(path+".branch.else", s.Branch.Else)
	case "foreach":
		cs.Map = c.program(path+".foreach.items", s.Foreach.Items, expr.Any)
		if s.Foreach.Parallel < 0 || s.Foreach.Parallel > 64 {
			c.add(path+".foreach.parallel", "must be 1-64 (0 = 1)")
		}
		if len(s.Foreach.Steps) == 0 {
			c.add(path+".foreach.steps", "needs at least one step")
		}
		cs.Body = c.steps(path+".foreach.steps", s.Foreach.Steps)
	case "profile.update":
		u := s.ProfileUpdate
		cs.Set, cs.Increment = map[string]*expr.Program{}, map[string]*expr.Program{}
		for _, k := range sortedKeys(u.Set) {
			cs.Set[k] = c.program(path+".profile.update.set."+k, u.Set[k], expr.Any)
		}
		for _, k := range sortedKeys(u.Increment) {
			cs.Increment[k] = c.program(path+".profile.update.increment."+k, u.Increment[k], expr.Any)
		}
		if len(u.Set)+len(u.Unset)+len(u.Increment) == 0 {
			c.add(path+".profile.update", "sets, unsets or increments nothing")
		}
	}
	return cs
}

// waitFor compiles a wait_for: an event (with an optional match) or an
// until, and a timeout.
func (c *compiler) waitFor(path string, w *WaitFor, cs *CompiledStep) {
	switch {
	case (w.Event == "") == (w.Until == ""):
		c.add(path, "needs exactly one of event (a later event of the person) or until (a condition over the profile)")
	case w.Match != "" && w.Event == "":
		c.add(path+".match", "correlates an event: it needs event")
	}
	if w.Event != "" {
		cs.WaitEvent = c.program(path+".event", w.Event, expr.Bool)
	}
	if w.Match != "" {
		cs.WaitMatch = c.program(path+".match", w.Match, expr.Bool)
	}
	if w.Until != "" {
		cs.WaitUntil = c.program(path+".until", w.Until, expr.Bool)
	}
	if w.Timeout == "" {
		c.add(path+".timeout", "is required: how long to wait at most, such as duration('1h')")
		return
	}
	cs.Wait = c.program(path+".timeout", w.Timeout, expr.Time)
}

func (c *compiler) action(path string, s *Step, cs *CompiledStep) {
	spec, ok := c.refs.Actions.Action(s.Action)
	if !ok {
		// The rest of the step is still checked, so that fixing the
		// action's name does not reveal a second round of problems.
		c.add(path+".action", "unknown action %q (actions: %s)", s.Action, strings.Join(c.refs.Actions.ActionKinds(), ", "))
		if _, found := c.refs.Destinations[s.Destination]; s.Destination != "" && c.refs.Destinations != nil && !found {
			c.add(path+".destination", "no destination %q", s.Destination)
		}
		for _, k := range sortedKeys(s.With) {
			c.input(path+".with."+k, s.With[k])
		}
		return
	}
	cs.Spec = spec
	if spec.Destination != "" || s.Destination != "" {
		kind, found := c.refs.Destinations[s.Destination]
		switch {
		case s.Destination == "":
			c.add(path+".destination", "is required: a destination of kind %s", spec.Destination)
		case c.refs.Destinations != nil && !found:
			c.add(path+".destination", "no destination %q", s.Destination)
		case found && kind != spec.Destination && (spec.Destination != "" || kind != "http"):
			want := spec.Destination
			if want == "" {
				want = "http (or none)"
			}
			c.add(path+".destination", "%q is of kind %s; %s needs kind %s", s.Destination, kind, s.Action, want)
		}
	}
	var names []string
	for _, in := range spec.Inputs {
		names = append(names, in.Name)
		if _, ok := s.With[in.Name]; in.Required && !ok {
			c.add(path+".with."+in.Name, "is required by %s", s.Action)
		}
	}
	cs.With = map[string]Input{}
	for _, k := range sortedKeys(s.With) {
		in, ok := spec.Input(k)
		if !ok {
			c.add(path+".with."+k, "is not an input of %s (inputs: %s)", s.Action, strings.Join(names, ", "))
			continue
		}
		if problem := literalType(in.Type, s.With[k]); problem != "" {
			c.add(path+".with."+k, "%s", problem)
			continue
		}
		cs.With[k] = c.input(path+".with."+k, s.With[k])
	}
	if s.Retry != nil {
		var problems map[string]string
		cs.Policy, problems = ParseRetry(s.Retry)
		for _, k := range sortedKeys(problems) {
			c.add(path+".retry."+k, "%s", problems[k])
		}
	}
}

// literalType is the problem of an input written as a literal (not an
// expression) of the wrong type, or "".
func literalType(want string, v any) string {
	var ok bool
	switch v.(type) {
	case string:
		return "" // an expression, typed when it is evaluated
	case map[string]any:
		ok = want == action.Object || want == action.Any
	case []any:
		ok = want == action.List || want == action.Any
	default:
		ok = want != action.Object && want != action.List
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("must be %s %s, not %v", article(want), want, v)
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// ParseRetry parses a retry policy; problems are keyed by field.
func ParseRetry(r *Retry) (*RetryPolicy, map[string]string) {
	p, problems := &RetryPolicy{MaxAttempts: r.MaxAttempts}, map[string]string{}
	if r.MaxAttempts < 0 || r.MaxAttempts > 100 {
		problems["max_attempts"] = "must be 1-100 (0 = the default)"
	}
	for _, f := range []struct {
		name, value string
		into        *time.Duration
	}{{"base", r.Base, &p.Base}, {"max", r.Max, &p.Max}} {
		if f.value == "" {
			continue
		}
		v, err := time.ParseDuration(f.value)
		if err != nil || v <= 0 {
			problems[f.name] = fmt.Sprintf("%q is not a positive duration such as 2s", f.value)
		}
		*f.into = v
	}
	if len(problems) == 0 {
		return p, nil
	}
	return p, problems
}

func describe(kinds []string) string {
	if len(kinds) == 0 {
		return "none"
	}
	return strings.Join(kinds, " and ")
}

// glob turns a type pattern with * into an anchored regexp.
func glob(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// Matches reports whether an event of source and type starts a run, before
// the trigger's condition is evaluated.
func (c *Compiled) Matches(source, typ string) bool {
	if len(c.sources) > 0 && !slices.Contains(c.sources, source) {
		return false
	}
	if len(c.types) == 0 {
		return true
	}
	return slices.ContainsFunc(c.types, func(re *regexp.Regexp) bool { return re.MatchString(typ) })
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
