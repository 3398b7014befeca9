package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpx"
)

// report is the envelope of a Customer.io reporting webhook.
type report struct {
	EventID    string          `json:"event_id"`
	ObjectType string          `json:"object_type"`
	Metric     string          `json:"metric"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Data       json.RawMessage `json:"data"`
}

// reportData holds the fields of data that identify the person and the
// message.
type reportData struct {
	CustomerID  any `json:"customer_id"`
	Identifiers struct {
		ID    any `json:"id"`
		Email any `json:"email"`
		CioID any `json:"cio_id"`
	} `json:"identifiers"`
	DeliveryID string `json:"delivery_id"`
	Href       string `json:"href"`
	LinkID     any    `json:"link_id"`
}

// reportEvent turns a verified Customer.io reporting webhook into an event
// typed <object_type>_<metric> (any pair, known or not), whose properties
// are data's fields plus the envelope's event_id, object_type and metric,
// deduplicated on event_id, and whose person is named by data.identifiers
// and customer_id. A body that cannot be read becomes a webhook_error
// event carrying the problem.
func reportEvent(h http.Header, body []byte, now time.Time) *cdp.Event {
	e := &cdp.Event{Timestamp: now, Context: reportContext(h), UserAgent: h.Get("User-Agent")}
	var rep report
	if err := json.Unmarshal(body, &rep); err != nil {
		return errorEvent(e, body, "the body is not a JSON object: "+err.Error())
	}
	data := bytes.TrimSpace(rep.Data)
	if len(data) == 0 || string(data) == "null" {
		data = []byte("{}")
	}
	if data[0] != '{' {
		return errorEvent(e, body, "data is not a JSON object")
	}
	if rep.ObjectType == "" || rep.Metric == "" {
		return errorEvent(e, body, "object_type and metric are required")
	}
	var d reportData
	_ = json.Unmarshal(data, &d) // fields of the wrong type are ignored
	e.Type = rep.ObjectType + "_" + rep.Metric
	e.Properties = withEnvelope(data, rep)
	switch t, err := httpx.UnixSeconds("timestamp", rep.Timestamp); {
	case err != nil:
		return errorEvent(e, body, cdp.ErrorMessage(err))
	case !t.IsZero():
		e.Timestamp = t
	}
	e.MessageID = rep.EventID
	if e.MessageID == "" && d.DeliveryID != "" {
		e.MessageID = fallbackID(d, rep)
	}
	e.Identifiers = reportIdentifiers(d)
	for _, ident := range e.Identifiers {
		if ident.Kind == cdp.IdentifierID {
			e.UserID = ident.Value
		}
	}
	if rep.ObjectType == "customer" && (rep.Metric == "subscribed" || rep.Metric == "unsubscribed") && len(e.Identifiers) > 0 {
		// The person's subscription state, as a trait workflows can read.
		e.Op = cdp.OpIdentify
		e.Traits, _ = json.Marshal(map[string]bool{"unsubscribed": rep.Metric == "unsubscribed"})
	}
	return e
}

// withEnvelope returns data (a JSON object) with the envelope's event_id,
// object_type and metric added. It splices them in, which keeps the cost
// of a report near one decode; only a data object that already has one of
// those keys is decoded and re-encoded, so that the envelope's value wins.
func withEnvelope(data []byte, rep report) json.RawMessage {
	envelope, _ := json.Marshal(struct {
		EventID    string `json:"event_id"`
		ObjectType string `json:"object_type"`
		Metric     string `json:"metric"`
	}{rep.EventID, rep.ObjectType, rep.Metric})
	for _, k := range []string{`"event_id"`, `"object_type"`, `"metric"`} {
		if bytes.Contains(data, []byte(k)) {
			props := map[string]json.RawMessage{}
			_ = json.Unmarshal(data, &props)
			_ = json.Unmarshal(envelope, &props)
			out, _ := json.Marshal(props)
			return out
		}
	}
	end := bytes.LastIndexByte(data, '}')
	out := append(make([]byte, 0, len(data)+len(envelope)), bytes.TrimRight(data[:end], " \t\r\n")...)
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	return append(out, envelope[1:]...)
}

// reportIdentifiers collects data.identifiers.{id,email,cio_id}, with the
// deprecated customer_id standing in for a missing id.
func reportIdentifiers(d reportData) []cdp.Identifier {
	var idents []cdp.Identifier
	add := func(kind string, v any) {
		s := scalar(v)
		if s == "" {
			return
		}
		if kind == cdp.IdentifierEmail {
			s = strings.ToLower(s)
		}
		idents = append(idents, cdp.Identifier{Kind: kind, Value: s})
	}
	id := d.Identifiers.ID
	if scalar(id) == "" {
		id = d.CustomerID
	}
	add(cdp.IdentifierID, id)
	add(cdp.IdentifierEmail, d.Identifiers.Email)
	add(cdp.IdentifierCioID, d.Identifiers.CioID)
	return idents
}

// scalar renders a JSON string or number identifier; anything else is "".
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// fallbackID is the dedup key of a report without event_id: never the delivery id alone, which every metric of one
// message shares.
func fallbackID(d reportData, rep report) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{d.DeliveryID, rep.ObjectType, rep.Metric,
		string(bytes.TrimSpace(rep.Timestamp)), d.Href, scalar(d.LinkID)}, "\x00")))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// reportContext keeps the delivery headers as metadata: X-CIO-Delivery-ID
// names the message (shared by its sent, delivered, opened… reports), and
// X-CIO-Timestamp is when this attempt was sent.
func reportContext(h http.Header) json.RawMessage {
	var meta struct {
		Webhook struct {
			DeliveryID string `json:"delivery_id,omitempty"`
			SentAt     int64  `json:"sent_at,omitempty"`
		} `json:"webhook"`
	}
	meta.Webhook.DeliveryID = h.Get(hooks.HeaderCIODelivery)
	meta.Webhook.SentAt, _ = strconv.ParseInt(h.Get(hooks.HeaderCIOTimestamp), 10, 64)
	ctx, _ := json.Marshal(meta)
	return ctx
}

// errorEvent records a body that could not be read, with the problem.
func errorEvent(e *cdp.Event, body []byte, problem string) *cdp.Event {
	e.Type, e.Error = cdp.EventWebhookError, problem
	e.MessageID, e.UserID, e.Identifiers, e.Op, e.Traits = "", "", nil, "", nil
	e.Properties, _ = json.Marshal(map[string]string{"body": string(body)})
	return e
}
