package catalog

import "github.com/switchyardhq/switchyard/internal/cdp"

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

		Operation{Method: "GET", Path: "/admin/v1/events", Tag: TagManagement, Security: SecAdminBearer, Summary: "List events, newest first (source, type, profile_id, session_id, since, limit, cursor).", Reply: "EventList"},
		Operation{Method: "GET", Path: "/admin/v1/events/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One event, with raw: the request that carried it.", Reply: "Event"},
		Operation{Method: "GET", Path: "/admin/v1/profiles", Tag: TagManagement, Security: SecAdminBearer, Summary: "Find a profile by identifier=KIND:VALUE.", Reply: "Profile"},
		Operation{Method: "GET", Path: "/admin/v1/profiles/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One profile; a merged-away id resolves to the survivor.", Reply: "Profile"},
		Operation{Method: "GET", Path: "/admin/v1/profiles/{id}/events", Tag: TagManagement, Security: SecAdminBearer, Summary: "A profile's events.", Reply: "EventList"},
		Operation{Method: "DELETE", Path: "/admin/v1/profiles/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "GDPR erase: the profile, its identifiers, sessions, events and their raw requests.", Status: 204},
		Operation{Method: "GET", Path: "/admin/v1/sessions/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One session.", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/admin/v1/sources", Tag: TagManagement, Security: SecAdminBearer, Summary: "Every source.", Reply: "SourceList"},
		Operation{Method: "POST", Path: "/admin/v1/sources", Tag: TagManagement, Security: SecAdminBearer, Summary: "Create a source.", Body: "Source", Reply: "Source", Status: 201},
		Operation{Method: "GET", Path: "/admin/v1/sources/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One source, with its credentials.", Reply: "Source"},
		Operation{Method: "PUT", Path: "/admin/v1/sources/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "Replace a source created through the API.", Body: "Source", Reply: "Source"},
		Operation{Method: "DELETE", Path: "/admin/v1/sources/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "Delete a source created through the API.", Status: 204},
		Operation{Method: "GET", Path: "/admin/v1/workflows", Tag: TagManagement, Security: SecAdminBearer, Summary: "Every workflow: from the configuration file, from sources' forward_to, and created through the API.", Reply: "WorkflowList"},
		Operation{Method: "POST", Path: "/admin/v1/workflows", Tag: TagManagement, Security: SecAdminBearer, Summary: "Create a workflow (JSON or YAML); every expression is compiled and type-checked first.", Body: "Workflow", Reply: "Workflow", Status: 201},
		Operation{Method: "GET", Path: "/admin/v1/workflows/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "A workflow's current version, or ?version=N; the ETag is the version.", Reply: "Workflow"},
		Operation{Method: "PUT", Path: "/admin/v1/workflows/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "Save the next version of a workflow created through the API (If-Match: the version read, else 409). Running runs keep their version.", Body: "Workflow", Reply: "Workflow"},
		Operation{Method: "DELETE", Path: "/admin/v1/workflows/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "Delete a workflow created through the API (recorded as its last version; its runs finish).", Status: 204},
		Operation{Method: "GET", Path: "/admin/v1/workflows/{id}/versions", Tag: TagManagement, Security: SecAdminBearer, Summary: "Every version of a workflow, oldest first.", Reply: "WorkflowVersionList"},
		Operation{Method: "POST", Path: "/admin/v1/workflows/dry-run", Tag: TagManagement, Security: SecAdminBearer, Summary: "What a workflow (the body, saved or not) would do with a stored event (?event=ID): trigger match, each step's mapped inputs and the requests it would send, calling nothing.", Body: "Workflow", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/admin/v1/runs", Tag: TagManagement, Security: SecAdminBearer, Summary: "Workflow runs, newest first (workflow, status, event, since, until, limit, cursor).", Reply: "RunList"},
		Operation{Method: "GET", Path: "/admin/v1/runs/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One run: each step's inputs, attempts (requests and responses, credentials masked) and output.", Reply: "Run"},
		Operation{Method: "POST", Path: "/admin/v1/runs/{id}/retry", Tag: TagManagement, Security: SecAdminBearer, Summary: "Resume a failed run from its failed step, with a new round of attempts.", Reply: "Run", Status: 202},
		Operation{Method: "POST", Path: "/admin/v1/runs/retry", Tag: TagManagement, Security: SecAdminBearer, Summary: "Bulk retry of failed runs (workflow, since, until): reports how many match; retries them with confirm=true.", Reply: "AnyObject"},
		Operation{Method: "GET", Path: "/admin/v1/destinations", Tag: TagManagement, Security: SecAdminBearer, Summary: "Every destination: its settings (secrets masked), circuit breaker state, health on the answering node and the runs waiting on it.", Reply: "DestinationList"},
		Operation{Method: "GET", Path: "/admin/v1/destinations/{id}", Tag: TagManagement, Security: SecAdminBearer, Summary: "One destination, as in the list.", Reply: "Destination"},
		Operation{Method: "POST", Path: "/admin/v1/destinations/{id}/pause", Tag: TagManagement, Security: SecAdminBearer, Summary: "Hold every attempt to the destination, on every node, until resumed: runs wait without spending attempts.", Reply: "Destination"},
		Operation{Method: "POST", Path: "/admin/v1/destinations/{id}/resume", Tag: TagManagement, Security: SecAdminBearer, Summary: "Close the destination's breaker (paused or open) and release the runs waiting on it, at its rate limit.", Reply: "Destination"},
		Operation{Method: "GET", Path: "/admin/v1/alerts", Tag: TagManagement, Security: SecAdminBearer, Summary: "Alerts, newest first (state: firing or resolved, limit, cursor), each with the announcements sent to its channels.", Reply: "AlertList"},
		Operation{Method: "GET", Path: "/admin/v1/tail", Tag: TagManagement, Security: SecAdminBearer, Summary: "Live events as Server-Sent Events (source, type, filter: a CEL expression over event).", Stream: true},

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
		"Event": obj([]string{"id", "source_id", "type"}, map[string]Schema{"id": str, "source_id": str, "type": str,
			"message_id": str, "profile_id": str, "session_id": str, "timestamp": {Type: "string", Format: "date-time"},
			"received_at": {Type: "string", Format: "date-time"}, "properties": anyObj, "context": anyObj, "traits": anyObj,
			"error": str, "request_id": str, "raw": rawSchema}),
		"EventList": obj([]string{"events"}, map[string]Schema{"events": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Event"}}, "next_cursor": str}),
		"Profile":   anyObj,
		"Run": obj([]string{"id", "workflow_id", "event_id", "status", "steps"}, map[string]Schema{"id": str, "workflow_id": str,
			"workflow_version": {Type: "integer"}, "event_id": str, "error": str, "next_at": {Type: "string", Format: "date-time"},
			"status": {Type: "string", Enum: []any{"pending", "running", "waiting", "succeeded", "failed", "skipped"}},
			"steps": {Type: "array", Items: &Schema{Type: "object", Properties: map[string]Schema{"id": str, "status": str,
				"input": {}, "output": {}, "error": str, "attempts": {Type: "array", Items: &anyObj}}}},
			"created_at": {Type: "string", Format: "date-time"}, "updated_at": {Type: "string", Format: "date-time"}}),
		"RunList": obj([]string{"runs"}, map[string]Schema{"runs": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Run"}}, "next_cursor": str}),
		"Source":  obj([]string{"id", "kind"}, map[string]Schema{"id": str, "kind": {Type: "string", Enum: kinds()}, "name": str, "enabled": {Type: "boolean"}}),
		"Workflow": obj([]string{"id", "trigger", "steps"}, map[string]Schema{"id": str, "name": str, "enabled": {Type: "boolean"},
			"trigger": obj(nil, map[string]Schema{"source": str, "sources": {Type: "array", Items: &str}, "types": {Type: "array", Items: &str},
				"if": with(str, "A CEL condition over event, profile, session, now.")}),
			"steps": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Step"}}, "vars": anyObj,
			"version": with(Schema{Type: "integer"}, "Set by the server."), "origin": {Type: "string", Enum: []any{"config", "forward_to", "api"}},
			"updated_at": {Type: "string", Format: "date-time"}}),
		"WorkflowList": obj([]string{"workflows"}, map[string]Schema{"workflows": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Workflow"}}}),
		"WorkflowVersionList": obj([]string{"versions"}, map[string]Schema{"versions": {Type: "array", Items: &Schema{Type: "object",
			Properties: map[string]Schema{"id": str, "version": {Type: "integer"}, "definition": {Ref: "#/components/schemas/Workflow"},
				"deleted": {Type: "boolean"}, "created_at": {Type: "string", Format: "date-time"}}}}}),
		"SourceList": obj([]string{"sources"}, map[string]Schema{"sources": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Source"}}}),
		"Error":      obj([]string{"error"}, map[string]Schema{"error": obj([]string{"code", "message"}, map[string]Schema{"code": str, "message": str})}),
		"Step":       step(),
		"Destination": obj([]string{"id", "kind", "state"}, map[string]Schema{"id": str, "kind": str,
			"settings": with(anyObj, "The kind's settings; secret ones are [redacted]."), "actions": {Type: "array", Items: &str},
			"rate_limit": {Type: "number"}, "circuit_breaker": anyObj,
			"state": {Type: "string", Enum: []any{"closed", "open", "half_open", "paused"}},
			"since": {Type: "string", Format: "date-time"}, "reason": str, "last_error": str,
			"next_probe_at": {Type: "string", Format: "date-time"}, "runs_waiting": {Type: "integer"},
			"health": with(anyObj, "Attempts, success ratio and latency p50/p99 over the last 5 minutes and hour, on the answering node.")}),
		"AlertList": obj([]string{"alerts"}, map[string]Schema{"alerts": {Type: "array", Items: &Schema{Type: "object",
			Required: []string{"id", "key", "rule", "kind", "state", "summary"}, Properties: map[string]Schema{"id": str, "key": str,
				"rule": str, "kind": str, "subject": str, "state": {Type: "string", Enum: []any{"firing", "resolved"}}, "summary": str,
				"count": {Type: "integer"}, "link": str, "started_at": {Type: "string", Format: "date-time"},
				"updated_at": {Type: "string", Format: "date-time"}, "resolved_at": {Type: "string", Format: "date-time"},
				"notifications": {Type: "array", Items: &anyObj}}}}, "next_cursor": str}),
		"DestinationList": obj([]string{"destinations"}, map[string]Schema{"destinations": {Type: "array", Items: &Schema{Ref: "#/components/schemas/Destination"}}}),
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
