package cdp

import (
	"encoding/json"
	"time"
)

// System event types emitted when the collector opens a session or creates a
// profile, as Tracardi does (Tracardi's code).
const (
	EventProfileCreated = "profile-created"
	EventSessionOpened  = "session-opened"
	EventVisitStarted   = "visit-started"
)

// Event types Switchyard itself gives events that could not be typed
// otherwise; they are stored, visible and counted, never dropped.
const (
	// EventPoison replaces a log message the processor could not store.
	EventPoison = "poison"
	// EventWebhookError records a verified webhook whose body could not be
	// read; Error says why.
	EventWebhookError = "webhook_error"
	// EventWebhook types a generic webhook whose body names no type and
	// whose source has no event_type expression.
	EventWebhook = "webhook"
)

// Event is one stored customer event, whatever API carried it.
//
// ID is assigned by the server when the request is accepted and is carried in
// the event log, so a redelivered batch reproduces the same ids and the store
// can drop the copy. MessageID is the client's own id (Tracardi event id,
// Customer.io message id …): the store keeps at most one event per
// (SourceID, MessageID) for as long as it keeps events.
type Event struct {
	ID                string          `json:"id"`
	SourceID          string          `json:"source_id"`
	Type              string          `json:"type"`
	MessageID         string          `json:"message_id,omitempty"`
	ProfileID         string          `json:"profile_id,omitempty"`
	SessionID         string          `json:"session_id,omitempty"`
	Timestamp         time.Time       `json:"timestamp"`
	OriginalTimestamp *time.Time      `json:"original_timestamp,omitempty"` // the client's clock, when it sent one
	ReceivedAt        time.Time       `json:"received_at"`
	Properties        json.RawMessage `json:"properties"`
	Context           json.RawMessage `json:"context"`
	Traits            json.RawMessage `json:"traits,omitempty"`
	Tags              []string        `json:"tags,omitempty"`
	// UserID, AnonymousID and UserAgent complete the canonical Customer.io
	// track payload {user_id, anonymous_id, event, message_id, properties,
	// timestamp, user_agent} that every API's track-like call maps to.
	UserID      string `json:"user_id,omitempty"`
	AnonymousID string `json:"anonymous_id,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
	// Identifiers name the person the event is about when the API did not
	// resolve a profile itself; the processor resolves them.
	Identifiers []Identifier `json:"identifiers,omitempty"`
	// Op is what the event does to its profile beyond being recorded.
	Op string `json:"op,omitempty"`
	// Error is set on an event that could not be processed (a poison
	// message); it is stored so that it is visible, and never retried.
	Error string `json:"error,omitempty"`
	// Violations are the ways the event broke its tracking plans (in flag
	// mode: it was stored anyway) or how its source's transform failed.
	Violations []Violation `json:"violations,omitempty"`
	// RequestID names the raw request that carried the event, when raw
	// capture kept it (see RawRequest); several events may share one.
	RequestID string `json:"request_id,omitempty"`
	// ReplayOf names the event whose captured request was replayed to
	// make this one (through the source's configuration of the time).
	ReplayOf string `json:"replay_of,omitempty"`
	// Rerun marks a replay that asked to run again the workflows that ran
	// for the original event; without it they do not run twice. It only
	// travels to the processor: it is not stored.
	Rerun bool `json:"-"`
	// Ephemeral events travel through the event log (workflows see them) but
	// are not stored: Tracardi's saveEvents=false and options.save=false.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// ValidTime reports whether t can be stored and shown: an event's times
// travel as RFC 3339 JSON, which has four-digit years only. An API checks
// every time a client gives it, so that a bad one is the client's 400 and
// never a server error.
func ValidTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// Stored returns a copy of e as a store reads it back: its times in UTC
// (the client's original timestamp keeps its offset). Whoever uses an event just stored in place of reading it (the workflow
// engine) sees what a later read would show; storetest holds every store
// to it.
func (e *Event) Stored() *Event {
	c := *e
	c.Timestamp, c.ReceivedAt = c.Timestamp.UTC(), c.ReceivedAt.UTC()
	return &c
}

// Event operations, applied by the processor in the transaction that
// stores the event.
const (
	// OpIdentify creates or updates the profile named by Identifiers:
	// Traits are merged into its traits and every identifier no other
	// profile owns is attached. Anonymous events carrying one of its
	// anonymous ids from the last 30 days join the profile.
	OpIdentify = "identify"
	// OpIdentifyExisting is OpIdentify that never creates a profile
	// (Customer.io's _update).
	OpIdentifyExisting = "identify_existing"
	// OpDelete erases the profile named by Identifiers, with its events.
	OpDelete = "delete"
	// OpDeviceAdd adds or updates the device in Properties ({id, platform,
	// last_used, attributes}) on the profile named by Identifiers,
	// creating the profile if needed; OpDeviceDelete removes the device
	// whose id is Properties.id.
	OpDeviceAdd    = "device_add"
	OpDeviceDelete = "device_delete"
	// OpSuppress and OpUnsuppress set and clear the profile's suppressed flag.
	OpSuppress   = "suppress"
	OpUnsuppress = "unsuppress"
	// OpMerge merges the profile named by Properties.secondary (one
	// identifier) into the one named by Identifiers; a no-op unless both exist.
	OpMerge = "merge"
	// OpAlias declares that Properties.previous_id (a user id or an
	// anonymous id) and the id in Identifiers are one person: their
	// profiles merge into the latter's, or the one that exists gains the
	// other identifier (Data Pipelines alias).
	OpAlias = "alias"
	// OpSegmentAdd and OpSegmentRemove add every profile named by
	// Identifiers to, or remove it from, segment Properties.segment_id.
	OpSegmentAdd    = "segment_add"
	OpSegmentRemove = "segment_remove"
)

// AnonymousWindow is how far back an identify attaches anonymous events.
const AnonymousWindow = 30 * 24 * time.Hour

// Batch is what one accepted ingest request appends to the event log: its
// events plus the session change they imply. It is the unit of the event
// log, of deduplication at publish and of at-least-once processing.
type Batch struct {
	ID         string         `json:"id"`
	SourceID   string         `json:"source_id"`
	ReceivedAt time.Time      `json:"received_at"`
	Events     []*Event       `json:"events"`
	Session    *SessionUpdate `json:"session,omitempty"`
	// Raw is the request that carried the batch, when captured; it is
	// stored under the batch's id.
	Raw *RawRequest `json:"raw,omitempty"`
	// TraceParent is the W3C traceparent of the span that appended the
	// batch, when tracing is on: the processor's work on it joins the
	// request's trace (one log message holds many requests' batches, so
	// it travels with each batch rather than in the message's headers).
	TraceParent string `json:"traceparent,omitempty"`
}

// Envelope is what one event-log message holds: the batches of one or
// more requests appended together (group commit). A message that holds a
// single request's batch carries its dedup id, so the log can drop a
// repeat; repeats that shared a message are dropped by the store.
type Envelope []*Batch

// SessionUpdate is the change a request makes to its session. Context and
// Properties are JSON objects merged key by key into the stored session.
type SessionUpdate struct {
	ID         string          `json:"id"`
	ProfileID  string          `json:"profile_id,omitempty"`
	Context    json.RawMessage `json:"context,omitempty"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

// EventFilter selects events for listing. Zero fields do not filter. Results
// are newest first; Cursor continues a previous listing.
type EventFilter struct {
	SourceID  string
	Type      string
	ProfileID string
	SessionID string
	Since     time.Time
	Limit     int
	Cursor    string
	// Oldest lists oldest first (in the order the store keeps them), for a
	// walk over stored events that a cursor resumes: the cursor of a page
	// that is not empty continues after it even when nothing follows yet.
	// Newest first without.
	Oldest bool
}
