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

// reportData is the schema of a report's data: the fields every message
// report has, plus the metric's own.
func reportData(object, metric string) Schema {
	props := map[string]Schema{
		"customer_id": {Type: "string", Description: "Deprecated; blank if the person was deleted."},
		"identifiers": {Type: "object", Description: "The person: id, email, and cio_id in id+email workspaces.",
			Properties: map[string]Schema{"id": {Type: []string{"string", "null"}}, "email": {Type: []string{"string", "null"}},
				"cio_id": {Type: "string"}}},
	}
	required := []string{"identifiers"}
	if object == "customer" {
		props["email_address"] = Schema{Type: []string{"string", "null"}}
		required = append(required, "customer_id", "email_address")
		if metric == "cio_subscription_preferences_changed" {
			props["content"] = Schema{Type: "string", Description: `The preferences as JSON text, e.g. {"topics":{"topic_1":true}}.`}
		}
		return Schema{Type: "object", Properties: props, Required: required}
	}
	for name, s := range map[string]Schema{
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
	} {
		props[name] = s
	}
	required = append(required, "delivery_id")
	add := func(name string, s Schema, req bool) {
		props[name] = s
		if req {
			required = append(required, name)
		}
	}
	failure := slices.Contains([]string{"attempted", "bounced", "dropped", "failed", "undeliverable"}, metric)
	switch object {
	case "email":
		add("recipient", Schema{Type: "string", Description: "The email address."}, metric != "drafted")
		if metric != "drafted" && metric != "attempted" && metric != "opened" {
			add("subject", Schema{Type: "string"}, true)
		}
		switch metric {
		case "sent":
			add("content", Schema{Type: "string", Description: "With Body Content enabled."}, false)
			add("headers", Schema{Type: "object", Description: `With Body Content enabled: {"Name":["value"]}.`}, false)
		case "opened":
			for _, f := range []string{"proxied", "prefetched", "synthetic"} {
				add(f, Schema{Type: "boolean"}, false)
			}
		}
	case "push":
		if slices.Contains([]string{"sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped"}, metric) {
			add("recipients", Schema{Type: "array", Items: &Schema{Type: "object", Required: []string{"device_id"},
				Properties: map[string]Schema{"device_id": {Type: "string"}, "device_platform": {Type: "string", Enum: []any{"ios", "android"}},
					"failure_message": {Type: "string"}}}}, true)
		}
		if metric == "sent" {
			add("content", Schema{Type: "string", Description: "The push payload as JSON text."}, false)
		}
	case "sms", "whatsapp":
		add("recipient", Schema{Type: "string", Description: "The phone number."}, metric != "drafted")
		if metric == "sent" {
			add("content", Schema{Type: "string"}, false)
		}
		if metric == "replied" {
			add("inbound_event_id", Schema{Type: "string"}, true)
			add("to", Schema{Type: "string", Description: "The sender number the person replied to."}, true)
		}
	case "in_app", "slack", "webhook":
		if slices.Contains([]string{"sent", "clicked", "converted"}, metric) {
			add("recipient", Schema{Type: "string", Description: map[string]string{"in_app": "The person's id or email.",
				"slack": "The channel, e.g. #general.", "webhook": "The URL."}[object]}, true)
		}
		if metric == "sent" {
			add("content", Schema{Type: "string"}, false)
		}
		if object == "in_app" && metric == "clicked" {
			add("tracked_response", Schema{Type: "string", Description: "The action's name."}, false)
		}
	}
	if metric == "clicked" {
		add("href", Schema{Type: "string"}, true)
		add("link_id", Schema{Type: "integer"}, true)
		if object == "email" {
			add("machine", Schema{Type: "boolean"}, false)
		}
	}
	// A push's bounced and dropped failures are per device, in recipients.
	if failure && (object != "push" || metric == "attempted" || metric == "failed" || metric == "undeliverable") {
		add("failure_message", Schema{Type: "string"}, true)
	}
	return Schema{Type: "object", Properties: props, Required: required}
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
