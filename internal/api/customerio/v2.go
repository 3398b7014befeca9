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

func invalidV2(field, msg string) *v2Error {
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

// Error makes a v2 error entry an error, so that a decoder can return it.
func (e *v2Error) Error() string { return e.Message }

// tooLarge refuses a body over limit as v2 does.
func tooLarge(body []byte, limit int) error {
	if len(body) > limit {
		return &v2Error{Reason: "too_large", Message: fmt.Sprintf("request body exceeds the limit of %d bytes", limit)}
	}
	return nil
}

// Entity decodes POST /api/v2/entity: one operation.
func (a *API) Entity(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	if err := tooLarge(body, maxEntityBytes); err != nil {
		return ingest.Decoded{}, err
	}
	e, verr := entityEvent(r, body)
	if verr != nil {
		return ingest.Decoded{}, verr
	}
	return events(e), nil
}

// Batch decodes POST /api/v2/batch, {"batch":[entity…]}: valid items are
// accepted; the others are refused by batch_index (a 207 when some were
// accepted, a 400 when none was).
func (a *API) Batch(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	if err := tooLarge(body, maxBatchBytes); err != nil {
		return ingest.Decoded{}, err
	}
	var req struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Batch == nil {
		return ingest.Decoded{}, invalidV2("batch", "body must be {\"batch\":[…]}")
	}
	var dec ingest.Decoded
	for i, raw := range req.Batch {
		e, verr := (*cdp.Event)(nil), (*v2Error)(nil)
		if len(raw) > maxEntityBytes {
			verr = &v2Error{Reason: "too_large", Message: "batch items cannot be larger than 32 kb"}
		} else {
			e, verr = entityEvent(r, raw)
		}
		if verr == nil {
			if err := ingest.CheckEvent(e); err != nil {
				verr = invalidV2("", cdp.ErrorMessage(err))
			}
		}
		if verr != nil {
			verr.BatchIndex = &i
			dec.Refused = append(dec.Refused, verr)
			continue
		}
		dec.Events = append(dec.Events, e)
	}
	if len(dec.Events) == 0 && len(dec.Refused) > 0 {
		return ingest.Decoded{}, batchErrors(dec.Refused)
	}
	return dec, nil
}

// batchErrors are the refusals of a batch none of whose items was
// accepted: a 400 listing them all.
type batchErrors []error

func (b batchErrors) Error() string { return fmt.Sprintf("%d batch items refused", len(b)) }

// entityEvent maps one v2 operation to the event v1 would produce.
func entityEvent(r *http.Request, raw []byte) (*cdp.Event, *v2Error) {
	var en entity
	if err := json.Unmarshal(raw, &en); err != nil {
		return nil, invalidV2("", "entity must be a JSON object")
	}
	switch en.Type {
	case "person":
		return personEntity(r, en)
	case "object":
		return objectEntity(r, en)
	case "delivery":
		return deliveryEntity(r, en)
	}
	return nil, invalidV2("type", "type must be one of person, object, delivery")
}

// personIdent reads v2 person identifiers: exactly one of id, email, cio_id.
func personIdent(raw json.RawMessage, field string) (cdp.Identifier, *v2Error) {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return cdp.Identifier{}, invalidV2(field, field+" must hold exactly one of id, email, cio_id")
	}
	for kind, value := range m {
		if kind == "phone" {
			return cdp.Identifier{}, invalidV2(field, "phone identifiers are not supported")
		}
		ident, err := cdp.NewIdentifier(kind, value)
		if err != nil || kind == cdp.IdentifierAnonymousID {
			return cdp.Identifier{}, invalidV2(field, field+" must hold exactly one of id, email, cio_id")
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
			return nil, invalidV2("attributes", "attributes must be an object")
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
		return nil, invalidV2("action", fmt.Sprintf("unknown person action %q", en.Action))
	}
	if msg != "" {
		return nil, invalidV2("", msg)
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
		return nil, invalidV2("action", fmt.Sprintf("unknown object action %q", en.Action))
	}
	var ids map[string]any
	if json.Unmarshal(en.Identifiers, &ids) != nil || len(ids) == 0 {
		return nil, invalidV2("identifiers", "identifiers must name the object by object_type_id and object_id, or cio_object_id")
	}
	e := baseEvent(r, "object_"+en.Action, "")
	e.Properties, _ = json.Marshal(map[string]any{"identifiers": ids, "attributes": en.Attributes, "cio_relationships": en.Relationships})
	if err := setTime(e, en.Timestamp); err != nil {
		return nil, invalidV2("timestamp", cdp.ErrorMessage(err))
	}
	return e, nil
}

// deliveryEntity records a delivery event as delivery_<name>.
func deliveryEntity(r *http.Request, en entity) (*cdp.Event, *v2Error) {
	if en.Action != "event" {
		return nil, invalidV2("action", "delivery supports only the event action")
	}
	var ids struct{ ID string }
	if json.Unmarshal(en.Identifiers, &ids) != nil || ids.ID == "" {
		return nil, invalidV2("identifiers", "identifiers must hold the delivery id")
	}
	var name string
	_ = json.Unmarshal(en.Name, &name)
	if name != "opened" && name != "converted" && name != "delivered" {
		return nil, invalidV2("name", "name must be one of opened, converted, delivered")
	}
	if len(en.Attributes) == 0 || en.Attributes[0] != '{' {
		return nil, invalidV2("attributes", "attributes must be an object")
	}
	e := baseEvent(r, "delivery_"+name, "")
	e.Properties, _ = json.Marshal(map[string]any{"delivery_id": ids.ID, "attributes": en.Attributes})
	if err := setTime(e, en.Timestamp); err != nil {
		return nil, invalidV2("timestamp", cdp.ErrorMessage(err))
	}
	return e, nil
}
