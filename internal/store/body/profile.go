package body

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// ProfileRow is a stored profile as both stores select it (version, body,
// events, visits, last_visit_at, current_visit_at, updated_at): the body
// and the columns that win over it, since counting an event updates only
// the counters.
type ProfileRow struct {
	Version        int64
	Body           []byte
	Events, Visits int64
	LastVisitAt    *int64 // Unix ns, NULL when none
	CurrentVisitAt *int64
	UpdatedAt      int64
}

// Dest returns the fields to scan a row into, in the select's order.
func (r *ProfileRow) Dest() []any {
	return []any{&r.Version, &r.Body, &r.Events, &r.Visits, &r.LastVisitAt, &r.CurrentVisitAt, &r.UpdatedAt}
}

// Profile decodes the row of profile id.
func (r *ProfileRow) Profile(id string) (*cdp.Profile, error) {
	p := &cdp.Profile{}
	if err := json.Unmarshal(r.Body, p); err != nil {
		return nil, fmt.Errorf("decode profile %s: %w", id, err)
	}
	p.Version = r.Version
	p.Stats.Events, p.Stats.Visits = r.Events, r.Visits
	p.Stats.LastVisitAt, p.Stats.CurrentVisitAt = FromNanos(r.LastVisitAt), FromNanos(r.CurrentVisitAt)
	p.UpdatedAt = time.Unix(0, r.UpdatedAt).UTC()
	p.Normalize()
	return p, nil
}

// FromNanos turns a nullable Unix-nanosecond column into a time.
func FromNanos(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := time.Unix(0, *n).UTC()
	return &t
}
