package customerio

import (
	"encoding/json"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// personOp is an operation on the person in the path.
func personOp(r *http.Request, typ, op string, props any) (ingest.Decoded, error) {
	path, err := pathPerson(r)
	if err != nil {
		return ingest.Decoded{}, err
	}
	e := baseEvent(r, typ, r.PathValue("identifier"))
	e.Op, e.Identifiers = op, []cdp.Identifier{path}
	if props != nil {
		e.Properties, _ = json.Marshal(props)
	}
	return events(e), nil
}

// AddDevice decodes PUT /api/v1/customers/{identifier}/devices.
// last_used may be a number or, as go-customerio sends it, a string.
func (a *API) AddDevice(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	obj, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	d, msg := parseDevice(obj["device"], "id")
	if msg != "" {
		return ingest.Decoded{}, invalid(msg)
	}
	return personOp(r, "device_added", cdp.OpDeviceAdd, d)
}

// parseDevice reads a device object whose token is under key (v1 "id",
// v2 "token"); last_used may be a number or a numeric string.
func parseDevice(raw json.RawMessage, key string) (cdp.Device, string) {
	var dev map[string]json.RawMessage
	if json.Unmarshal(raw, &dev) != nil || dev == nil {
		return cdp.Device{}, "device is required"
	}
	d := cdp.Device{ID: stringAttr(dev, key), Platform: stringAttr(dev, "platform")}
	switch {
	case d.ID == "":
		return d, "device " + key + " is required"
	case d.Platform != "ios" && d.Platform != "android":
		return d, "device platform must be one of ios, android"
	}
	switch t, err := httpx.UnixSeconds("device last_used", dev["last_used"]); {
	case err != nil:
		return d, cdp.ErrorMessage(err)
	case !t.IsZero():
		d.LastUsed = &t
	}
	if attrs := dev["attributes"]; len(attrs) > 0 && attrs[0] == '{' {
		d.Attributes = attrs
	}
	return d, ""
}

// DeleteDevice decodes DELETE /api/v1/customers/{identifier}/devices/{device_id}.
func (a *API) DeleteDevice(r *http.Request, _ []byte, _ *cdp.Source) (ingest.Decoded, error) {
	return personOp(r, "device_deleted", cdp.OpDeviceDelete, cdp.Device{ID: r.PathValue("device_id")})
}

// Suppress decodes POST /api/v1/customers/{identifier}/suppress. Unlike
// Customer.io, which deletes the person, the profile is kept and flagged
// suppressed: Switchyard is the record others (and workflows) consult.
func (a *API) Suppress(r *http.Request, _ []byte, _ *cdp.Source) (ingest.Decoded, error) {
	return personOp(r, "suppressed", cdp.OpSuppress, nil)
}

// Unsuppress decodes POST /api/v1/customers/{identifier}/unsuppress.
func (a *API) Unsuppress(r *http.Request, _ []byte, _ *cdp.Source) (ingest.Decoded, error) {
	return personOp(r, "unsuppressed", cdp.OpUnsuppress, nil)
}

// oneIdentifier reads {"id"|"email"|"cio_id": "…"} with exactly one key.
func oneIdentifier(raw json.RawMessage) (cdp.Identifier, bool) {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return cdp.Identifier{}, false
	}
	for kind, value := range m {
		ident, err := cdp.NewIdentifier(kind, value)
		if err != nil || kind == cdp.IdentifierAnonymousID {
			return cdp.Identifier{}, false
		}
		return ident, true
	}
	return cdp.Identifier{}, false
}

// Merge decodes POST /api/v1/merge_customers: the secondary person is
// merged into the primary; nothing happens unless both exist.
func (a *API) Merge(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	obj, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	primary, ok := oneIdentifier(obj["primary"])
	if !ok {
		return ingest.Decoded{}, invalid("primary must name one person by id, email or cio_id")
	}
	secondary, ok := oneIdentifier(obj["secondary"])
	if !ok {
		return ingest.Decoded{}, invalid("secondary must name one person by id, email or cio_id")
	}
	e := baseEvent(r, "merge", primary.Value)
	e.Op, e.Identifiers = cdp.OpMerge, []cdp.Identifier{primary}
	e.Properties, _ = json.Marshal(map[string]any{"secondary": secondary})
	return events(e), nil
}

// maxSegmentIDs bounds the ids of one segment call.
const maxSegmentIDs = 1000

// Segment decodes POST /api/v1/segments/{segment_id}/add_customers and
// remove_customers (?id_type=id|email|cio_id): membership is kept on the
// profiles; people Switchyard does not know are ignored.
func (a *API) Segment(op string) ingest.Decoder {
	return func(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
		kind := r.URL.Query().Get("id_type")
		if kind == "" {
			kind = cdp.IdentifierID
		}
		if kind != cdp.IdentifierID && kind != cdp.IdentifierEmail && kind != cdp.IdentifierCioID {
			return ingest.Decoded{}, invalid("id_type must be one of id, email, cio_id")
		}
		obj, err := bodyObject(body)
		if err != nil {
			return ingest.Decoded{}, err
		}
		var ids []string
		if json.Unmarshal(obj["ids"], &ids) != nil || len(ids) < 1 || len(ids) > maxSegmentIDs {
			return ingest.Decoded{}, invalid("ids must be a list of 1 to 1000 strings")
		}
		e := baseEvent(r, op, "")
		e.Op = op
		for _, id := range ids {
			ident, err := cdp.NewIdentifier(kind, id)
			if err != nil {
				return ingest.Decoded{}, invalid("ids must not contain blank values")
			}
			e.Identifiers = append(e.Identifiers, ident)
		}
		e.Properties, _ = json.Marshal(map[string]string{"segment_id": r.PathValue("segment_id")})
		return events(e), nil
	}
}
