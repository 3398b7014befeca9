package cdp

import (
	"context"
	"time"
)

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is a condition an operator is told about: firing while it holds
// (one at a time per key), then resolved.
type Alert struct {
	ID string `json:"id"`
	// Key is the rule's id and the condition's subject (rule:subject):
	// while an alert of that key fires, the condition is not announced
	// again.
	Key     string `json:"key"`
	Rule    string `json:"rule"`
	Kind    string `json:"kind"`
	Subject string `json:"subject,omitempty"`
	State   string `json:"state"`
	Summary string `json:"summary"`
	// Count is how many the condition covers (runs in the dead letter).
	Count int `json:"count,omitempty"`
	// Link is the console page to look at.
	Link          string         `json:"link,omitempty"`
	StartedAt     time.Time      `json:"started_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	ResolvedAt    *time.Time     `json:"resolved_at,omitempty"`
	Notifications []Notification `json:"notifications"`
	// Version counts updates; UpdateAlert refuses a stale one.
	Version int `json:"-"`
}

// Notification is one message about an alert sent (or not) to a channel.
type Notification struct {
	Channel string    `json:"channel"`
	Event   string    `json:"event"` // firing, repeat or resolved
	At      time.Time `json:"at"`
	// Status is sent or failed (after its retries), with the last error.
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}

// AlertFilter selects alerts.
type AlertFilter struct {
	ID     string
	State  string
	Limit  int
	Cursor string
}

// AlertStore keeps alerts.
type AlertStore interface {
	// InsertAlert records a new alert; false (and nothing written) if an
	// alert of its key is firing already.
	InsertAlert(ctx context.Context, a *Alert) (bool, error)
	// UpdateAlert replaces an alert; ECONFLICT if it changed since read.
	UpdateAlert(ctx context.Context, a *Alert) error
	// FindAlerts returns alerts newest first and a cursor for the next
	// page ("" when there is none).
	FindAlerts(ctx context.Context, f AlertFilter) ([]*Alert, string, error)
}
