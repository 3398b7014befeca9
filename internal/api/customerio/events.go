package customerio

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// eventBody is §2.3's event: name, type, id, timestamp, data and, on the
// anonymous endpoint, anonymous_id.
type eventBody struct {
	Name        json.RawMessage `json:"name"`
	Type        string          `json:"type"`
	ID          string          `json:"id"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Data        json.RawMessage `json:"data"`
	AnonymousID string          `json:"anonymous_id"`
}

// Track serves POST /api/v1/customers/{identifier}/events.
func (a *API) Track(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	path, msg := personIdentifier(r.PathValue("identifier"))
	if msg != "" {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	e, status, msg := a.decodeEvent(w, r)
	if status != 0 {
		fail(w, status, msg)
		return
	}
	e.UserID = r.PathValue("identifier")
	e.Identifiers = []cdp.Identifier{path}
	a.publish(w, r, src, e)
}

// TrackAnonymous serves POST /api/v1/events: an event of no known person,
// kept with its anonymous_id until an identify names that id.
func (a *API) TrackAnonymous(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	e, status, msg := a.decodeEvent(w, r)
	if status != 0 {
		fail(w, status, msg)
		return
	}
	if e.AnonymousID != "" {
		e.Identifiers = []cdp.Identifier{{Kind: cdp.IdentifierAnonymousID, Value: e.AnonymousID}}
	}
	a.publish(w, r, src, e)
}

// decodeEvent validates an event body with the documented messages. The
// event's type is its name; page and screen events are typed "page" and
// "screen" with the name (the URL or screen) in properties.name.
func (a *API) decodeEvent(w http.ResponseWriter, r *http.Request) (*cdp.Event, int, string) {
	obj, status, msg := a.readObject(w, r)
	if status != 0 {
		return nil, status, msg
	}
	raw, _ := json.Marshal(obj)
	var b eventBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, http.StatusBadRequest, "request body must be a JSON object"
	}
	var name string
	if json.Unmarshal(b.Name, &name) != nil || strings.TrimSpace(name) == "" {
		return nil, http.StatusBadRequest, "event name must not be blank"
	}
	name = strings.TrimSpace(name)
	if len(name) > maxEventNameBytes {
		return nil, http.StatusBadRequest, "event name cannot be longer than 100 bytes"
	}
	data := json.RawMessage(`{}`)
	if len(b.Data) > 0 && string(b.Data) != "null" {
		if b.Data[0] != '{' {
			return nil, http.StatusBadRequest, "event data must be a hash"
		}
		if len(b.Data) > maxEventDataBytes {
			return nil, http.StatusBadRequest, "event data cannot be longer than 100000 bytes"
		}
		data = b.Data
	}
	e := baseEvent(r, name, "")
	switch b.Type {
	case "", "event":
	case "page", "screen":
		e.Type = b.Type
		var props map[string]any
		_ = json.Unmarshal(data, &props)
		if props == nil {
			props = map[string]any{}
		}
		if _, ok := props["name"]; !ok {
			props["name"] = name
		}
		data, _ = json.Marshal(props)
	default:
		return nil, http.StatusBadRequest, "event type must be one of event, page or screen"
	}
	e.Properties, e.MessageID, e.AnonymousID = data, strings.TrimSpace(b.ID), strings.TrimSpace(b.AnonymousID)
	if ts, ok := unixSeconds(b.Timestamp); ok {
		e.Timestamp = ts
	}
	return e, 0, ""
}
