package customerio

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Track serves POST /api/v1/customers/{identifier}/events.
func (a *API) Track(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	path, ok := pathPerson(w, r)
	if !ok {
		return
	}
	e, ok := a.decodeEvent(w, r)
	if !ok {
		return
	}
	e.UserID = r.PathValue("identifier")
	e.Identifiers = []cdp.Identifier{path}
	a.publish(w, r, src, e)
}

// TrackAnonymous serves POST /api/v1/events: an event of no known person,
// kept with its anonymous_id until an identify names that id.
func (a *API) TrackAnonymous(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	e, ok := a.decodeEvent(w, r)
	if !ok {
		return
	}
	if e.AnonymousID != "" {
		e.Identifiers = []cdp.Identifier{{Kind: cdp.IdentifierAnonymousID, Value: e.AnonymousID}}
	}
	a.publish(w, r, src, e)
}

// decodeEvent reads and validates a v1 event body; on a problem it
// answers it and reports false.
func (a *API) decodeEvent(w http.ResponseWriter, r *http.Request) (*cdp.Event, bool) {
	obj, ok := a.readObject(w, r)
	if !ok {
		return nil, false
	}
	e, msg := trackEvent(r, obj["name"], stringAttr(obj, "type"), stringAttr(obj, "id"), obj["timestamp"], obj["data"])
	if msg != "" {
		fail(w, http.StatusBadRequest, msg)
		return nil, false
	}
	e.AnonymousID = stringAttr(obj, "anonymous_id")
	return e, true
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
