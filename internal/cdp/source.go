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
	// SourceCustomerIOWebhook receives Customer.io reporting webhooks at
	// /webhooks/{id}, signed with SigningKey.
	SourceCustomerIOWebhook = "customerio_webhook"
	// SourceWebhook receives any provider's webhooks at /webhooks/{id},
	// verified as Verify says and typed by the EventType expression.
	SourceWebhook = "webhook"
)

// Signature schemes of a webhook source.
const (
	// VerifyStandardWebhooks checks the Standard Webhooks signature
	// (webhook-id, webhook-timestamp, webhook-signature; whsec_ secrets).
	VerifyStandardWebhooks = "standard_webhooks"
	// VerifyHMACSHA256 checks an HMAC-SHA256 of the body, or of a template
	// over a timestamp header and the body, in a header of the provider's
	// choosing.
	VerifyHMACSHA256 = "hmac_sha256"
	// VerifyNone accepts every request (the URL is the only secret).
	VerifyNone = "none"
)

// SourceKinds lists every kind this build serves.
var SourceKinds = []string{SourceTrack, SourceCustomerIOTrack, SourceCustomerIOPipelines, SourceCustomerIOWebhook, SourceWebhook}

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
	// SigningKey is a customerio_webhook source's signing key;
	// TimestampTolerance, in seconds, refuses requests signed longer ago
	// (0 = no freshness check: Customer.io retries for 7 days).
	SigningKey         string `json:"signing_key,omitempty"`
	TimestampTolerance int    `json:"timestamp_tolerance,omitempty"`
	// Verify, EventType and DedupKey configure a webhook source. EventType
	// and DedupKey are CEL expressions over {body, headers, query}.
	Verify    *WebhookVerify `json:"verify,omitempty"`
	EventType string         `json:"event_type,omitempty"`
	DedupKey  string         `json:"dedup_key,omitempty"`
	// RateLimit, when positive, caps the requests per second the source
	// accepts; above it callers get 429 with Retry-After.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// ForwardTo names webhook destinations every event of the source is
	// sent to, signed (each implies a one-step workflow).
	ForwardTo []string `json:"forward_to,omitempty"`
	// ExpectEvery, a duration such as 1h, is how often the source should
	// receive something: longer without an event raises the source_silent
	// alert.
	ExpectEvery string `json:"expect_every,omitempty"`
	// Transform is a CEL expression over the event that returns its new
	// type and properties, or null to drop it; it runs at ingest, before
	// the tracking plans.
	Transform string `json:"transform,omitempty"`
	// CreatedAt and UpdatedAt are set for sources made through the
	// management API; a configured source has neither.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Expected is ExpectEvery as a duration (0: none).
func (s *Source) Expected() time.Duration {
	d, _ := time.ParseDuration(s.ExpectEvery)
	return d
}

// Secrets are the source's credentials, which no captured request or
// record may show in clear (a browser SDK sends its write key in the body,
// some providers put keys in the query).
func (s *Source) Secrets() []string {
	out := []string{s.APIKey, s.WriteKey, s.SigningKey}
	if s.Verify != nil {
		out = append(out, s.Verify.Secret)
	}
	return out
}

// Masked is a copy of s with its credentials replaced by mask (those it
// has): what a reader who may not see secrets is shown.
func (s *Source) Masked(mask string) *Source {
	c := *s
	for _, f := range []*string{&c.APIKey, &c.WriteKey, &c.SigningKey} {
		if *f != "" {
			*f = mask
		}
	}
	if s.Verify != nil {
		v := *s.Verify
		if v.Secret != "" {
			v.Secret = mask
		}
		c.Verify = &v
	}
	return &c
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
	if s.Kind == SourceCustomerIOWebhook {
		if s.SigningKey == "" {
			problems["signing_key"] = "is required for kind " + SourceCustomerIOWebhook
		}
		if s.TimestampTolerance < 0 {
			problems["timestamp_tolerance"] = "must not be negative (0 turns the freshness check off)"
		}
	}
	if s.Kind == SourceWebhook {
		if s.Verify == nil {
			problems["verify"] = "is required for kind " + SourceWebhook + ` (use {scheme: none} to accept unsigned requests)`
		} else {
			s.Verify.validate(problems)
		}
	}
	if s.RateLimit < 0 {
		problems["rate_limit"] = "must not be negative"
	}
	if d, err := time.ParseDuration(s.ExpectEvery); s.ExpectEvery != "" && (err != nil || d < time.Second) {
		problems["expect_every"] = fmt.Sprintf("must be a duration of at least 1s such as 1h, not %q", s.ExpectEvery)
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// WebhookVerify says how a webhook source authenticates requests.
type WebhookVerify struct {
	Scheme string `json:"scheme" yaml:"scheme"`
	// Secret is the shared secret: whsec_<base64> for standard_webhooks
	// (a bare base64 secret is accepted too), any string for hmac_sha256.
	Secret string `json:"secret,omitempty" yaml:"secret"`
	// Header carries the hmac_sha256 signature; Prefix (e.g. "sha256=") is
	// stripped from it; Encoding is hex (default) or base64.
	Header   string `json:"header,omitempty" yaml:"header"`
	Prefix   string `json:"prefix,omitempty" yaml:"prefix"`
	Encoding string `json:"encoding,omitempty" yaml:"encoding"`
	// TimestampHeader, for hmac_sha256, names the header whose value fills
	// {timestamp} in Content; with Tolerance set it must be recent.
	TimestampHeader string `json:"timestamp_header,omitempty" yaml:"timestamp_header"`
	// Content is what hmac_sha256 signs: a template over {timestamp} and
	// {body}; default "{body}".
	Content string `json:"content,omitempty" yaml:"content"`
	// Tolerance in seconds: the largest accepted clock difference
	// (standard_webhooks: default 300; hmac_sha256: 0 = no check).
	Tolerance int `json:"tolerance,omitempty" yaml:"tolerance"`
}

func (v *WebhookVerify) validate(problems map[string]string) {
	switch v.Scheme {
	case VerifyNone:
	case VerifyStandardWebhooks, VerifyHMACSHA256:
		if v.Secret == "" {
			problems["verify.secret"] = "is required for scheme " + v.Scheme
		}
	default:
		problems["verify.scheme"] = fmt.Sprintf("must be %s, %s or %s, not %q", VerifyStandardWebhooks, VerifyHMACSHA256, VerifyNone, v.Scheme)
	}
	if v.Scheme != VerifyHMACSHA256 {
		return
	}
	if v.Header == "" {
		problems["verify.header"] = "is required for scheme " + VerifyHMACSHA256
	}
	if v.Encoding != "" && v.Encoding != "hex" && v.Encoding != "base64" {
		problems["verify.encoding"] = fmt.Sprintf("must be hex or base64, not %q", v.Encoding)
	}
	if v.Content != "" && !strings.Contains(v.Content, "{body}") {
		problems["verify.content"] = "must contain {body}"
	}
	if strings.Contains(v.Content, "{timestamp}") != (v.TimestampHeader != "") {
		problems["verify.timestamp_header"] = "is required exactly when content uses {timestamp}"
	}
	if v.Tolerance < 0 {
		problems["verify.tolerance"] = "must not be negative"
	}
	if v.Tolerance > 0 && v.TimestampHeader == "" {
		problems["verify.tolerance"] = "needs timestamp_header"
	}
}
