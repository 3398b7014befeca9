package catalog

import (
	"maps"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Operation is one HTTP operation of the surface routes.go serves.
type Operation struct {
	Method, Path string
	Tag          string
	Summary      string
	// Security names a scheme of securitySchemes ("" = none).
	Security string
	// Body names a component schema of the request body ("" = none);
	// BodyTypes are its content types (default application/json).
	Body      string
	BodyTypes []string
	// Reply names a component schema of the 2xx body; Status is its
	// status (default 200).
	Reply  string
	Status int
	// Stream marks a text/event-stream response.
	Stream bool
	// Role is the least admin-token role a management operation needs:
	// viewer, operator or admin.
	Role string
}

// Tags of the operations, one per API.
const (
	TagTracardi   = "Tracardi collector"
	TagTrack      = "Customer.io Track API"
	TagPipelines  = "Customer.io Data Pipelines"
	TagWebhooks   = "Inbound webhooks"
	TagManagement = "Management API"
	TagOps        = "Operations"
)

// Security schemes.
const (
	SecTrackBasic     = "customerioTrackBasic"
	SecPipelinesBasic = "customerioPipelinesBasic"
	SecAdminBearer    = "adminBearer"
	SecWebhook        = "webhookSignature"
)

// Operations lists every HTTP operation Switchyard serves.
func Operations() []Operation {
	ops := []Operation{
		{Method: "POST", Path: "/track", Tag: TagTracardi, Summary: "Track events of a session (Tracardi tracker payload); ?profile_less=true tracks without a profile.", Body: "TrackerPayload", Reply: "TrackerResponse"},
		{Method: "PUT", Path: "/track", Tag: TagTracardi, Summary: "Validated and ignored, as Tracardi does.", Body: "TrackerPayload"},
		{Method: "GET", Path: "/collect/{type}/{source}", Tag: TagTracardi, Summary: "Collect one event of the given type; the query parameters are its properties.", Reply: "TrackerResponse"},
		{Method: "POST", Path: "/collect/{type}/{source}", Tag: TagTracardi, Summary: "Collect one event of the given type; the JSON or form body is its properties.", Body: "AnyObject", BodyTypes: []string{"application/json", "application/x-www-form-urlencoded"}, Reply: "TrackerResponse"},
		{Method: "GET", Path: "/collect/{type}/{source}/{session}", Tag: TagTracardi, Summary: "Collect one event in a session.", Reply: "TrackerResponse"},
		{Method: "POST", Path: "/collect/{type}/{source}/{session}", Tag: TagTracardi, Summary: "Collect one event in a session.", Body: "AnyObject", BodyTypes: []string{"application/json", "application/x-www-form-urlencoded"}, Reply: "TrackerResponse"},

		{Method: "GET", Path: "/api/v1/accounts/region", Tag: TagTrack, Security: SecTrackBasic, Summary: "The account's region.", Reply: "AnyObject"},
		{Method: "PUT", Path: "/api/v1/customers/{identifier}", Tag: TagTrack, Security: SecTrackBasic, Summary: "Identify (create or update) a person; the body's fields are attributes.", Body: "CIOAttributes", Reply: "Empty"},
		{Method: "DELETE", Path: "/api/v1/customers/{identifier}", Tag: TagTrack, Security: SecTrackBasic, Summary: "Delete a person (GDPR erase of the profile).", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/customers/{identifier}/events", Tag: TagTrack, Security: SecTrackBasic, Summary: "Track a person's event.", Body: "CIOEvent", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/events", Tag: TagTrack, Security: SecTrackBasic, Summary: "Track an anonymous event.", Body: "CIOEvent", Reply: "Empty"},
		{Method: "PUT", Path: "/api/v1/customers/{identifier}/devices", Tag: TagTrack, Security: SecTrackBasic, Summary: "Add or update a device.", Body: "CIODevice", Reply: "Empty"},
		{Method: "DELETE", Path: "/api/v1/customers/{identifier}/devices/{device_id}", Tag: TagTrack, Security: SecTrackBasic, Summary: "Delete a device.", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/customers/{identifier}/suppress", Tag: TagTrack, Security: SecTrackBasic, Summary: "Suppress a person.", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/customers/{identifier}/unsuppress", Tag: TagTrack, Security: SecTrackBasic, Summary: "Unsuppress a person.", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/merge_customers", Tag: TagTrack, Security: SecTrackBasic, Summary: "Merge two people.", Body: "CIOMerge", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/segments/{segment_id}/add_customers", Tag: TagTrack, Security: SecTrackBasic, Summary: "Add people to a manual segment (?id_type=id|email|cio_id).", Body: "CIOSegmentIDs", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/segments/{segment_id}/remove_customers", Tag: TagTrack, Security: SecTrackBasic, Summary: "Remove people from a manual segment.", Body: "CIOSegmentIDs", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/metrics", Tag: TagTrack, Security: SecTrackBasic, Summary: "Report a delivery metric.", Body: "CIOMetric", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/push/events", Tag: TagTrack, Security: SecTrackBasic, Summary: "Report a push metric (legacy).", Body: "CIOPushEvent", Reply: "Empty"},
		{Method: "POST", Path: "/api/v1/forms/{form_id}/submit", Tag: TagTrack, Security: SecTrackBasic, Summary: "Submit a form; identifies the person by email or id.", Body: "AnyObject", Status: 204},
		{Method: "POST", Path: "/unsubscribe/{delivery_id}", Tag: TagTrack, Summary: "Unsubscribe the person a delivery went to (no credentials).", Body: "CIOUnsubscribe", Reply: "Empty"},
		{Method: "POST", Path: "/api/v2/entity", Tag: TagTrack, Security: SecTrackBasic, Summary: "Track API v2: one person, object or delivery operation.", Body: "CIOEntity", Reply: "Empty"},
		{Method: "POST", Path: "/api/v2/batch", Tag: TagTrack, Security: SecTrackBasic, Summary: "Track API v2: up to 500 KB of operations; 207 lists the failed ones.", Body: "CIOBatch", Reply: "Empty"},
	}
	for _, typ := range []string{"identify", "track", "page", "screen", "group", "alias", "batch"} {
		body := "PipelinesMessage"
		if typ == "batch" {
			body = "PipelinesBatch"
		}
		ops = append(ops,
			Operation{Method: "POST", Path: "/v1/" + typ, Tag: TagPipelines, Security: SecPipelinesBasic, Summary: "Data Pipelines " + typ + " (Segment spec, camelCase; gzip accepted).", Body: body, Reply: "PipelinesResponse"},
			Operation{Method: "POST", Path: "/v1/" + typ[:1], Tag: TagPipelines, Summary: "Browser SDK " + typ + ": writeKey in the body, text/plain, CORS.", Body: body, BodyTypes: []string{"text/plain", "application/json"}, Reply: "PipelinesResponse"},
		)
	}
	ops = append(ops,
		Operation{Method: "POST", Path: "/webhooks/{source}", Tag: TagWebhooks, Security: SecWebhook, Summary: "Receive a webhook for a customerio_webhook or webhook source: verified over the raw body, answered at once, processed asynchronously. Only an authentication failure is refused (401).", Body: "WebhookBody", BodyTypes: []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"}, Reply: "WebhookResponse"},
	)
	ops = append(ops, managementOperations()...)
	ops = append(ops,
		Operation{Method: "GET", Path: "/healthz", Tag: TagOps, Summary: "The process is up.", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/readyz", Tag: TagOps, Summary: "The store and the event log answer.", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/metrics", Tag: TagOps, Summary: "Prometheus metrics (text exposition format)."},
		Operation{Method: "GET", Path: "/asyncapi.json", Tag: TagOps, Summary: "This server's AsyncAPI 3.0 document.", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/openapi.json", Tag: TagOps, Summary: "This server's OpenAPI 3.1 document.", Reply: "AnyObject"},
	)
	return ops
}

// schemas are the request and response bodies the operations name.
func schemas() map[string]Schema {
	out := ingestSchemas()
	maps.Copy(out, managementSchemas())
	return out
}

// ingestSchemas are the bodies of the ingest APIs and their answers.
func ingestSchemas() map[string]Schema {
	ts := Schema{Description: "Unix seconds (number) or RFC 3339 (string)."}
	pipelinesMessage := obj(nil, map[string]Schema{
		"type": {Type: "string", Enum: []any{"identify", "track", "page", "screen", "group", "alias"}}, "userId": str, "anonymousId": str,
		"event": with(str, "The event name of a track call: the stored event type."), "name": str, "groupId": str, "previousId": str,
		"properties": anyObj, "traits": anyObj, "context": anyObj, "integrations": anyObj, "messageId": with(str, "The dedup key."),
		"timestamp": ts, "writeKey": with(str, "Browser paths only."),
	})
	entity := obj([]string{"type", "action"}, map[string]Schema{
		"type": {Type: "string", Enum: []any{"person", "object", "delivery"}}, "action": str, "identifiers": anyObj,
		"attributes": anyObj, "cio_relationships": {Type: "array"}, "name": str, "id": str, "timestamp": {Type: "integer"},
		"device": anyObj, "primary": anyObj, "secondary": anyObj,
	})
	return map[string]Schema{
		"AnyObject": anyObj,
		"Empty":     with(object, "{} on success (Customer.io clients reject any other 2xx body)."),
		"TrackerPayload": obj([]string{"source"}, map[string]Schema{
			"source":  obj([]string{"id"}, map[string]Schema{"id": with(str, "The track source's id.")}),
			"session": obj(nil, map[string]Schema{"id": str}), "profile": obj(nil, map[string]Schema{"id": str}),
			"context": anyObj, "properties": anyObj, "options": anyObj,
			"events": {Type: "array", Items: &Schema{Type: "object", Required: []string{"type"}, Properties: map[string]Schema{
				"id": with(str, "The dedup key."), "type": with(str, "The stored event type."), "properties": anyObj, "context": anyObj,
				"options": anyObj, "tags": {Type: "array", Items: &str}}}},
		}),
		"TrackerResponse": obj(nil, map[string]Schema{"task": {}, "ux": {}, "response": anyObj, "events": {}, "profile": {},
			"session": {}, "errors": {Type: "array"}, "warnings": {Type: "array"}, "source": anyObj}),
		"CIOAttributes": with(anyObj, "Attributes; email, id, created_at, anonymous_id, _update and _timestamp are special."),
		"CIOEvent": obj([]string{"name"}, map[string]Schema{"name": with(str, "The stored event type (type event), or the URL/screen."),
			"type": {Type: "string", Enum: []any{"event", "page", "screen"}}, "id": with(str, "The dedup key."),
			"anonymous_id": str, "timestamp": {Type: "integer"}, "data": {Type: []string{"object", "null"}}}),
		"CIODevice": obj([]string{"device"}, map[string]Schema{"device": obj([]string{"id"}, map[string]Schema{
			"id": str, "platform": str, "last_used": {}, "attributes": anyObj})}),
		"CIOMerge":      obj([]string{"primary", "secondary"}, map[string]Schema{"primary": anyObj, "secondary": anyObj}),
		"CIOSegmentIDs": obj([]string{"ids"}, map[string]Schema{"ids": {Type: "array", Items: &str}}),
		"CIOMetric": obj([]string{"delivery_id", "metric"}, map[string]Schema{"delivery_id": str, "metric": str,
			"timestamp": {Type: "integer"}, "recipient": str, "reason": str, "href": str}),
		"CIOPushEvent":     obj([]string{"delivery_id", "event"}, map[string]Schema{"delivery_id": str, "event": str, "device_id": str, "timestamp": {Type: "integer"}}),
		"CIOUnsubscribe":   obj(nil, map[string]Schema{"unsubscribe": {Type: "boolean"}}),
		"CIOEntity":        entity,
		"CIOBatch":         obj([]string{"batch"}, map[string]Schema{"batch": {Type: "array", Items: &entity}}),
		"PipelinesMessage": pipelinesMessage,
		"PipelinesBatch": obj([]string{"batch"}, map[string]Schema{"batch": {Type: "array", Items: &pipelinesMessage},
			"context": anyObj, "integrations": anyObj, "writeKey": str}),
		"PipelinesResponse": obj(nil, map[string]Schema{"success": {Type: "boolean"}}),
		"WebhookBody":       with(Schema{}, "Any body: JSON (kept as properties), form fields, or text (kept raw)."),
		"WebhookResponse": obj([]string{"id"}, map[string]Schema{"id": with(str, "The stored event's id."),
			"duplicate": with(Schema{Type: "boolean"}, "The event log already had this request.")}),
	}
}

var rawSchema = with(obj(nil, map[string]Schema{"method": str, "path": str, "remote_addr": str,
	"headers": {Type: "object", AdditionalProperties: &Schema{Type: "array", Items: &str}}, "body": str, "body_base64": str,
	"body_size": {Type: "integer"}, "truncated": {Type: "boolean"}, "received_at": {Type: "string", Format: "date-time"}}),
	"The request that carried the event: secret headers redacted, the body capped (raw_capture).")

func kinds() []any {
	var out []any
	for _, k := range cdp.SourceKinds {
		out = append(out, k)
	}
	return out
}
