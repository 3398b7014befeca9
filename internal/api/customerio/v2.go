package customerio

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Size limits of v2.
const (
	maxEntityBytes = 32 << 10
	maxBatchBytes  = 500 << 10
)

// v2Error is one entry of v2's {"errors":[…]} body.
type v2Error struct {
	BatchIndex *int   `json:"batch_index,omitempty"`
	Reason     string `json:"reason"`
	Field      string `json:"field,omitempty"`
	Message    string `json:"message"`
}

func invalid(field, msg string) *v2Error {
	return &v2Error{Reason: "invalid", Field: field, Message: msg}
}

func failV2(w http.ResponseWriter, status int, errs ...v2Error) {
	httpx.WriteJSON(w, status, map[string]any{"errors": errs})
}

// entity is one v2 operation.
type entity struct {
	Type          string          `json:"type"`
	Action        string          `json:"action"`
	Identifiers   json.RawMessage `json:"identifiers"`
	Attributes    json.RawMessage `json:"attributes"`
	Name          json.RawMessage `json:"name"`
	ID            string          `json:"id"`
	Timestamp     json.RawMessage `json:"timestamp"`
	Device        json.RawMessage `json:"device"`
	Primary       json.RawMessage `json:"primary"`
	Secondary     json.RawMessage `json:"secondary"`
	Relationships json.RawMessage `json:"cio_relationships"`
}

// Entity serves POST /api/v2/entity: one operation, 200 {} or 400.
func (a *API) Entity(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	body, err := httpx.ReadBody(w, r, min(a.maxBody, maxEntityBytes))
	if err != nil {
		failV2(w, httpx.Status(cdp.ErrorCode(err)), v2Error{Reason: "too_large", Message: cdp.ErrorMessage(err)})
		return
	}
	e, verr := entityEvent(r, body)
	if verr != nil {
		failV2(w, http.StatusBadRequest, *verr)
		return
	}
	a.publish(w, r, src, e)
}

// Batch serves POST /api/v2/batch, {"batch":[entity…]}: valid items are
// accepted; if some are not, 207 lists them by batch_index.
func (a *API) Batch(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	body, err := httpx.ReadBody(w, r, min(a.maxBody, maxBatchBytes))
	if err != nil {
		failV2(w, httpx.Status(cdp.ErrorCode(err)), v2Error{Reason: "too_large", Message: cdp.ErrorMessage(err)})
		return
	}
	var req struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Batch == nil {
		failV2(w, http.StatusBadRequest, *invalid("batch", "body must be {\"batch\":[…]}"))
		return
	}
	var events []*cdp.Event
	var errs []v2Error
	for i, raw := range req.Batch {
		e, verr := (*cdp.Event)(nil), (*v2Error)(nil)
		if len(raw) > maxEntityBytes {
			verr = &v2Error{Reason: "too_large", Message: "batch items cannot be larger than 32 kb"}
		} else {
			e, verr = entityEvent(r, raw)
		}
		if verr == nil {
			if err := ingest.CheckEvent(e); err != nil {
				verr = invalid("", cdp.ErrorMessage(err))
			}
		}
		if verr != nil {
			verr.BatchIndex = &i
			errs = append(errs, *verr)
			continue
		}
		events = append(events, e)
	}
	if len(events) == 0 && len(errs) > 0 {
		failV2(w, http.StatusBadRequest, errs...)
		return
	}
	if len(events) > 0 {
		if err := a.append(r, src, events...); err != nil {
			a.failErr(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		failV2(w, http.StatusMultiStatus, errs...)
		return
	}
	success(w)
}

// entityEvent maps one v2 operation to the event v1 would produce.
func entityEvent(r *http.Request, raw []byte) (*cdp.Event, *v2Error) {
	var en entity
	if err := json.Unmarshal(raw, &en); err != nil {
		return nil, invalid("", "entity must be a JSON object")
	}
	switch en.Type {
	case "person":
		return personEntity(r, en)
	case "object":
		return objectEntity(r, en)
	case "delivery":
		return deliveryEntity(r, en)
	}
	return nil, invalid("type", "type must be one of person, object, delivery")
}

// personIdent reads v2 person identifiers: exactly one of id, email, cio_id.
func personIdent(raw json.RawMessage, field string) (cdp.Identifier, *v2Error) {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return cdp.Identifier{}, invalid(field, field+" must hold exactly one of id, email, cio_id")
	}
	for kind, value := range m {
		if kind == "phone" {
			return cdp.Identifier{}, invalid(field, "phone identifiers are not supported")
		}
		ident, err := cdp.NewIdentifier(kind, value)
		if err != nil || kind == cdp.IdentifierAnonymousID {
			return cdp.Identifier{}, invalid(field, field+" must hold exactly one of id, email, cio_id")
		}
		return ident, nil
	}
	return cdp.Identifier{}, nil
}

func personEntity(r *http.Request, en entity) (*cdp.Event, *v2Error) {
	if en.Action == "merge" {
		return mergeEntity(r, en)
	}
	ident, verr := personIdent(en.Identifiers, "identifiers")
	if verr != nil {
		return nil, verr
	}
	var e *cdp.Event
	var msg string
	switch en.Action {
	case "identify", "add_relationships", "delete_relationships":
		attrs, ok := personAttributes(en)
		if !ok {
			return nil, invalid("attributes", "attributes must be an object")
		}
		e, msg = identifyEvent(r, ident, ident.Value, attrs)
		if e != nil && en.Action != "identify" {
			e.Type = en.Action
		}
	case "delete":
		e = baseEvent(r, "delete", ident.Value)
		e.Op, e.Ephemeral = cdp.OpDelete, true
	case "event", "page", "screen":
		typ := en.Action
		if typ == "event" {
			typ = ""
		}
		e, msg = trackEvent(r, en.Name, typ, en.ID, en.Timestamp, en.Attributes)
	case "add_device", "delete_device":
		e, msg = deviceEntity(r, en, ident)
	case "suppress", "unsuppress":
		e = baseEvent(r, en.Action+"ed", ident.Value)
		e.Op = cdp.OpSuppress
		if en.Action == "unsuppress" {
			e.Op = cdp.OpUnsuppress
		}
	default:
		return nil, invalid("action", fmt.Sprintf("unknown person action %q", en.Action))
	}
	if msg != "" {
		return nil, invalid("", msg)
	}
	e.UserID = ident.Value
	if len(e.Identifiers) == 0 {
		e.Identifiers = []cdp.Identifier{ident}
	}
	return e, nil
}

// mergeEntity is a merge of the secondary person into the primary one.
func mergeEntity(r *http.Request, en entity) (*cdp.Event, *v2Error) {
	primary, verr := personIdent(en.Primary, "primary")
	if verr != nil {
		return nil, verr
	}
	secondary, verr := personIdent(en.Secondary, "secondary")
	if verr != nil {
		return nil, verr
	}
	e := baseEvent(r, "merge", primary.Value)
	e.Op, e.Identifiers = cdp.OpMerge, []cdp.Identifier{primary}
	e.Properties, _ = json.Marshal(map[string]any{"secondary": secondary})
	return e, nil
}

// personAttributes are the traits an identify or relationship action sets:
// its attributes, its relationships kept as a trait (cleared by
// delete_relationships) and its timestamp. It reports false when the
// attributes are not an object.
func personAttributes(en entity) (map[string]json.RawMessage, bool) {
	attrs := map[string]json.RawMessage{}
	if len(en.Attributes) > 0 && string(en.Attributes) != "null" && json.Unmarshal(en.Attributes, &attrs) != nil {
		return nil, false
	}
	if len(en.Relationships) > 0 && string(en.Relationships) != "null" {
		attrs["cio_relationships"] = en.Relationships
	}
	if en.Action == "delete_relationships" {
		attrs = map[string]json.RawMessage{"cio_relationships": json.RawMessage("null")}
	}
	if ts := en.Timestamp; len(ts) > 0 {
		attrs["_timestamp"] = ts
	}
	return attrs, true
}

// deviceEntity is an add_device or delete_device action on the person.
func deviceEntity(r *http.Request, en entity, ident cdp.Identifier) (*cdp.Event, string) {
	var d cdp.Device
	var msg string
	if en.Action == "add_device" {
		d, msg = parseDevice(en.Device, "token")
	} else if d.ID = stringAttr(deviceFields(en.Device), "token"); d.ID == "" {
		msg = "device token is required"
	}
	if msg != "" {
		return nil, msg
	}
	op, typ := cdp.OpDeviceAdd, "device_added"
	if en.Action == "delete_device" {
		op, typ = cdp.OpDeviceDelete, "device_deleted"
	}
	e := baseEvent(r, typ, ident.Value)
	e.Op = op
	e.Properties, _ = json.Marshal(d)
	return e, ""
}

func deviceFields(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	return m
}

// objectEntity records object operations as events typed object_<action>
// (objects and their relationships are not modelled as entities yet).
func objectEntity(r *http.Request, en entity) (*cdp.Event, *v2Error) {
	switch en.Action {
	case "identify", "identify_anonymous", "delete", "add_relationships", "delete_relationships":
	default:
		return nil, invalid("action", fmt.Sprintf("unknown object action %q", en.Action))
	}
	var ids map[string]any
	if json.Unmarshal(en.Identifiers, &ids) != nil || len(ids) == 0 {
		return nil, invalid("identifiers", "identifiers must name the object by object_type_id and object_id, or cio_object_id")
	}
	e := baseEvent(r, "object_"+en.Action, "")
	e.Properties, _ = json.Marshal(map[string]any{"identifiers": ids, "attributes": en.Attributes, "cio_relationships": en.Relationships})
	if err := setTime(e, en.Timestamp); err != nil {
		return nil, invalid("timestamp", cdp.ErrorMessage(err))
	}
	return e, nil
}

// deliveryEntity records a delivery event as delivery_<name>.
func deliveryEntity(r *http.Request, en entity) (*cdp.Event, *v2Error) {
	if en.Action != "event" {
		return nil, invalid("action", "delivery supports only the event action")
	}
	var ids struct{ ID string }
	if json.Unmarshal(en.Identifiers, &ids) != nil || ids.ID == "" {
		return nil, invalid("identifiers", "identifiers must hold the delivery id")
	}
	var name string
	_ = json.Unmarshal(en.Name, &name)
	if name != "opened" && name != "converted" && name != "delivered" {
		return nil, invalid("name", "name must be one of opened, converted, delivered")
	}
	if len(en.Attributes) == 0 || en.Attributes[0] != '{' {
		return nil, invalid("attributes", "attributes must be an object")
	}
	e := baseEvent(r, "delivery_"+name, "")
	e.Properties, _ = json.Marshal(map[string]any{"delivery_id": ids.ID, "attributes": en.Attributes})
	if err := setTime(e, en.Timestamp); err != nil {
		return nil, invalid("timestamp", cdp.ErrorMessage(err))
	}
	return e, nil
}
