package cdp

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Source kinds. A kind decides which ingest paths a source may use and which
// credentials it needs; later kinds add their own fields.
const (
	// SourceTrack serves the Tracardi-compatible /track and /collect paths;
	// its id is its (public) credential, as in Tracardi.
	SourceTrack = "track"
	// SourceCustomerIOTrack serves Customer.io's Track API (/api/v1, /api/v2)
	// to callers presenting Basic site_id:api_key.
	SourceCustomerIOTrack = "customerio_track"
	// SourceCustomerIOPipelines serves Customer.io's Data Pipelines API
	// (/v1/*) to callers presenting the write key (Basic user, or writeKey
	// in the body on the browser paths).
	SourceCustomerIOPipelines = "customerio_pipelines"
)

// SourceKinds lists every kind this build serves.
var SourceKinds = []string{SourceTrack, SourceCustomerIOTrack, SourceCustomerIOPipelines}

// Source origins: sources from the configuration file are read-only through
// the management API; sources created through the API are stored.
const (
	OriginConfig = "config"
	OriginAPI    = "api"
)

// Source is a named entry point for events, with its credentials.
type Source struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Name    string `json:"name,omitempty"`
	Enabled bool   `json:"enabled"`
	Origin  string `json:"origin"`
	// SiteID and APIKey are the Basic credentials of a customerio_track source.
	SiteID string `json:"site_id,omitempty"`
	APIKey string `json:"api_key,omitempty"`
	// WriteKey is the credential of a customerio_pipelines source.
	WriteKey string `json:"write_key,omitempty"`
	// RateLimit, when positive, caps the requests per second the source
	// accepts; above it callers get 429 with Retry-After.
	RateLimit float64   `json:"rate_limit,omitempty"`
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
		problems["kind"] = fmt.Sprintf("unknown source kind %q (supported: %s)", s.Kind, strings.Join(SourceKinds, ", "))
	}
	if s.Kind == SourceCustomerIOTrack {
		if s.SiteID == "" {
			problems["site_id"] = "is required for kind " + SourceCustomerIOTrack
		}
		if s.APIKey == "" {
			problems["api_key"] = "is required for kind " + SourceCustomerIOTrack
		}
	}
	if s.Kind == SourceCustomerIOPipelines && s.WriteKey == "" {
		problems["write_key"] = "is required for kind " + SourceCustomerIOPipelines
	}
	if s.RateLimit < 0 {
		problems["rate_limit"] = "must not be negative"
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}
