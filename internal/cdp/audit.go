package cdp

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry is a change made through the management API or the console,
// or a sign-in, as the audit trail keeps it: who, when, what and how it
// ended. Secrets never appear in it.
type AuditEntry struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// Actor is token:<name>, console:<name> (a sign-in opened with the
	// token), loopback (no tokens configured) or, for a failed sign-in,
	// anonymous.
	Actor string `json:"actor"`
	// Action is the route ("PUT /admin/v1/sources/{id}"), or sign_in or
	// sign_out.
	Action string `json:"action"`
	// Target is what it acted on: the path under /admin/v1/
	// ("sources/web", "workflows/w/backfills").
	Target string `json:"target,omitempty"`
	Status int    `json:"status"`
	// Summary is the change asked for: the request's body with every
	// secret-looking field masked (cut at 8 KiB), and its query.
	Summary    json.RawMessage `json:"summary,omitempty"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
}

// AuditFilter selects audit entries: by actor, by target (and what is
// under it: "sources" finds every source's), received in [Since, Until).
type AuditFilter struct {
	Actor  string
	Target string
	Since  time.Time
	Until  time.Time
	Limit  int
	Cursor string
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	InsertAudit(ctx context.Context, e *AuditEntry) error
	// FindAudit returns entries newest first and a cursor for the next
	// page ("" when there is none).
	FindAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, string, error)
	// DeleteAuditBefore deletes up to limit entries older than before and
	// says how many.
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int64, error)
}
