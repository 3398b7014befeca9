package cdp

import (
	"context"
	"encoding/json"
	"time"
)

// WorkflowVersion is one version of a workflow created through the
// management API. Versions are appended, never changed: a run keeps
// executing the version it started with while newer ones are saved, and
// a deletion is itself a version (Deleted), so the history stays whole.
type WorkflowVersion struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	// Definition is the workflow as the workflow package encodes it (the
	// domain does not need to read it).
	Definition json.RawMessage `json:"definition"`
	Deleted    bool            `json:"deleted,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// WorkflowStore keeps the workflows created through the management API.
type WorkflowStore interface {
	// FindWorkflows returns the latest version of every workflow, deleted
	// ones included, by id.
	FindWorkflows(ctx context.Context) ([]*WorkflowVersion, error)
	// FindWorkflowVersions returns every version of workflow id, oldest
	// first, or ENOTFOUND.
	FindWorkflowVersions(ctx context.Context, id string) ([]*WorkflowVersion, error)
	// FindWorkflowVersion returns one version, or ENOTFOUND.
	FindWorkflowVersion(ctx context.Context, id string, version int) (*WorkflowVersion, error)
	// SaveWorkflow appends w. It returns ECONFLICT unless w.Version is one
	// more than the latest stored version (1 for a new id): two concurrent
	// saves of one workflow cannot both win.
	SaveWorkflow(ctx context.Context, w *WorkflowVersion) error
}
