package cdp

import (
	"regexp"
	"time"
)

// Source kinds. A kind decides which ingest paths a source may use and which
// credentials it needs; later kinds add their own fields.
const (
	// SourceTrack serves the Tracardi-compatible /track and /collect paths;
	// its id is its (public) credential, as in Tracardi.
	SourceTrack = "track"
)

// SourceKinds lists every kind this build serves.
var SourceKinds = []string{SourceTrack}

// Source origins: sources from the configuration file are read-only through
// the management API; sources created through the API are stored.
const (
	OriginConfig = "config"
	OriginAPI    = "api"
)

// Source is a named entry point for events, with its credentials.
type Source struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name,omitempty"`
	Enabled   bool      `json:"enabled"`
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var sourceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidSourceID reports whether id can name a source: 1–128 letters, digits,
// '_' or '-', not starting with '_' or '-' (ids also form event-log subjects).
func ValidSourceID(id string) bool { return sourceIDPattern.MatchString(id) }

// Validate returns the problems of s keyed by field name, or nil.
func (s *Source) Validate() map[string]string {
	problems := map[string]string{}
	if !ValidSourceID(s.ID) {
		problems["id"] = "must be 1-128 letters, digits, '_' or '-', starting with a letter or digit"
	}
	known := false
	for _, k := range SourceKinds {
		known = known || s.Kind == k
	}
	if !known {
		problems["kind"] = "unknown source kind " + quote(s.Kind) + " (supported: " + join(SourceKinds) + ")"
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

func quote(s string) string { return `"` + s + `"` }

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
