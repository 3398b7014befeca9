package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// CheckEvent refuses an event whose type, ids or identifiers hold a NUL
// character, or whose times cannot be stored. PostgreSQL cannot keep a NUL
// in text, while SQLite would: refusing it here, before the event log,
// gives the client the same 400 on both stores instead of an event that
// is acknowledged and then fails to store. Each API calls it where it can
// answer for one item (a v2 batch); Append and Track call it for all.
func CheckEvent(e *cdp.Event) error {
	for _, f := range [...]struct{ name, value string }{
		{"type", e.Type}, {"message id", e.MessageID}, {"profile id", e.ProfileID}, {"session id", e.SessionID},
		{"user id", e.UserID}, {"anonymous id", e.AnonymousID},
	} {
		if hasNUL(f.value) {
			return cdp.Errorf(cdp.EINVALID, "the event's %s contains a NUL character (\\u0000)", f.name)
		}
	}
	for _, id := range e.Identifiers {
		if hasNUL(id.Value) {
			return cdp.Errorf(cdp.EINVALID, "the %s identifier contains a NUL character (\\u0000)", id.Kind)
		}
	}
	if !cdp.ValidTime(e.Timestamp) || (e.OriginalTimestamp != nil && !cdp.ValidTime(*e.OriginalTimestamp)) {
		return cdp.Errorf(cdp.EINVALID, "the event's timestamp is outside the years 0000 to 9999")
	}
	return nil
}

// CheckID refuses a client-given session or profile id with a NUL
// character (see CheckEvent).
func CheckID(name, id string) error {
	if hasNUL(id) {
		return cdp.Errorf(cdp.EINVALID, "the %s contains a NUL character (\\u0000)", name)
	}
	return nil
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func checkEvents(events []*cdp.Event) error {
	for _, e := range events {
		if err := CheckEvent(e); err != nil {
			return err
		}
		validUTF8(&e.Properties)
		validUTF8(&e.Context)
		validUTF8(&e.Traits)
	}
	return nil
}

// validUTF8 replaces bytes that are not UTF-8 in a JSON document with
// U+FFFD. Go's decoder lets them through inside strings, and what is
// stored is sent as is by the management API and the tail, which must
// always emit valid JSON. (Outside strings such bytes are not JSON at
// all, so the document stays valid.)
func validUTF8(doc *json.RawMessage) {
	if !utf8.Valid(*doc) {
		*doc = bytes.ToValidUTF8(*doc, []byte("\uFFFD"))
	}
}
