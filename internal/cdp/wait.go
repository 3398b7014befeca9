package cdp

import (
	"context"
	"encoding/json"
	"time"
)

// Kinds of wait.
const (
	// WaitEvent holds a run until a later event of its profile meets the
	// step's condition (wait_for: {event: …}).
	WaitEvent = "event"
	// WaitProfile holds a run until its profile meets a condition
	// (wait_for: {until: …}), looked at whenever the profile changes.
	WaitProfile = "profile"
	// WaitExit watches a run's whole life for an event that ends it
	// (the workflow's exit_when).
	WaitExit = "exit"
)

// Wait is a run held for what its person does next. Waits are rows, not
// goroutines or queued messages: a run waiting a week costs a row,
// indexed by profile (the processor looks up the waits of each stored
// event's profile in the transaction that stores it) and by deadline
// (timeouts are claimed from the store at a bounded rate). Whoever
// deletes the row (the processor with a matching event, a timeout, the
// run looking at events stored before it started waiting) is the one
// that resumes the run: it happens once.
type Wait struct {
	RunID      string `json:"run_id"`
	StepID     string `json:"step_id"` // the step (with a foreach's index); "" for WaitExit
	WorkflowID string `json:"workflow_id"`
	// Version is the run's workflow version, whose step says what the
	// wait waits for.
	Version int    `json:"workflow_version"`
	Kind    string `json:"kind"`
	// ProfileID is the person whose events and changes are looked at;
	// merges move it to the survivor, an erase deletes the wait.
	ProfileID string `json:"profile_id"`
	// After is the receive time of the run's event: a wait looks only at
	// later events.
	After time.Time `json:"after"`
	// Deadline is when the wait times out; nil for none (WaitExit).
	Deadline *time.Time `json:"deadline,omitempty"`
	// Scope holds what the wait's expressions read besides the incoming
	// event, as it was when the run started waiting: the run's trigger
	// event, vars and step outputs (JSON), so matching needs no other read.
	Scope     json.RawMessage `json:"scope,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// WaitCount is how many runs wait at one step of a workflow.
type WaitCount struct {
	WorkflowID string `json:"workflow_id"`
	StepID     string `json:"step_id"`
	Runs       int    `json:"runs"`
}

// FrequencyStore is the part of a transaction that keeps how often
// people started a workflow.
type FrequencyStore interface {
	// ClaimFrequency records that profile starts a run of workflow now,
	// unless an earlier claim still holds (it had no end, or ends after
	// now): it reports whether this claim was taken. until is when the
	// next may start; nil for never. Two claims at once, on any nodes,
	// never both succeed.
	ClaimFrequency(ctx context.Context, workflowID, profileID string, until *time.Time, now time.Time) (bool, error)
	// SetDebounce makes run the latest of workflow's debounced runs of
	// key: the one that starts when its period ends (the others end as
	// skipped).
	SetDebounce(ctx context.Context, workflowID, key, runID string) error
	// ClaimLine makes run the holder of workflow's line for key (its
	// order_by), unless another run holds it; it reports whether run
	// holds it. Two claims at once, on any nodes, never both succeed.
	ClaimLine(ctx context.Context, workflowID, key, runID string) (bool, error)
	// ReleaseLine lets go of the line if run holds it.
	ReleaseLine(ctx context.Context, workflowID, key, runID string) error
}

// WaitStore is the part of a transaction that keeps waits.
type WaitStore interface {
	// InsertWait stores w unless its run already waits at its step.
	InsertWait(ctx context.Context, w *Wait) error
	// DeleteWait deletes the wait of run at step and reports whether it
	// was there: the claim that makes its deleter the one to resume the
	// run.
	DeleteWait(ctx context.Context, runID, stepID string) (bool, error)
	// DeleteRunWaits deletes every wait of a run (it ended).
	DeleteRunWaits(ctx context.Context, runID string) error
	// HasWaits reports whether any wait is stored: one cheap read that
	// spares a store without journeys a lookup per person.
	HasWaits(ctx context.Context) (bool, error)
	// ProfileWaits returns the waits of the profiles, oldest first.
	ProfileWaits(ctx context.Context, profileIDs []string) ([]*Wait, error)
	// ClaimDueWaits deletes and returns up to limit waits whose deadline
	// is at or before now, earliest first; on a store several nodes
	// share, two calls never return the same wait.
	ClaimDueWaits(ctx context.Context, now time.Time, limit int) ([]*Wait, error)
}
