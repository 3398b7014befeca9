package catalog

import (
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// EventType is one type of stored event: what produces it and the shape
// of its properties.
type EventType struct {
	Name    string
	Summary string
	// Kinds are the source kinds whose requests produce it.
	Kinds      []string
	Properties Schema
}

// ClientNamed describes, per source kind, where a client-chosen event type
// comes from (a Tracardi event's type, a Customer.io event's name …);
// webhook sources name types with their event_type expression.
var ClientNamed = map[string]string{
	cdp.SourceTrack:               "events[].type of the tracker payload",
	cdp.SourceCustomerIOTrack:     "the event's name (v1 events, v2 event actions)",
	cdp.SourceCustomerIOPipelines: "the track call's event (semantic events such as \"User Deleted\" included)",
	cdp.SourceWebhook:             "the source's event_type expression, else the body's string type field, else \"webhook\"",
	cdp.SourceCustomerIOWebhook:   "<object_type>_<metric> of a report this catalogue does not list yet (never rejected)",
}

// EventTypes returns every event type Switchyard produces by itself (the
// client-named ones are described by ClientNamed), sorted by name.
func EventTypes() []EventType {
	track, cio, pipes := cdp.SourceTrack, cdp.SourceCustomerIOTrack, cdp.SourceCustomerIOPipelines
	person := func(name, summary string, kinds ...string) EventType {
		return EventType{Name: name, Summary: summary, Kinds: kinds, Properties: anyObj}
	}
	types := []EventType{
		person(cdp.EventProfileCreated, "The collector created a profile (3 s before the request's events).", track),
		person(cdp.EventSessionOpened, "The collector opened a saved session.", track),
		{Name: cdp.EventVisitStarted, Summary: "A visit started, with the types of the events that started it.", Kinds: []string{track},
			Properties: obj(nil, map[string]Schema{"trigger-event-types": {Type: "array", Items: &str}})},
		person("identify", "A person was created or updated; traits hold the attributes.", cio, pipes),
		person("delete", "A person was deleted (GDPR erase); recorded only in the event log.", cio),
		person("merge", "Two people were merged.", cio),
		{Name: "page", Summary: "A page view; properties.name is the URL or page name.", Kinds: []string{cio, pipes}, Properties: anyObj},
		{Name: "screen", Summary: "A screen view; properties.name is the screen.", Kinds: []string{cio, pipes}, Properties: anyObj},
		{Name: "device_added", Summary: "A device was added or updated.", Kinds: []string{cio}, Properties: deviceSchema},
		{Name: "device_deleted", Summary: "A device was removed.", Kinds: []string{cio}, Properties: deviceSchema},
		person("suppressed", "A person was suppressed (the profile is kept and flagged).", cio),
		person("unsuppressed", "A person was unsuppressed.", cio),
		{Name: cdp.OpSegmentAdd, Summary: "People were added to a manual segment.", Kinds: []string{cio},
			Properties: obj([]string{"segment_id"}, map[string]Schema{"segment_id": str})},
		{Name: cdp.OpSegmentRemove, Summary: "People were removed from a manual segment.", Kinds: []string{cio},
			Properties: obj([]string{"segment_id"}, map[string]Schema{"segment_id": str})},
		person("add_relationships", "A person gained relationships to objects (kept as a trait).", cio),
		person("delete_relationships", "A person's relationships were removed.", cio),
		{Name: "delivery_unsubscribed", Summary: "POST /unsubscribe/{delivery_id}: a person unsubscribed from a delivery.", Kinds: []string{cio},
			Properties: obj([]string{"delivery_id"}, map[string]Schema{"delivery_id": str, "unsubscribe": {Type: "boolean"}})},
		{Name: "form_submitted", Summary: "A form was submitted; its fields also identify the person.", Kinds: []string{cio},
			Properties: obj([]string{"form_id", "fields"}, map[string]Schema{"form_id": str, "fields": anyObj})},
		{Name: "group", Summary: "A person joined a group (account).", Kinds: []string{pipes},
			Properties: obj([]string{"group_id"}, map[string]Schema{"group_id": str, "traits": anyObj})},
		{Name: "alias", Summary: "Two ids were declared one person; their profiles merged.", Kinds: []string{pipes},
			Properties: obj([]string{"previous_id"}, map[string]Schema{"previous_id": str})},
		{Name: cdp.EventWebhookError, Summary: "A verified webhook whose body could not be read; error says why, properties.body holds it.",
			Kinds: []string{cdp.SourceCustomerIOWebhook}, Properties: obj([]string{"body"}, map[string]Schema{"body": str})},
		{Name: cdp.EventPoison, Summary: "A request the processor could not store after retries; error says why, properties hold the raw message.",
			Kinds: cdp.SourceKinds, Properties: anyObj},
		{Name: cdp.EventWebhook, Summary: "A generic webhook whose body names no type and whose source has no event_type expression.",
			Kinds: []string{cdp.SourceWebhook}, Properties: anyObj},
	}
	for _, action := range []string{"identify", "identify_anonymous", "delete", "add_relationships", "delete_relationships"} {
		types = append(types, EventType{Name: "object_" + action, Summary: "A Track API v2 object " + action + " call.", Kinds: []string{cio},
			Properties: obj([]string{"identifiers"}, map[string]Schema{"identifiers": anyObj, "attributes": anyObj, "cio_relationships": {}})})
	}
	for _, m := range []string{"bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"} {
		types = append(types, EventType{Name: "delivery_" + m, Summary: "A delivery metric reported through the Track API.", Kinds: []string{cio},
			Properties: obj([]string{"delivery_id"}, map[string]Schema{"delivery_id": str, "metric": str, "timestamp": {Type: "integer"}})})
	}
	for _, m := range []string{"opened", "converted", "delivered"} {
		types = append(types, EventType{Name: "push_" + m, Kinds: []string{cio},
			Summary:    "A push metric: the legacy /api/v1/push/events call, or a push_" + m + " reporting webhook.",
			Properties: obj([]string{"delivery_id"}, map[string]Schema{"delivery_id": str, "event": str, "device_id": str, "timestamp": {Type: "integer"}})})
	}
	for object, metrics := range reportMetrics {
		for _, m := range metrics {
			name := object + "_" + m
			props := reportData(object, m)
			props.Properties["event_id"], props.Properties["object_type"], props.Properties["metric"] = str, Schema{Const: object}, Schema{Const: m}
			props.Required = append(props.Required, "event_id", "object_type", "metric")
			if i := slices.IndexFunc(types, func(t EventType) bool { return t.Name == name }); i >= 0 {
				types[i].Kinds = append(types[i].Kinds, cdp.SourceCustomerIOWebhook)
				types[i].Properties = Schema{OneOf: []Schema{types[i].Properties, props}}
				continue
			}
			types = append(types, EventType{Name: name, Summary: "Customer.io reporting webhook: " + object + " " + m + ".",
				Kinds: []string{cdp.SourceCustomerIOWebhook}, Properties: props})
		}
	}
	slices.SortFunc(types, func(a, b EventType) int { return strings.Compare(a.Name, b.Name) })
	return types
}

var deviceSchema = obj([]string{"id"}, map[string]Schema{"id": str, "platform": str, "last_used": {}, "attributes": anyObj})
