package cdp

import "time"

// Session is one visit: a run of events from one client, linked to the
// profile it belongs to (none for profile-less tracking).
type Session struct {
	ID         string         `json:"id"`
	ProfileID  string         `json:"profile_id,omitempty"`
	SourceID   string         `json:"source_id"`
	Context    map[string]any `json:"context"`
	Properties map[string]any `json:"properties"`
	CreatedAt  time.Time      `json:"created_at"`
	// UpdatedAt is when the session record last changed (its context,
	// properties or profile); a session's events are found by its id.
	UpdatedAt time.Time `json:"updated_at"`
}

// Normalize replaces nil maps with empty ones.
func (s *Session) Normalize() {
	if s.Context == nil {
		s.Context = map[string]any{}
	}
	if s.Properties == nil {
		s.Properties = map[string]any{}
	}
}
