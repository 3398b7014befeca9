package catalog

import (
	"net/http"
	"strconv"
	"strings"
)

// OpenAPI returns the OpenAPI 3.1 document of every HTTP operation.
func OpenAPI(version, baseURL string) Doc {
	paths := m{}
	for _, op := range Operations() {
		item, _ := paths[op.Path].(m)
		if item == nil {
			item = m{}
			paths[op.Path] = item
		}
		item[strings.ToLower(op.Method)] = operation(op)
	}
	var tags []m
	for _, t := range []string{TagTracardi, TagTrack, TagPipelines, TagWebhooks, TagManagement, TagOps} {
		tags = append(tags, m{"name": t})
	}
	return Doc{
		"openapi": "3.1.0",
		"info": m{"title": "Switchyard", "version": version,
			"description": "Switchyard's HTTP APIs: the compatible ingest APIs, inbound webhooks, the management API and operations. Generated from the code's catalogue; the events each API produces are in /asyncapi.json."},
		"servers": []m{{"url": baseURL}},
		"tags":    tags,
		"paths":   paths,
		"components": m{
			"schemas": withActions(schemas()),
			"securitySchemes": m{
				SecTrackBasic:     m{"type": "http", "scheme": "basic", "description": "site_id:api_key of a customerio_track source."},
				SecPipelinesBasic: m{"type": "http", "scheme": "basic", "description": "The write key of a customerio_pipelines source as the user, no password."},
				SecAdminBearer:    m{"type": "http", "scheme": "bearer", "description": "An admin token; without configured tokens, loopback callers need none."},
				SecWebhook: m{"type": "apiKey", "in": "header", "name": "X-CIO-Signature",
					"description": "Customer.io's v0 signature with X-CIO-Timestamp, or the source's scheme: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) or an HMAC-SHA256 header."},
			},
			"responses": m{"Error": m{"description": "An error in the API's dialect (management API: {\"error\":{\"code\",\"message\"}}).",
				"content": m{"application/json": m{"schema": anyObj}}}},
		},
	}
}

func operation(op Operation) m {
	out := m{"operationId": channelID(op.Method, op.Path), "tags": []string{op.Tag}, "summary": op.Summary,
		"responses": m{"default": ref{"$ref": "#/components/responses/Error"}}}
	if op.Security != "" {
		out["security"] = []m{{op.Security: []string{}}}
		if op.Role != "" {
			// The least admin-token role the route needs (an extension:
			// OpenAPI has no notion of roles for bearer tokens).
			out["x-switchyard-role"] = op.Role
		}
	} else {
		out["security"] = []m{}
	}
	var params []m
	for _, name := range pathParams(op.Path) {
		params = append(params, m{"name": name, "in": "path", "required": true, "schema": str})
	}
	if params != nil {
		out["parameters"] = params
	}
	if op.Body != "" {
		content := m{}
		types := op.BodyTypes
		if types == nil {
			types = []string{"application/json"}
		}
		for _, t := range types {
			content[t] = m{"schema": ref{"$ref": "#/components/schemas/" + op.Body}}
		}
		out["requestBody"] = m{"required": op.Method != "DELETE", "content": content}
	}
	status := op.Status
	if status == 0 {
		status = http.StatusOK
	}
	reply := m{"description": http.StatusText(status)}
	switch {
	case op.Stream:
		reply["content"] = m{"text/event-stream": m{"schema": with(str, "One data: line of event JSON per event.")}}
	case op.Reply != "":
		reply["content"] = m{"application/json": m{"schema": ref{"$ref": "#/components/schemas/" + op.Reply}}}
	case op.Path == "/metrics":
		reply["content"] = m{"text/plain": m{"schema": str}}
	}
	out["responses"].(m)[strconv.Itoa(status)] = reply
	return out
}
