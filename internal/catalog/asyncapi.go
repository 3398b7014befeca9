package catalog

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Doc is a generated document, ready to encode as JSON.
type Doc = map[string]any

type (
	m   = map[string]any
	ref = map[string]string
)

var paramPattern = regexp.MustCompile(`\{([^}]+)\}`)

// pathParams returns the {names} of an HTTP path.
func pathParams(path string) []string {
	var names []string
	for _, match := range paramPattern.FindAllStringSubmatch(path, -1) {
		names = append(names, match[1])
	}
	return names
}

// channelID turns a path into a channel or operation id.
func channelID(method, path string) string {
	id := strings.ToLower(method)
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '_' || r == '.' }) {
		id += strings.ToUpper(part[:1]) + part[1:]
	}
	return id
}

// headerSchemas are the signature headers of a Customer.io reporting
// webhook and of a Standard Webhooks delivery.
var (
	cioHeaders = obj([]string{"X-CIO-Signature", "X-CIO-Timestamp"}, map[string]Schema{
		"X-CIO-Signature":   {Type: "string", Pattern: "^[0-9a-f]{64}$", Description: `hex(HMAC-SHA256(signing_key, "v0:" + X-CIO-Timestamp + ":" + body))`},
		"X-CIO-Timestamp":   {Type: "string", Pattern: "^[0-9]+$", Description: "When the request was sent, Unix seconds."},
		"X-CIO-Delivery-ID": with(str, "The message the report is about (kept as context.webhook.delivery_id)."),
	})
	genericHeaders = obj(nil, map[string]Schema{
		"webhook-id":        with(str, "Standard Webhooks: the message id, the default dedup key."),
		"webhook-timestamp": {Type: "string", Pattern: "^[0-9]+$"},
		"webhook-signature": with(str, "Standard Webhooks: space-separated v1,<base64> signatures."),
	})
)

// Planned is an event type a tracking plan declares: the document
// describes its events with the plan's schema of their properties.
type Planned struct {
	Plan, Mode, Type, Description string
	Sources                       []string // empty: every source
	Properties                    any      // a JSON Schema; nil: any object
}

// AsyncAPI returns the AsyncAPI 3.0 document of what Switchyard receives
// (a channel per ingest path, a message per request body; the webhook
// channel has one message per Customer.io report type) and of the events
// it emits on the live tail (a message per event type, and one per type a
// tracking plan in force declares, with the declared schema).
func AsyncAPI(version, host string, planned ...Planned) Doc {
	channels, operations, messages := m{}, m{}, m{}
	componentSchemas := m{}
	for name, s := range withActions(schemas()) {
		componentSchemas[name] = s
	}
	ingestChannels(channels, operations, messages)
	actionChannels(channels, operations, messages)
	channels["webhooks"], operations["receiveWebhooks"] = webhookChannel(messages)
	channels["events"], operations["sendEvents"] = eventChannel(messages, planned, componentSchemas)
	return Doc{
		"asyncapi": "3.0.0",
		"info": m{"title": "Switchyard", "version": version,
			"description": "Everything Switchyard accepts (Tracardi, Customer.io Track API v1/v2, Data Pipelines, Customer.io reporting webhooks, generic signed webhooks) and every event type it stores. Generated from the code's catalogue."},
		"defaultContentType": "application/json",
		"servers":            m{"switchyard": m{"host": host, "protocol": "http"}},
		"channels":           channels,
		"operations":         operations,
		"components":         m{"messages": messages, "schemas": componentSchemas},
	}
}

// ingestChannels adds a channel, its receive operation and its message for
// each ingest path that takes a body (webhooks have a channel of their own).
func ingestChannels(channels, operations, messages m) {
	for _, op := range Operations() {
		if op.Tag == TagManagement || op.Tag == TagOps || op.Method == "GET" || op.Tag == TagWebhooks {
			continue
		}
		id := channelID(op.Method, op.Path)
		msgName := id + "Body"
		body := op.Body
		if body == "" {
			body = "AnyObject"
		}
		messages[msgName] = m{"name": msgName, "title": op.Method + " " + op.Path, "summary": op.Summary,
			"contentType": contentType(op), "payload": ref{"$ref": "#/components/schemas/" + body}}
		ch := m{"address": op.Path, "title": op.Tag + ": " + op.Method + " " + op.Path,
			"messages": m{msgName: ref{"$ref": "#/components/messages/" + msgName}}}
		addParams(ch, op.Path)
		channels[id] = ch
		operations["receive"+strings.ToUpper(id[:1])+id[1:]] = receive(id, op.Method, []string{msgName})
	}
}

// webhookChannel is the inbound webhooks' channel and receive operation,
// with a message for every Customer.io report and one for generic
// webhooks, added to messages.
func webhookChannel(messages m) (channel, operation m) {
	hookMsgs, hookRefs := m{}, []string{}
	for _, object := range sortedKeys(reportMetrics) {
		for _, metric := range reportMetrics[object] {
			t := object + "_" + metric
			name := "cio_" + t
			messages[name] = m{"name": t, "title": "Customer.io " + object + " " + metric, "contentType": "application/json",
				"summary": "A Customer.io reporting webhook, stored as event type " + t + ".",
				"headers": cioHeaders, "payload": reportPayload(object, metric)}
			hookMsgs[name] = ref{"$ref": "#/components/messages/" + name}
			hookRefs = append(hookRefs, name)
		}
	}
	messages["genericWebhook"] = m{"name": "webhook", "title": "Any provider's webhook",
		"summary": "A webhook for a source of kind webhook, verified by its scheme (standard_webhooks, hmac_sha256 or none); its type comes from " + ClientNamed[cdp.SourceWebhook] + ".",
		"headers": genericHeaders, "payload": schemas()["WebhookBody"]}
	hookMsgs["genericWebhook"] = ref{"$ref": "#/components/messages/genericWebhook"}
	hookRefs = append(hookRefs, "genericWebhook")
	channel = m{"address": "/webhooks/{source}", "title": "Inbound webhooks", "messages": hookMsgs,
		"description": "Customer.io reporting webhooks (sources of kind customerio_webhook) and any provider's signed webhooks (kind webhook). Only a failed signature is refused (401); everything verified is answered 200 within milliseconds and processed asynchronously."}
	addParams(channel, "/webhooks/{source}")
	return channel, receive("webhooks", "POST", hookRefs)
}

// eventChannel is the channel of emitted events (the live tail, and what
// workflows trigger on) and its send operation, with a message per event
// type added to messages.
func eventChannel(messages m, planned []Planned, componentSchemas m) (channel, operation m) {
	evMsgs, evRefs := m{}, []string{}
	for _, p := range planned {
		name := "planned_" + safeName(p.Plan) + "_" + safeName(p.Type)
		where := "every source"
		if len(p.Sources) > 0 {
			where = "sources " + strings.Join(p.Sources, ", ")
		}
		summary := fmt.Sprintf("%s: declared by tracking plan %s (mode %s) for %s.", p.Type, p.Plan, p.Mode, where)
		if p.Description != "" {
			summary += " " + p.Description
		}
		props := anyObj
		if p.Properties != nil {
			componentSchemas[name] = rebase(p.Properties, "#/components/schemas/"+name)
			props = Schema{Ref: "#/components/schemas/" + name}
		}
		messages[name] = eventMessage(p.Type, summary, Schema{Const: p.Type}, props)
		evMsgs[name] = ref{"$ref": "#/components/messages/" + name}
		evRefs = append(evRefs, name)
	}
	for _, t := range EventTypes() {
		name := "event_" + t.Name
		messages[name] = eventMessage(t.Name, t.Summary+" Sources: "+strings.Join(t.Kinds, ", ")+".", Schema{Const: t.Name}, t.Properties)
		evMsgs[name] = ref{"$ref": "#/components/messages/" + name}
		evRefs = append(evRefs, name)
	}
	for _, kind := range sortedKeys(ClientNamed) {
		name := "event_client_named_" + kind
		messages[name] = eventMessage("client-named event ("+kind+")", "An event whose type is "+ClientNamed[kind]+".", str, anyObj)
		evMsgs[name] = ref{"$ref": "#/components/messages/" + name}
		evRefs = append(evRefs, name)
	}
	channel = m{"address": "/admin/v1/tail", "title": "Stored events", "messages": evMsgs,
		"description": "Every stored event, as the live tail (Server-Sent Events, one data: line of JSON each) and workflows see it."}
	var opMsgs []ref
	for _, r := range evRefs {
		opMsgs = append(opMsgs, ref{"$ref": "#/channels/events/messages/" + r})
	}
	return channel, m{"action": "send", "channel": ref{"$ref": "#/channels/events"}, "messages": opMsgs,
		"summary": "Switchyard emits each stored event."}
}

func contentType(op Operation) string {
	if len(op.BodyTypes) > 0 {
		return op.BodyTypes[0]
	}
	return "application/json"
}

func addParams(ch m, path string) {
	if names := pathParams(path); len(names) > 0 {
		params := m{}
		for _, n := range names {
			params[n] = m{"description": "The " + strings.ReplaceAll(n, "_", " ") + "."}
		}
		ch["parameters"] = params
	}
}

func receive(channel, method string, msgs []string) m {
	var refs []ref
	for _, name := range msgs {
		refs = append(refs, ref{"$ref": "#/channels/" + channel + "/messages/" + name})
	}
	return m{"action": "receive", "channel": ref{"$ref": "#/channels/" + channel}, "messages": refs,
		"bindings": m{"http": m{"method": method, "bindingVersion": "0.3.0"}}}
}

// eventMessage describes a stored event of one type.
func eventMessage(name, summary string, typ, props Schema) m {
	event := schemas()["Event"]
	event.Properties = maps.Clone(event.Properties)
	event.Properties["type"], event.Properties["properties"] = typ, props
	delete(event.Properties, "raw")
	return m{"name": name, "summary": summary, "contentType": "application/json", "payload": event}
}

// safeName keeps the characters a component name may have.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// rebase makes a declared schema a component of the document: its own
// references ("#/$defs/money") are rewritten under at, and $schema (the
// document says which format its schemas are in) is dropped.
func rebase(v any, at string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			switch {
			case k == "$schema":
			case k == "$ref":
				if s, ok := x.(string); ok && strings.HasPrefix(s, "#") {
					x = at + strings.TrimPrefix(s, "#")
				}
				out[k] = x
			default:
				out[k] = rebase(x, at)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = rebase(x, at)
		}
		return out
	}
	return v
}
