package cdp

import (
	"context"
	"time"
)

// Backfill statuses.
const (
	BackfillRunning   = "running"
	BackfillDone      = "done"
	BackfillCancelled = "cancelled"
	BackfillFailed    = "failed"
)

// Backfill is a job that runs a workflow over stored events: it walks
// them oldest first from Cursor, and creates one run per event its
// trigger and filter select (at most one per event and backfill, however
// often a page is walked again after a crash).
type Backfill struct {
	ID              string     `json:"id"`
	WorkflowID      string     `json:"workflow_id"`
	WorkflowVersion int        `json:"workflow_version"`
	Status          string     `json:"status"`
	Since           time.Time  `json:"since"`
	Until           *time.Time `json:"until,omitempty"`
	Filter          string     `json:"filter,omitempty"`
	// Limit caps the runs it creates (0: none); IncludeRan runs events
	// that already started a run of the workflow.
	Limit      int  `json:"limit,omitempty"`
	IncludeRan bool `json:"include_ran,omitempty"`
	// FromArchive walks the archive's files instead of the store: for
	// events older than the store keeps.
	FromArchive bool `json:"from_archive,omitempty"`
	// Selected is how many events it takes, as counted when it was made;
	// Processed how many of those it has handled: a run created, or
	// Skipped (they already ran).
	Selected    int    `json:"selected"`
	Processed   int    `json:"processed"`
	RunsCreated int    `json:"runs_created"`
	Skipped     int    `json:"skipped"`
	Cursor      string `json:"cursor,omitempty"`
	Error       string `json:"error,omitempty"`
	// Owner holds the job until LeaseUntil (one node walks it).
	Owner      string     `json:"owner,omitempty"`
	LeaseUntil time.Time  `json:"lease_until,omitzero"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Version    int        `json:"-"`
}

// BackfillFilter selects backfills.
type BackfillFilter struct {
	ID     string
	Status string
	Limit  int
	Cursor string
}

// BackfillStore keeps backfill jobs. A job's progress is written with
// the runs it creates, in one transaction (Tx.UpdateBackfill).
type BackfillStore interface {
	InsertBackfill(ctx context.Context, b *Backfill) error
	// UpdateBackfill replaces a job; ECONFLICT if it changed since read.
	UpdateBackfill(ctx context.Context, b *Backfill) error
	FindBackfills(ctx context.Context, f BackfillFilter) ([]*Backfill, string, error)
}
