package cdp

import (
	"context"
	"time"
)

// Store persists events, profiles, sessions and sources. It is deliberately
// dumb: it offers atomic primitives and lookups, and the rules (identity
// resolution, merging, counting) live in the identity and processor
// packages, so that every backend behaves the same. Every backend passes
// store/storetest.
//
// Lookups return an *Error with ENOTFOUND when nothing matches.
type Store interface {
	EventReader
	ProfileReader
	RunReader
	SourceStore
	WorkflowStore
	AlertStore
	BackfillStore
	ArchiveStore
	AuditStore
	ResourceStore
	CatalogStore

	// Update runs fn in one write transaction: all of fn's writes commit
	// together or not at all. fn may run more than once if the backend
	// retries a serialisation conflict, so it must not have side effects
	// outside tx. Backends may group concurrent Updates into one commit.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store; in-flight Updates finish first.
	Close() error
}

// EventReader finds stored events.
type EventReader interface {
	// FindEvents returns events matching f, newest first, and a cursor for
	// the next page ("" when there is none).
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// FindEventByID returns ENOTFOUND if no event has the id.
	FindEventByID(ctx context.Context, id string) (*Event, error)
	// FindRawRequest returns the request stored under id (an event's
	// RequestID), or ENOTFOUND once retention removed it.
	FindRawRequest(ctx context.Context, id string) (*RawRequest, error)
	// EventsPerMinute returns the events stored per source and minute
	// since the time, oldest first (minutes without events are absent).
	EventsPerMinute(ctx context.Context, since time.Time) ([]MinuteCount, error)
}

// ArchiveStore is what the archive keeps in the store: where each archive
// stands, and which node writes it.
type ArchiveStore interface {
	// ScanEvents returns up to limit events whose ids were made in [from,
	// to) (ids are made at receipt: this is their receipt time), in id
	// order, after the id after ("" from the start).
	ScanEvents(ctx context.Context, from, to time.Time, after string, limit int) ([]*Event, error)
	// FindRawRequests returns the captured requests stored under ids, by
	// id; those retention removed are absent.
	FindRawRequests(ctx context.Context, ids []string) (map[string]*RawRequest, error)
	// ClaimArchive gives node the archive name's lease until until, if no
	// other node holds it past now, and returns the start of the next
	// window to write (zero before the first). ok is false when another
	// node holds it.
	ClaimArchive(ctx context.Context, name, node string, now, until time.Time) (next time.Time, ok bool, err error)
	// AdvanceArchive records that the archive wrote up to next, if node
	// holds its lease and it stood at from; ECONFLICT otherwise.
	AdvanceArchive(ctx context.Context, name, node string, from, next time.Time) error
}

// MinuteCount is how many events of a source were stored in a minute
// (by their receipt time, truncated to the minute, UTC).
type MinuteCount struct {
	SourceID string    `json:"source_id"`
	Minute   time.Time `json:"minute"`
	Events   int       `json:"events"`
}

// RunReader finds workflow runs.
type RunReader interface {
	// FindRuns returns runs matching f, newest first, and a cursor for the
	// next page ("" when there is none).
	FindRuns(ctx context.Context, f RunFilter) ([]*Run, string, error)
	// FindRunByID returns ENOTFOUND if no run has the id.
	FindRunByID(ctx context.Context, id string) (*Run, error)
	// CountRuns counts the runs in each of statuses, and gives the
	// creation time of the oldest one in each (zero when none).
	CountRuns(ctx context.Context, statuses ...string) (map[string]RunCount, error)
	// CountWaitingOn counts the waiting runs each destination's breaker
	// holds, by destination.
	CountWaitingOn(ctx context.Context) (map[string]int, error)
	// DeadLetters counts the failed runs of each workflow that has any.
	DeadLetters(ctx context.Context) (map[string]DeadLetter, error)
	// FirstInLine returns the id of the run at the head of workflow's line
	// for key (its order_by): of the runs that have not ended (succeeded,
	// failed, skipped or exited), one already started if any, else the
	// earliest created; "" when none.
	FirstInLine(ctx context.Context, workflowID, key string) (string, error)
	// CountWaits counts the runs held at each wait_for step (exit rules
	// not counted), by workflow and step id as recorded (with a foreach's
	// index).
	CountWaits(ctx context.Context) ([]WaitCount, error)
	// DebouncedRun returns the latest debounced run of workflow and key
	// (SetDebounce), or "".
	DebouncedRun(ctx context.Context, workflowID, key string) (string, error)
}

// ProfileReader finds profiles and sessions.
type ProfileReader interface {
	// FindProfileByID resolves merged-away ids to the surviving profile.
	FindProfileByID(ctx context.Context, id string) (*Profile, error)
	FindProfileByIdentifier(ctx context.Context, ident Identifier) (*Profile, error)
	FindSessionByID(ctx context.Context, id string) (*Session, error)
	// SessionProfile returns the id of the profile session id belongs to,
	// if that profile is live (not merged away or erased): the one read a
	// returning visitor's request needs. ENOTFOUND otherwise.
	SessionProfile(ctx context.Context, id string) (string, error)
}

// SourceStore keeps the sources created through the management API.
type SourceStore interface {
	FindSources(ctx context.Context) ([]*Source, error)
	// CreateSource returns ECONFLICT if the id is taken.
	CreateSource(ctx context.Context, s *Source) error
	// UpdateSource returns ENOTFOUND if the source does not exist.
	UpdateSource(ctx context.Context, s *Source) error
	// DeleteSource returns ENOTFOUND if the source does not exist.
	DeleteSource(ctx context.Context, id string) error
}

// Tx is the set of writes available inside Store.Update. Methods that find
// return ENOTFOUND when nothing matches.
type Tx interface {
	WaitStore
	FrequencyStore

	// InsertEvent stores e unless an event with e.ID, or with the same
	// SourceID and non-empty MessageID, is already stored. It reports
	// whether e was stored.
	InsertEvent(ctx context.Context, e *Event) (bool, error)
	// InsertEvents is InsertEvent for many events in one write (a network
	// store's transaction would otherwise cost a round trip per event):
	// stored[i] reports whether events[i] was stored. An event repeating
	// an earlier one of the same call is not.
	InsertEvents(ctx context.Context, events []*Event) (stored []bool, err error)
	// HasEvent reports whether InsertEvent(e) would find e already stored.
	HasEvent(ctx context.Context, e *Event) (bool, error)
	// InsertRawRequests stores each request under its id unless the id is
	// taken.
	InsertRawRequests(ctx context.Context, reqs map[string]*RawRequest) error
	// CountEvents adds counts to the per-minute event counts (kept apart
	// from the events: erasing a profile leaves the totals).
	CountEvents(ctx context.Context, counts []MinuteCount) error
	// DeleteEventCountsBefore drops the per-minute counts before the time.
	DeleteEventCountsBefore(ctx context.Context, before time.Time) error
	// DeleteRawRequestsBefore deletes those of the limit oldest-inserted
	// raw requests that were received before the time, and returns how
	// many it deleted.
	DeleteRawRequestsBefore(ctx context.Context, before time.Time, limit int) (int64, error)

	// AttachAnonymousEvents gives profileID every stored event that has no
	// profile, carries anonymousID and was received at or after since; it
	// returns how many it attached.
	AttachAnonymousEvents(ctx context.Context, anonymousID, profileID string, since time.Time) (int64, error)

	// Profile returns the profile stored under exactly id.
	Profile(ctx context.Context, id string) (*Profile, error)
	// ResolveProfileID follows merges: it returns id itself for a live
	// profile, the survivor's id for a merged-away id, ENOTFOUND otherwise.
	ResolveProfileID(ctx context.Context, id string) (string, error)
	// ResolveProfileIDs is ResolveProfileID for many ids in one read: the
	// live id of each id that has one, by id.
	ResolveProfileIDs(ctx context.Context, ids []string) (map[string]string, error)
	// InsertProfile stores p unless its id exists; it reports whether it did.
	InsertProfile(ctx context.Context, p *Profile) (bool, error)
	// InsertProfiles is InsertProfile for many profiles in one write; a
	// profile whose id exists is left as it was.
	InsertProfiles(ctx context.Context, ps []*Profile) error
	// UpdateProfile replaces p if its stored version is still p.Version and
	// increments p.Version; ECONFLICT if another write came first.
	UpdateProfile(ctx context.Context, p *Profile) error
	// AddProfileStats adds each entry's events to its profile's event count
	// and, if VisitAt is set, counts a visit starting then (the current
	// visit becomes the last), setting UpdatedAt to At if later; entries
	// apply in order, in one write where the store can. It rewrites nothing
	// else, so counting stays cheap, but it increments the version so that
	// a concurrent UpdateProfile conflicts instead of losing the counts.
	// ENOTFOUND if a profile does not exist.
	AddProfileStats(ctx context.Context, deltas []StatsDelta) error
	// DeleteProfile erases the profile with its identifiers, merge aliases,
	// sessions and events, and the raw requests that carried those events.
	DeleteProfile(ctx context.Context, id string) error
	// MergeProfile moves everything of profile from (identifiers, sessions,
	// events, aliases) to profile into, deletes from's row and records from
	// as an alias of into.
	MergeProfile(ctx context.Context, from, into string) error

	// ProfileIDByIdentifier returns the live profile owning ident.
	ProfileIDByIdentifier(ctx context.Context, ident Identifier) (string, error)
	// ProfileIDsByIdentifiers is ProfileIDByIdentifier for many identifiers
	// in one read: the owner of each identifier that has one.
	ProfileIDsByIdentifiers(ctx context.Context, idents []Identifier) (map[Identifier]string, error)
	// ClaimIdentifier gives ident to profileID unless another profile owns
	// it; it returns the owner either way.
	ClaimIdentifier(ctx context.Context, ident Identifier, profileID string) (string, error)
	// ClaimIdentifiers is ClaimIdentifier for many identifiers (each
	// given to its profile in claims) in one write: the owner of each.
	ClaimIdentifiers(ctx context.Context, claims map[Identifier]string) (map[Identifier]string, error)
	// ReleaseIdentifier removes ident from whichever profile owns it.
	ReleaseIdentifier(ctx context.Context, ident Identifier) error

	// Session returns the session stored under id.
	Session(ctx context.Context, id string) (*Session, error)
	// Sessions returns the stored sessions among ids, by id, in one read.
	Sessions(ctx context.Context, ids []string) (map[string]*Session, error)
	// InsertSession stores s unless its id exists; it reports whether it did.
	InsertSession(ctx context.Context, s *Session) (bool, error)
	// UpdateSession replaces the stored session with s.
	UpdateSession(ctx context.Context, s *Session) error

	// InsertRun stores r unless a run of its workflow for its event
	// exists; it reports whether it did.
	InsertRun(ctx context.Context, r *Run) (bool, error)
	// Run returns the run stored under id.
	Run(ctx context.Context, id string) (*Run, error)
	// UpdateRun replaces r if its stored version is still r.Version and
	// increments r.Version; ECONFLICT if another write came first.
	UpdateRun(ctx context.Context, r *Run) error
	// LeaseRun gives run id to owner until the time, unless another owner
	// holds an unexpired lease (at now); it reports whether owner holds
	// it. Owners renew by leasing again; a lease is released by leasing
	// until now. Several nodes advancing runs use it so that one run is
	// advanced by one node at a time. It reports false for a run that
	// does not exist.
	LeaseRun(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	// UpdateBackfill records a backfill's progress with the runs it
	// created in the same transaction; ECONFLICT if it changed since read.
	UpdateBackfill(ctx context.Context, b *Backfill) error
}

// StatsDelta is what AddProfileStats adds to one profile's stats.
type StatsDelta struct {
	ID      string
	Events  int64
	VisitAt *time.Time // a visit starting then
	At      time.Time
}
