package cdp

import (
	"encoding/json"
	"time"
)

// Run statuses, as the management API shows them.
const (
	RunPending   = "pending"   // created, not started
	RunRunning   = "running"   // a runner is executing it
	RunWaiting   = "waiting"   // until NextAt: a wait step or an action's next attempt
	RunSucceeded = "succeeded" // every step done
	RunFailed    = "failed"    // a step exhausted its attempts or failed permanently: the dead letter
	RunSkipped   = "skipped"   // a filter step ended it
	RunExited    = "exited"    // the workflow's exit_when met a later event of the run's person
)

// Run is one execution of a workflow for one event. It is created in the
// transaction that stores the event, so that a redelivered event cannot
// start its runs twice (one run per workflow and event), and it records
// every step's outcome, so that a resumed run never repeats a completed
// step.
type Run struct {
	ID              string    `json:"id"`
	WorkflowID      string    `json:"workflow_id"`
	WorkflowVersion int       `json:"workflow_version"`
	EventID         string    `json:"event_id"`
	Status          string    `json:"status"`
	Steps           []StepRun `json:"steps"`
	Error           string    `json:"error,omitempty"`
	// NextAt is when a waiting run resumes.
	NextAt *time.Time `json:"next_at,omitempty"`
	// WaitingOn names the destination whose circuit breaker holds the run
	// (open or paused): it resumes when the destination closes.
	WaitingOn string `json:"waiting_on,omitempty"`
	// BackfillID names the backfill that made the run ("" for a run an
	// arriving event started): one run per workflow, event and backfill.
	BackfillID string    `json:"backfill_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// OrderKey, when set, puts the run in line behind the earlier runs of
	// its workflow with the same key (the workflow's order_by): they run
	// one at a time, in the order their events were stored.
	OrderKey string `json:"order_key,omitempty"`
	// DebounceKey, when set, makes the run wait out its trigger's
	// debounce period (until NextAt) and start only if no later event of
	// the key started another meanwhile.
	DebounceKey string `json:"debounce_key,omitempty"`
	// TraceParent is the W3C traceparent the run's spans descend from (the
	// storing of its event, in the trace of the request that carried it),
	// when tracing recorded it; its second field is the trace id.
	TraceParent string `json:"traceparent,omitempty"`
	// Event, when set, is the run's event itself: a backfill from the
	// archive made the run for an event the store no longer keeps.
	Event *Event `json:"event,omitempty"`
	// Version counts updates; UpdateRun refuses a stale one.
	Version int `json:"-"`
}

// StepRun is what one step of a run did. Steps of a foreach or branch are
// recorded under their own ids (with the item index for a foreach).
type StepRun struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"` // a run status
	Input    json.RawMessage `json:"input,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Attempts []Attempt       `json:"attempts,omitempty"`
	Error    string          `json:"error,omitempty"`
	// RoundStart is the index in Attempts where the current round of
	// attempts began: a retry of a failed run starts a new round, with the
	// whole retry budget, and keeps the earlier attempts in the log.
	RoundStart int `json:"round_start,omitempty"`
}

// Attempt is one try of an action's request, as the run log shows it:
// credentials masked, bodies cut.
type Attempt struct {
	N          int       `json:"n"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Request    Captured  `json:"request"`
	Response   *Captured `json:"response,omitempty"`
	Error      string    `json:"error,omitempty"`
	Outcome    string    `json:"outcome"` // succeeded, retryable or permanent
	// Probe marks the attempt a destination's open circuit breaker let
	// through to learn whether it recovered: it does not count against
	// the run's retries.
	Probe bool `json:"probe,omitempty"`
	// Batch, if set, says the attempt went out in a batch with the calls
	// of other runs: Request is the batch's, with this run's part as its
	// body, and Response the batch's answer.
	Batch *AttemptBatch `json:"batch,omitempty"`
}

// AttemptBatch places an attempt in the batch it went out in.
type AttemptBatch struct {
	ID    string `json:"id"`
	Size  int    `json:"size"`
	Index int    `json:"index"` // of this run's part, from 0
}

// Spent counts the attempts of a round that count against its retry
// budget: all but the breaker's probes.
func Spent(round []Attempt) int {
	n := 0
	for _, a := range round {
		if !a.Probe {
			n++
		}
	}
	return n
}

// Captured is a request or response in the run log.
type Captured struct {
	Method    string              `json:"method,omitempty"`
	URL       string              `json:"url,omitempty"`
	Status    int                 `json:"status,omitempty"`
	Headers   map[string][]string `json:"headers,omitempty"`
	Body      string              `json:"body,omitempty"`
	Truncated bool                `json:"truncated,omitempty"`
}

// RunFilter selects runs for listing, newest first.
type RunFilter struct {
	WorkflowID string
	EventID    string // the runs one event started
	Status     string
	WaitingOn  string // the runs a destination's breaker holds
	Since      time.Time
	Until      time.Time
	Limit      int
	Cursor     string
}

// DeadLetter is a workflow's runs in the dead letter (failed, until
// retried): how many, and the newest of them.
type DeadLetter struct {
	Runs   int
	Newest string // a run id
}

// RunCount is how many runs are in a status, and since when the oldest.
type RunCount struct {
	Runs   int
	Oldest time.Time
}
