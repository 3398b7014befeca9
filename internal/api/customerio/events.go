package customerio

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Track decodes POST /api/v1/customers/{identifier}/events.
func (a *API) Track(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	path, err := pathPerson(r)
	if err != nil {
		return ingest.Decoded{}, err
	}
	e, err := decodeEvent(r, body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	e.UserID = r.PathValue("identifier")
	e.Identifiers = []cdp.Identifier{path}
	return events(e), nil
}

// TrackAnonymous decodes POST /api/v1/events: an event of no known
// person, kept with its anonymous_id until an identify names that id.
func (a *API) TrackAnonymous(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	e, err := decodeEvent(r, body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	if e.AnonymousID != "" {
		e.Identifiers = []cdp.Identifier{{Kind: cdp.IdentifierAnonymousID, Value: e.AnonymousID}}
	}
	return events(e), nil
}

// decodeEvent reads and validates a v1 event body.
func decodeEvent(r *http.Request, body []byte) (*cdp.Event, error) {
	obj, err := bodyObject(body)
	if err != nil {
		return nil, err
	}
	e, msg := trackEvent(r, obj["name"], stringAttr(obj, "type"), stringAttr(obj, "id"), obj["timestamp"], obj["data"])
	if msg != "" {
		return nil, invalid(msg)
	}
	e.AnonymousID = stringAttr(obj, "anonymous_id")
	return e, nil
}

// trackEvent validates an event with the documented messages and
// builds it. The event's type is its name; page and screen events are
// typed "page" and "screen" with the name (the URL or screen) in
// properties.name. v1 calls the payload data, v2 attributes.
func trackEvent(r *http.Request, rawName json.RawMessage, typ, id string, ts, data json.RawMessage) (*cdp.Event, string) {
	var name string
	if json.Unmarshal(rawName, &name) != nil || strings.TrimSpace(name) == "" {
		return nil, "event name must not be blank"
	}
	name = strings.TrimSpace(name)
	if len(name) > maxEventNameBytes {
		return nil, "event name cannot be longer than 100 bytes"
	}
	props := json.RawMessage(`{}`)
	if len(data) > 0 && string(data) != "null" {
		if data[0] != '{' {
			return nil, "event data must be a hash"
		}
		if len(data) > maxEventDataBytes {
			return nil, "event data cannot be longer than 100000 bytes"
		}
		props = data
	}
	e := baseEvent(r, name, "")
	switch typ {
	case "", "event":
	case "page", "screen":
		e.Type, props = typ, withName(props, name)
	default:
		return nil, "event type must be one of event, page or screen"
	}
	e.Properties, e.MessageID = props, strings.TrimSpace(id)
	if err := setTime(e, ts); err != nil {
		return nil, cdp.ErrorMessage(err)
	}
	return e, ""
}
