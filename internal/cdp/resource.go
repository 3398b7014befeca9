package cdp

import (
	"context"
	"encoding/json"
	"time"
)

// Kinds of resource kept in the store besides workflows.
const (
	ResourceDestination  = "destination"
	ResourceAlertChannel = "alert_channel"
	ResourceAlertRule    = "alert_rule"
	ResourceTrackingPlan = "tracking_plan"
)

// ResourceVersion is one version of a destination, an alert channel or an
// alert rule created through the management API: every change is a new
// version, and the previous ones are kept.
type ResourceVersion struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Version int    `json:"version"`
	// Definition is the resource in the configuration file's shape, as
	// JSON (the domain does not need to read it).
	Definition json.RawMessage `json:"definition"`
	Deleted    bool            `json:"deleted,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// ResourceStore keeps the resources created through the management API.
type ResourceStore interface {
	// FindResources returns the latest version of every resource of kind,
	// deleted ones included, by id.
	FindResources(ctx context.Context, kind string) ([]*ResourceVersion, error)
	// FindResourceVersions returns every version of a resource, oldest
	// first, or ENOTFOUND.
	FindResourceVersions(ctx context.Context, kind, id string) ([]*ResourceVersion, error)
	// SaveResource appends v. It returns ECONFLICT unless v.Version is one
	// more than the latest stored version (1 for a new id).
	SaveResource(ctx context.Context, v *ResourceVersion) error
}
