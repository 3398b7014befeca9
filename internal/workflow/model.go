// Package workflow is the workflow model (a trigger, then steps) and its
// compilation: every expression is parsed and type-checked when a
// workflow is loaded, so that `switchyard config validate` and the
// management API report a mistake with its path, never a run.
package workflow

// Workflow is a trigger and the steps a matching event runs.
type Workflow struct {
	ID      string  `json:"id" yaml:"id"`
	Name    string  `json:"name,omitempty" yaml:"name"`
	Enabled *bool   `json:"enabled,omitempty" yaml:"enabled"` // default true
	Trigger Trigger `json:"trigger" yaml:"trigger"`
	Steps   []Step  `json:"steps" yaml:"steps"`
	// Vars are named expressions evaluated once per run, before the
	// first step; steps read them as vars.<name>.
	Vars map[string]any `json:"vars,omitempty" yaml:"vars"`
}

// Trigger selects the events that start a run.
type Trigger struct {
	// Source or Sources name the sources (none = every source).
	Source  string   `json:"source,omitempty" yaml:"source"`
	Sources []string `json:"sources,omitempty" yaml:"sources"`
	// Types are event types, with * matching any run of characters
	// (email_* …); none = every type.
	Types []string `json:"types,omitempty" yaml:"types"`
	// If is a CEL condition over {event, profile, session, now}.
	If string `json:"if,omitempty" yaml:"if"`
}

// Step is one step; exactly one of its kinds is set.
type Step struct {
	ID string `json:"id" yaml:"id"`
	// Action calls a destination: With holds its inputs, each a CEL
	// expression (a string) or a literal (any other YAML value).
	Action      string         `json:"action,omitempty" yaml:"action"`
	Destination string         `json:"destination,omitempty" yaml:"destination"`
	With        map[string]any `json:"with,omitempty" yaml:"with"`
	// Retry overrides the action's retry policy.
	Retry *Retry `json:"retry,omitempty" yaml:"retry"`
	// Filter ends the run as skipped when the condition is false.
	Filter string `json:"filter,omitempty" yaml:"filter"`
	// Wait pauses the run: a CEL duration (duration('1h')) or a
	// timestamp to wait until.
	Wait string `json:"wait,omitempty" yaml:"wait"`
	// Branch runs Then or Else.
	Branch *Branch `json:"branch,omitempty" yaml:"branch"`
	// Foreach runs Steps for each item of a CEL list, as item.
	Foreach *Foreach `json:"foreach,omitempty" yaml:"foreach"`
	// ProfileUpdate changes the run's profile.
	ProfileUpdate *ProfileUpdate `json:"profile.update,omitempty" yaml:"profile.update"`
	// Stop ends the run as succeeded.
	Stop bool `json:"stop,omitempty" yaml:"stop"`
}

// Retry is a step's retry policy.
type Retry struct {
	MaxAttempts int    `json:"max_attempts,omitempty" yaml:"max_attempts"`
	Base        string `json:"base,omitempty" yaml:"base"` // a Go duration, e.g. 1s
	Max         string `json:"max,omitempty" yaml:"max"`
}

// Branch is an if/then/else.
type Branch struct {
	If   string `json:"if" yaml:"if"`
	Then []Step `json:"then" yaml:"then"`
	Else []Step `json:"else,omitempty" yaml:"else"`
}

// Foreach runs steps over a list with bounded parallelism.
type Foreach struct {
	Items    string `json:"items" yaml:"items"`
	Parallel int    `json:"parallel,omitempty" yaml:"parallel"` // default 1
	Steps    []Step `json:"steps" yaml:"steps"`
}

// ProfileUpdate sets, unsets and increments traits; values are CEL.
type ProfileUpdate struct {
	Set       map[string]string `json:"set,omitempty" yaml:"set"`
	Unset     []string          `json:"unset,omitempty" yaml:"unset"`
	Increment map[string]string `json:"increment,omitempty" yaml:"increment"`
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
