// Package archive writes stored events to files in an open format
// (Parquet or NDJSON), partitioned by source and by the hour they were
// received (source=…/date=…/hour=…), to a directory or an S3-compatible
// bucket: continuously (Archiver, under a lease so that one node of a
// cluster writes each window, resuming from a place kept in the store),
// and on demand (switchyard export). It reads them back for backfills
// and replays of events older than the store keeps.
package archive

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Row is an event as the archive's files hold it: the Parquet schema
// (docs/archive.md). JSON columns hold the JSON the management API shows.
type Row struct {
	ID                string     `parquet:"id"`
	SourceID          string     `parquet:"source_id,dict"`
	Type              string     `parquet:"type,dict"`
	MessageID         string     `parquet:"message_id,optional"`
	ProfileID         string     `parquet:"profile_id,optional"`
	SessionID         string     `parquet:"session_id,optional"`
	UserID            string     `parquet:"user_id,optional"`
	AnonymousID       string     `parquet:"anonymous_id,optional"`
	Timestamp         time.Time  `parquet:"timestamp,timestamp(microsecond)"`
	OriginalTimestamp *time.Time `parquet:"original_timestamp,optional,timestamp(microsecond)"`
	ReceivedAt        time.Time  `parquet:"received_at,timestamp(nanosecond)"`
	Properties        string     `parquet:"properties,json"`
	Context           string     `parquet:"context,json"`
	Traits            string     `parquet:"traits,optional,json"`
	Tags              []string   `parquet:"tags,list"`
	UserAgent         string     `parquet:"user_agent,optional"`
	Identifiers       string     `parquet:"identifiers,optional,json"`
	Op                string     `parquet:"op,optional"`
	Error             string     `parquet:"error,optional"`
	RequestID         string     `parquet:"request_id,optional"`
	ReplayOf          string     `parquet:"replay_of,optional"`
	// Violations are the tracking plans the event broke (a column files
	// written before it lack: read as none).
	Violations string `parquet:"violations,optional,json"`
}

// FromEvent is e as a row.
func FromEvent(e *cdp.Event) Row {
	r := Row{ID: e.ID, SourceID: e.SourceID, Type: e.Type, MessageID: e.MessageID, ProfileID: e.ProfileID,
		SessionID: e.SessionID, UserID: e.UserID, AnonymousID: e.AnonymousID, Timestamp: e.Timestamp.UTC(),
		ReceivedAt: e.ReceivedAt.UTC(), Properties: jsonText(e.Properties, "{}"), Context: jsonText(e.Context, "{}"),
		Traits: jsonText(e.Traits, ""), Tags: e.Tags, UserAgent: e.UserAgent, Op: e.Op, Error: e.Error,
		RequestID: e.RequestID, ReplayOf: e.ReplayOf}
	if e.OriginalTimestamp != nil {
		t := e.OriginalTimestamp.UTC()
		r.OriginalTimestamp = &t
	}
	if len(e.Identifiers) > 0 {
		b, _ := json.Marshal(e.Identifiers)
		r.Identifiers = string(b)
	}
	if len(e.Violations) > 0 {
		b, _ := json.Marshal(e.Violations)
		r.Violations = string(b)
	}
	return r
}

// Event is the row as an event.
func (r Row) Event() (*cdp.Event, error) {
	e := &cdp.Event{ID: r.ID, SourceID: r.SourceID, Type: r.Type, MessageID: r.MessageID, ProfileID: r.ProfileID,
		SessionID: r.SessionID, UserID: r.UserID, AnonymousID: r.AnonymousID, Timestamp: r.Timestamp.UTC(),
		ReceivedAt: r.ReceivedAt.UTC(), Properties: json.RawMessage(r.Properties), Context: json.RawMessage(r.Context),
		Tags: slices.Clone(r.Tags), UserAgent: r.UserAgent, Op: r.Op, Error: r.Error, RequestID: r.RequestID, ReplayOf: r.ReplayOf}
	if r.Traits != "" {
		e.Traits = json.RawMessage(r.Traits)
	}
	if r.OriginalTimestamp != nil {
		t := r.OriginalTimestamp.UTC()
		e.OriginalTimestamp = &t
	}
	if r.Identifiers != "" {
		if err := json.Unmarshal([]byte(r.Identifiers), &e.Identifiers); err != nil {
			return nil, fmt.Errorf("event %s: identifiers: %w", r.ID, err)
		}
	}
	if r.Violations != "" {
		if err := json.Unmarshal([]byte(r.Violations), &e.Violations); err != nil {
			return nil, fmt.Errorf("event %s: violations: %w", r.ID, err)
		}
	}
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	return e, nil
}

func jsonText(raw json.RawMessage, empty string) string {
	if len(raw) == 0 || string(raw) == "null" {
		return empty
	}
	return string(raw)
}
