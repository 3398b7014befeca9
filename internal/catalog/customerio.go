package catalog

import "slices"

// Customer.io reporting webhooks (Customer.io's documentation): for each
// object type, its metrics; Switchyard types each report
// <object_type>_<metric>.
var reportMetrics = map[string][]string{
	"customer": {"subscribed", "unsubscribed", "cio_subscription_preferences_changed"},
	"email": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "unsubscribed", "bounced",
		"dropped", "spammed", "failed", "undeliverable"},
	"push": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped", "failed",
		"undeliverable"},
	"sms": {"drafted", "attempted", "sent", "delivered", "clicked", "converted", "bounced", "failed", "undeliverable",
		"replied"},
	"whatsapp": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped",
		"failed", "undeliverable", "replied"},
	"in_app":  {"drafted", "attempted", "sent", "opened", "clicked", "converted", "failed", "undeliverable"},
	"slack":   {"drafted", "attempted", "sent", "clicked", "failed", "undeliverable"},
	"webhook": {"drafted", "attempted", "sent", "clicked", "failed", "undeliverable"},
}

// messageFields are the fields of every message report (all but the
// customer object's).
var messageFields = map[string]Schema{
	"delivery_id":              {Type: "string", Description: "The message; shared by all of its reports (sent, delivered, opened…)."},
	"action_id":                {Type: "integer"},
	"parent_action_id":         {Type: "integer"},
	"campaign_id":              {Type: []string{"integer", "null"}},
	"broadcast_id":             {Type: []string{"integer", "null"}},
	"newsletter_id":            {Type: []string{"integer", "null"}},
	"content_id":               {Type: "integer"},
	"trigger_id":               {Type: "integer"},
	"trigger_event_id":         {Type: []string{"string", "null"}},
	"transactional_message_id": {Description: "Untyped in Customer.io's spec; an integer in practice."},
	"journey_id":               {Type: "string"},
}

// reportFields collects the fields of a report's data and which of them
// are required.
type reportFields struct {
	props    map[string]Schema
	required []string
}

func (f *reportFields) add(name string, s Schema, required bool) {
	f.props[name] = s
	if required {
		f.required = append(f.required, name)
	}
}

func (f *reportFields) schema() Schema {
	return Schema{Type: "object", Properties: f.props, Required: f.required}
}

// reportData is the schema of a report's data: the fields every report
// has, those of every message report, plus the object's and the metric's
// own.
func reportData(object, metric string) Schema {
	f := &reportFields{props: map[string]Schema{
		"customer_id": {Type: "string", Description: "Deprecated; blank if the person was deleted."},
		"identifiers": {Type: "object", Description: "The person: id, email, and cio_id in id+email workspaces.",
			Properties: map[string]Schema{"id": {Type: []string{"string", "null"}}, "email": {Type: []string{"string", "null"}},
				"cio_id": {Type: "string"}}},
	}, required: []string{"identifiers"}}
	if object == "customer" {
		f.required = append(f.required, "customer_id")
		f.add("email_address", Schema{Type: []string{"string", "null"}}, true)
		if metric == "cio_subscription_preferences_changed" {
			f.add("content", Schema{Type: "string", Description: `The preferences as JSON text, e.g. {"topics":{"topic_1":true}}.`}, false)
		}
		return f.schema()
	}
	for name, s := range messageFields {
		f.add(name, s, name == "delivery_id")
	}
	channelFields(f, object, metric)
	if metric == "clicked" {
		f.add("href", Schema{Type: "string"}, true)
		f.add("link_id", Schema{Type: "integer"}, true)
		if object == "email" {
			f.add("machine", Schema{Type: "boolean"}, false)
		}
	}
	// A push's bounced and dropped failures are per device, in recipients.
	failure := slices.Contains([]string{"attempted", "bounced", "dropped", "failed", "undeliverable"}, metric)
	if failure && (object != "push" || metric == "attempted" || metric == "failed" || metric == "undeliverable") {
		f.add("failure_message", Schema{Type: "string"}, true)
	}
	return f.schema()
}

// channelFields adds the fields a message report has for its channel.
func channelFields(f *reportFields, object, metric string) {
	switch object {
	case "email":
		f.add("recipient", Schema{Type: "string", Description: "The email address."}, metric != "drafted")
		if metric != "drafted" && metric != "attempted" && metric != "opened" {
			f.add("subject", Schema{Type: "string"}, true)
		}
		switch metric {
		case "sent":
			f.add("content", Schema{Type: "string", Description: "With Body Content enabled."}, false)
			f.add("headers", Schema{Type: "object", Description: `With Body Content enabled: {"Name":["value"]}.`}, false)
		case "opened":
			for _, name := range []string{"proxied", "prefetched", "synthetic"} {
				f.add(name, Schema{Type: "boolean"}, false)
			}
		}
	case "push":
		if slices.Contains([]string{"sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped"}, metric) {
			f.add("recipients", Schema{Type: "array", Items: &Schema{Type: "object", Required: []string{"device_id"},
				Properties: map[string]Schema{"device_id": {Type: "string"}, "device_platform": {Type: "string", Enum: []any{"ios", "android"}},
					"failure_message": {Type: "string"}}}}, true)
		}
		if metric == "sent" {
			f.add("content", Schema{Type: "string", Description: "The push payload as JSON text."}, false)
		}
	case "sms", "whatsapp":
		f.add("recipient", Schema{Type: "string", Description: "The phone number."}, metric != "drafted")
		if metric == "sent" {
			f.add("content", Schema{Type: "string"}, false)
		}
		if metric == "replied" {
			f.add("inbound_event_id", Schema{Type: "string"}, true)
			f.add("to", Schema{Type: "string", Description: "The sender number the person replied to."}, true)
		}
	case "in_app", "slack", "webhook":
		if slices.Contains([]string{"sent", "clicked", "converted"}, metric) {
			f.add("recipient", Schema{Type: "string", Description: map[string]string{"in_app": "The person's id or email.",
				"slack": "The channel, e.g. #general.", "webhook": "The URL."}[object]}, true)
		}
		if metric == "sent" {
			f.add("content", Schema{Type: "string"}, false)
		}
		if object == "in_app" && metric == "clicked" {
			f.add("tracked_response", Schema{Type: "string", Description: "The action's name."}, false)
		}
	}
}

// reportPayload is the body of one report.
func reportPayload(object, metric string) Schema {
	return Schema{Type: "object", Required: []string{"event_id", "object_type", "metric", "timestamp", "data"},
		Properties: map[string]Schema{
			"event_id":    {Type: "string", Description: "Unique per report; Switchyard's dedup key."},
			"object_type": {Const: object},
			"metric":      {Const: metric},
			"timestamp":   {Type: "integer", Description: "When the event occurred, Unix seconds."},
			"data":        reportData(object, metric),
		}}
}
