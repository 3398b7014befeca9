package customerio

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Delivery report kinds: metrics across channels, and the legacy
// push events.
var (
	metrics    = []string{"bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"}
	pushEvents = []string{"opened", "converted", "delivered"}
)

// Metrics serves POST /api/v1/metrics: a delivery metric reported by an
// app or SDK, stored as an event typed "delivery_<metric>".
func (a *API) Metrics(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	a.deliveryReport(w, r, src, "metric", metrics, "delivery_")
}

// PushEvents serves the legacy POST /api/v1/push/events, stored as
// "push_<event>".
func (a *API) PushEvents(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	a.deliveryReport(w, r, src, "event", pushEvents, "push_")
}

// deliveryReport validates a report whose kind is body[field], one of
// allowed, and stores it as an event typed prefix+kind.
func (a *API) deliveryReport(w http.ResponseWriter, r *http.Request, src *cdp.Source, field string, allowed []string, prefix string) {
	obj, ok := a.readObject(w, r)
	if !ok {
		return
	}
	kind := stringAttr(obj, field)
	switch {
	case stringAttr(obj, "delivery_id") == "":
		fail(w, http.StatusBadRequest, "delivery_id is required")
		return
	case !slices.Contains(allowed, kind):
		fail(w, http.StatusBadRequest, field+" must be one of "+strings.Join(allowed, ", "))
		return
	}
	a.deliveryEvent(w, r, src, prefix+kind, obj)
}

// deliveryEvent stores a delivery report: its fields are the properties.
func (a *API) deliveryEvent(w http.ResponseWriter, r *http.Request, src *cdp.Source, typ string, obj map[string]json.RawMessage) {
	e := baseEvent(r, typ, "")
	if err := setTime(e, obj["timestamp"]); err != nil {
		fail(w, http.StatusBadRequest, cdp.ErrorMessage(err))
		return
	}
	e.Properties, _ = json.Marshal(obj)
	a.publish(w, r, src, e)
}

// Unsubscribe serves POST /unsubscribe/{delivery_id}, which needs no
// credentials (the delivery id is the capability) but a JSON body. It is
// recorded on the first enabled customerio_track source.
func (a *API) Unsubscribe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
			fail(w, http.StatusBadRequest, "Content-Type must be application/json")
			return
		}
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
		obj, ok := a.readObject(w, r)
		if !ok {
			return
		}
		if v, ok := obj["unsubscribe"]; ok && string(v) != "true" && string(v) != "false" {
			fail(w, http.StatusBadRequest, "unsubscribe must be a boolean")
			return
		}
		obj["delivery_id"], _ = json.Marshal(r.PathValue("delivery_id"))
		a.deliveryEvent(w, r, src, "delivery_unsubscribed", obj)
	})
}

// SubmitForm serves POST /api/v1/forms/{form_id}/submit: the fields (flat,
// or under "data") identify the person by exactly one of email or id,
// become their traits, and are recorded as a form_submitted event. It
// answers 204, as Customer.io documents.
func (a *API) SubmitForm(w http.ResponseWriter, r *http.Request, src *cdp.Source) {
	obj, ok := a.readObject(w, r)
	if !ok {
		return
	}
	if data, ok := obj["data"]; ok && len(obj) == 1 {
		obj = nil
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			fail(w, http.StatusBadRequest, "form data must be an object")
			return
		}
	}
	email, id := stringAttr(obj, "email"), stringAttr(obj, "id")
	if (email == "") == (id == "") {
		fail(w, http.StatusBadRequest, "form data must contain exactly one of email or id")
		return
	}
	ident := cdp.Identifier{Kind: cdp.IdentifierID, Value: id}
	if email != "" {
		ident = cdp.Identifier{Kind: cdp.IdentifierEmail, Value: strings.ToLower(email)}
	}
	if msg := checkAttributes(obj); msg != "" {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	identify := baseEvent(r, "identify", ident.Value)
	identify.Op, identify.Identifiers = cdp.OpIdentify, []cdp.Identifier{ident}
	identify.Traits, _ = json.Marshal(obj)
	submitted := baseEvent(r, "form_submitted", ident.Value)
	submitted.Identifiers = []cdp.Identifier{ident}
	submitted.Properties, _ = json.Marshal(map[string]any{"form_id": r.PathValue("form_id"), "fields": obj})
	if err := a.append(r, src, identify, submitted); err != nil {
		a.failErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
