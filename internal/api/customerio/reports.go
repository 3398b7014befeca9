package customerio

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Delivery report kinds: metrics across channels, and the legacy
// push events.
var (
	metrics    = []string{"bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"}
	pushEvents = []string{"opened", "converted", "delivered"}
)

// Metrics decodes POST /api/v1/metrics: a delivery metric reported by
// an app or SDK, stored as an event typed "delivery_<metric>".
func (a *API) Metrics(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	return deliveryReport(r, body, "metric", metrics, "delivery_")
}

// PushEvents decodes the legacy POST /api/v1/push/events, stored as
// "push_<event>".
func (a *API) PushEvents(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	return deliveryReport(r, body, "event", pushEvents, "push_")
}

// deliveryReport validates a report whose kind is body[field], one of
// allowed, as an event typed prefix+kind.
func deliveryReport(r *http.Request, body []byte, field string, allowed []string, prefix string) (ingest.Decoded, error) {
	obj, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	kind := stringAttr(obj, field)
	switch {
	case stringAttr(obj, "delivery_id") == "":
		return ingest.Decoded{}, invalid("delivery_id is required")
	case !slices.Contains(allowed, kind):
		return ingest.Decoded{}, invalid(field + " must be one of " + strings.Join(allowed, ", "))
	}
	return deliveryEvent(r, prefix+kind, obj)
}

// deliveryEvent is a delivery report: its fields are the properties.
func deliveryEvent(r *http.Request, typ string, obj map[string]json.RawMessage) (ingest.Decoded, error) {
	e := baseEvent(r, typ, "")
	if err := setTime(e, obj["timestamp"]); err != nil {
		return ingest.Decoded{}, invalid(cdp.ErrorMessage(err))
	}
	e.Properties, _ = json.Marshal(obj)
	return events(e), nil
}

// ServeUnsubscribe serves POST /unsubscribe/{delivery_id}, which needs no
// credentials (the delivery id is the capability) but a JSON body. It is
// recorded on the first enabled customerio_track source.
func (a *API) ServeUnsubscribe(d ingest.Decoder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var src *cdp.Source
		for _, s := range a.sources.List() {
			if s.Kind == cdp.SourceCustomerIOTrack && s.Enabled {
				src = s
				break
			}
		}
		if src == nil {
			fail(w, http.StatusNotFound, "no Customer.io Track source is configured")
			return
		}
		a.serveAs(w, r, src, d, a.failErr, func(w http.ResponseWriter, _ ingest.Decoded) { success(w) })
	})
}

// Unsubscribe decodes POST /unsubscribe/{delivery_id}.
func (a *API) Unsubscribe(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		return ingest.Decoded{}, invalid("Content-Type must be application/json")
	}
	obj, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	if v, ok := obj["unsubscribe"]; ok && string(v) != "true" && string(v) != "false" {
		return ingest.Decoded{}, invalid("unsubscribe must be a boolean")
	}
	obj["delivery_id"], _ = json.Marshal(r.PathValue("delivery_id"))
	return deliveryEvent(r, "delivery_unsubscribed", obj)
}

// SubmitForm decodes POST /api/v1/forms/{form_id}/submit: the fields
// (flat, or under "data") identify the person by exactly one of email or
// id, become their traits, and are recorded as a form_submitted event. It
// is answered 204, as Customer.io documents (ServeForm).
func (a *API) SubmitForm(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	obj, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	if data, ok := obj["data"]; ok && len(obj) == 1 {
		obj = nil
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return ingest.Decoded{}, invalid("form data must be an object")
		}
	}
	email, id := stringAttr(obj, "email"), stringAttr(obj, "id")
	if (email == "") == (id == "") {
		return ingest.Decoded{}, invalid("form data must contain exactly one of email or id")
	}
	ident := cdp.Identifier{Kind: cdp.IdentifierID, Value: id}
	if email != "" {
		ident = cdp.Identifier{Kind: cdp.IdentifierEmail, Value: strings.ToLower(email)}
	}
	if msg := checkAttributes(obj); msg != "" {
		return ingest.Decoded{}, invalid(msg)
	}
	identify := baseEvent(r, "identify", ident.Value)
	identify.Op, identify.Identifiers = cdp.OpIdentify, []cdp.Identifier{ident}
	identify.Traits, _ = json.Marshal(obj)
	submitted := baseEvent(r, "form_submitted", ident.Value)
	submitted.Identifiers = []cdp.Identifier{ident}
	submitted.Properties, _ = json.Marshal(map[string]any{"form_id": r.PathValue("form_id"), "fields": obj})
	return events(identify, submitted), nil
}
