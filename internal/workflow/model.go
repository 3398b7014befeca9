// Package workflow is the workflow model (a trigger, then steps) and its
// compilation: every expression is parsed and type-checked when a
// workflow is loaded, so that `switchyard config validate` and the
// management API report a mistake with its path, never a run.
package workflow

// Workflow is a trigger and the steps a matching event runs.
type Workflow struct {
	ID      string  `json:"id" yaml:"id"`
	Name    string  `json:"name,omitempty" yaml:"name,omitempty"`
	Enabled *bool   `json:"enabled,omitempty" yaml:"enabled,omitempty"` // default true
	Trigger Trigger `json:"trigger" yaml:"trigger"`
	Steps   []Step  `json:"steps" yaml:"steps"`
	// Vars are named expressions evaluated once per run, before the
	// first step; steps read them as vars.<name>.
	Vars map[string]any `json:"vars,omitempty" yaml:"vars,omitempty"`
	// ExitWhen is a CEL condition over each later event of the run's
	// person (event; the run's own is trigger): the first that meets it
	// ends the run at once, as exited, whatever step it is in.
	ExitWhen string `json:"exit_when,omitempty" yaml:"exit_when,omitempty"`
	// OrderBy puts the runs of one key in line: they run one at a time,
	// in the order their events were stored (different keys side by
	// side). "profile" is the event's person; anything else is a CEL
	// expression over the trigger's variables. An event with no key (no
	// person) is not held in any line.
	OrderBy string `json:"order_by,omitempty" yaml:"order_by,omitempty"`
}

// Trigger selects the events that start a run.
type Trigger struct {
	// Source or Sources name the sources (none = every source).
	Source  string   `json:"source,omitempty" yaml:"source,omitempty"`
	Sources []string `json:"sources,omitempty" yaml:"sources,omitempty"`
	// Types are event types, with * matching any run of characters
	// (email_* …); none = every type.
	Types []string `json:"types,omitempty" yaml:"types,omitempty"`
	// If is a CEL condition over {event, profile, session, now}.
	If string `json:"if,omitempty" yaml:"if,omitempty"`
	// Frequency limits the runs one person starts (none: every event).
	Frequency *Frequency `json:"frequency,omitempty" yaml:"frequency,omitempty"`
	// Debounce holds each run for a period; a later matching event of
	// the same key starts the period again, and only the last one's run
	// goes on.
	Debounce *Debounce `json:"debounce,omitempty" yaml:"debounce,omitempty"`
}

// Debounce is a trigger's debounce: Key is a CEL expression over the
// trigger's variables (empty: the event's person), Period a duration.
type Debounce struct {
	Key    string `json:"key,omitempty" yaml:"key,omitempty"`
	Period string `json:"period" yaml:"period"`
}

// Step is one step; exactly one of its kinds is set.
type Step struct {
	ID string `json:"id" yaml:"id"`
	// Action calls a destination: With holds its inputs, each a CEL
	// expression (a string) or a literal (any other YAML value).
	Action      string         `json:"action,omitempty" yaml:"action,omitempty"`
	Destination string         `json:"destination,omitempty" yaml:"destination,omitempty"`
	With        map[string]any `json:"with,omitempty" yaml:"with,omitempty"`
	// Retry overrides the action's retry policy.
	Retry *Retry `json:"retry,omitempty" yaml:"retry,omitempty"`
	// Filter ends the run as skipped when the condition is false.
	Filter string `json:"filter,omitempty" yaml:"filter,omitempty"`
	// Wait pauses the run: a CEL duration (duration('1h')) or a
	// timestamp to wait until.
	Wait string `json:"wait,omitempty" yaml:"wait,omitempty"`
	// WaitFor holds the run until its person does something, or a
	// timeout passes.
	WaitFor *WaitFor `json:"wait_for,omitempty" yaml:"wait_for,omitempty"`
	// Branch runs Then or Else.
	Branch *Branch `json:"branch,omitempty" yaml:"branch,omitempty"`
	// Foreach runs Steps for each item of a CEL list, as item.
	Foreach *Foreach `json:"foreach,omitempty" yaml:"foreach,omitempty"`
	// ProfileUpdate changes the run's profile.
	ProfileUpdate *ProfileUpdate `json:"profile.update,omitempty" yaml:"profile.update,omitempty"`
	// Stop ends the run as succeeded.
	Stop bool `json:"stop,omitempty" yaml:"stop,omitempty"`
}

// WaitFor holds a run until a later event of its person (after a merge,
// of the survivor) meets Event and Match, or its profile meets Until, or
// Timeout passes. The step's output is {matched, event}: matched is false
// on a timeout, event the event that matched (for Until, the event whose
// change met it).
type WaitFor struct {
	// Event is a CEL condition over the incoming event, with the run's
	// own event as trigger, its vars and steps.
	Event string `json:"event,omitempty" yaml:"event,omitempty"`
	// Match further correlates the event with the run, such as
	// event.properties.cart_id == trigger.properties.cart_id.
	Match string `json:"match,omitempty" yaml:"match,omitempty"`
	// Until is a CEL condition over profile, looked at when the run
	// starts waiting and after each event of the person.
	Until string `json:"until,omitempty" yaml:"until,omitempty"`
	// Timeout is a CEL duration or timestamp, as wait takes.
	Timeout string `json:"timeout" yaml:"timeout"`
}

// Retry is a step's retry policy.
type Retry struct {
	MaxAttempts int    `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	Base        string `json:"base,omitempty" yaml:"base,omitempty"` // a Go duration, e.g. 1s
	Max         string `json:"max,omitempty" yaml:"max,omitempty"`
}

// Branch is an if/then/else.
type Branch struct {
	If   string `json:"if" yaml:"if,omitempty"`
	Then []Step `json:"then" yaml:"then,omitempty"`
	Else []Step `json:"else,omitempty" yaml:"else,omitempty"`
}

// Foreach runs steps over a list with bounded parallelism.
type Foreach struct {
	Items    string `json:"items" yaml:"items,omitempty"`
	Parallel int    `json:"parallel,omitempty" yaml:"parallel,omitempty"` // default 1
	Steps    []Step `json:"steps" yaml:"steps"`
}

// ProfileUpdate sets, unsets and increments traits; values are CEL.
type ProfileUpdate struct {
	Set       map[string]string `json:"set,omitempty" yaml:"set,omitempty"`
	Unset     []string          `json:"unset,omitempty" yaml:"unset,omitempty"`
	Increment map[string]string `json:"increment,omitempty" yaml:"increment,omitempty"`
}

// kind names the step's kind, "" if it sets none.
func (s *Step) kinds() []string {
	var k []string
	if s.Action != "" {
		k = append(k, "action")
	}
	if s.Filter != "" {
		k = append(k, "filter")
	}
	if s.Wait != "" {
		k = append(k, "wait")
	}
	if s.WaitFor != nil {
		k = append(k, "wait_for")
	}
	if s.Branch != nil {
		k = append(k, "branch")
	}
	if s.Foreach != nil {
		k = append(k, "foreach")
	}
	if s.ProfileUpdate != nil {
		k = append(k, "profile.update")
	}
	if s.Stop {
		k = append(k, "stop")
	}
	return k
}
