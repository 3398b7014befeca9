package cdp

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// View is the event as everything outside the pipeline sees it: the
// management API's event JSON, the body a webhook step sends by default
// and the `event` of every expression (trigger conditions, step inputs,
// tail filters, backfill filters) are this one shape. It is the event's
// JSON as a store reads it back (see Stored: times in UTC) decoded into
// plain values: objects are map[string]any, arrays []any, numbers
// float64.
//
// It is built field by field rather than by encoding the event and
// decoding the result, which cost a workflow about as much CPU as the
// rest of matching an event; only properties, context and traits are
// decoded. A property test holds it equal to that round trip.
func (e *Event) View() map[string]any {
	v := make(map[string]any, 16)
	v["id"] = jsonString(e.ID)
	v["source_id"] = jsonString(e.SourceID)
	v["type"] = jsonString(e.Type)
	putString(v, "message_id", e.MessageID)
	putString(v, "profile_id", e.ProfileID)
	putString(v, "session_id", e.SessionID)
	v["timestamp"] = jsonTime(e.Timestamp.UTC())
	if e.OriginalTimestamp != nil {
		v["original_timestamp"] = jsonTime(*e.OriginalTimestamp)
	}
	v["received_at"] = jsonTime(e.ReceivedAt.UTC())
	v["properties"] = decodeRaw(e.Properties)
	v["context"] = decodeRaw(e.Context)
	if len(e.Traits) > 0 {
		v["traits"] = decodeRaw(e.Traits)
	}
	if len(e.Tags) > 0 {
		tags := make([]any, len(e.Tags))
		for i, t := range e.Tags {
			tags[i] = jsonString(t)
		}
		v["tags"] = tags
	}
	putString(v, "user_id", e.UserID)
	putString(v, "anonymous_id", e.AnonymousID)
	putString(v, "user_agent", e.UserAgent)
	if len(e.Identifiers) > 0 {
		ids := make([]any, len(e.Identifiers))
		for i, id := range e.Identifiers {
			ids[i] = map[string]any{"kind": jsonString(id.Kind), "value": jsonString(id.Value)}
		}
		v["identifiers"] = ids
	}
	putString(v, "op", e.Op)
	putString(v, "error", e.Error)
	if len(e.Violations) > 0 {
		vs := make([]any, len(e.Violations))
		for i, x := range e.Violations {
			m := map[string]any{"kind": jsonString(x.Kind), "message": jsonString(x.Message)}
			putString(m, "plan", x.Plan)
			putString(m, "path", x.Path)
			vs[i] = m
		}
		v["violations"] = vs
	}
	putString(v, "request_id", e.RequestID)
	putString(v, "replay_of", e.ReplayOf)
	if e.Ephemeral {
		v["ephemeral"] = true
	}
	return v
}

// putString sets an omitempty string field.
func putString(v map[string]any, key, s string) {
	if s != "" {
		v[key] = jsonString(s)
	}
}

// jsonString is s as JSON carries it: each byte that is not valid UTF-8
// becomes U+FFFD, as encoding/json writes it.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// jsonTime is t as encoding/json writes a time.
func jsonTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// decodeRaw decodes a JSON value; absent, not JSON, or beyond plain values
// (a number too large for a float64), it is null.
func decodeRaw(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}
