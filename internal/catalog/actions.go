package catalog

import (
	"strings"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/builtin"
)

// actionSchemaName is the component schema of an action's inputs.
func actionSchemaName(kind string) string { return "ActionInputs." + kind }

// actionSchemas are the inputs (a step's `with`) of every action kind,
// read from the action registry: each value is a CEL expression (a
// string) or a literal of the input's type.
func actionSchemas() map[string]Schema {
	out := map[string]Schema{}
	for _, s := range builtin.Registry.Actions() {
		props := map[string]Schema{}
		var required []string
		for _, in := range s.Inputs {
			props[in.Name] = Schema{Description: in.Type + ": " + in.Description + " A CEL expression, or a literal."}
			if in.Required {
				required = append(required, in.Name)
			}
		}
		sch := obj(required, props)
		sch.Description = s.Description
		out[actionSchemaName(s.Kind)] = sch
	}
	return out
}

// withActions adds the action input schemas to schemas.
func withActions(schemas map[string]Schema) map[string]Schema {
	for name, s := range actionSchemas() {
		schemas[name] = s
	}
	return schemas
}

// step is the schema of a workflow step: an action names one of the
// registered kinds.
func step() Schema {
	var kinds []any
	for _, k := range builtin.Registry.ActionKinds() {
		kinds = append(kinds, k)
	}
	return with(obj([]string{"id"}, map[string]Schema{
		"id": str, "action": {Type: "string", Enum: kinds}, "destination": with(str, "A destination of the action's kind."),
		"with":  with(anyObj, "The action's inputs: see the ActionInputs.<action> schemas."),
		"retry": anyObj, "filter": str, "wait": str, "branch": anyObj, "foreach": anyObj, "profile.update": anyObj, "stop": {Type: "boolean"},
		"wait_for": with(obj([]string{"timeout"}, map[string]Schema{
			"event":   with(str, "A CEL condition over a later event of the run's person (event), with the run's own as trigger."),
			"match":   with(str, "A CEL condition correlating that event with the run, such as event.properties.cart_id == trigger.properties.cart_id."),
			"until":   with(str, "Instead of event: a CEL condition over the person's profile."),
			"timeout": with(str, "A CEL duration or timestamp: how long to wait at most."),
		}), "Holds the run until its person does something, or the timeout; the step's output is {matched, event}."),
	}), "One step: an action with its destination and inputs, or a filter, wait, wait_for, branch, foreach, profile.update or stop.")
}

// actionChannels adds to an AsyncAPI document a channel, a send
// operation and a message per action kind: what Switchyard sends to
// destinations when a workflow step runs it.
func actionChannels(channels, operations, messages m) {
	for _, s := range builtin.Registry.Actions() {
		id := "action_" + strings.ReplaceAll(s.Kind, ".", "_")
		messages[id] = m{"name": s.Kind, "title": "Action " + s.Kind, "summary": s.Description, "contentType": "application/json",
			"payload": ref{"$ref": "#/components/schemas/" + actionSchemaName(s.Kind)}}
		channels[id] = m{"address": nil, "title": "Action " + s.Kind + destinationNote(s),
			"description": "A workflow step's call; the message is the step's inputs (with), the request is built from them.",
			"messages":    m{id: ref{"$ref": "#/components/messages/" + id}}}
		operations["send_"+id] = m{"action": "send", "channel": ref{"$ref": "#/channels/" + id},
			"messages": []ref{{"$ref": "#/channels/" + id + "/messages/" + id}}, "summary": "Switchyard runs " + s.Kind + " for a workflow step."}
	}
}

func destinationNote(s *action.Spec) string {
	if s.Destination == "" {
		return " (to any URL, or under an http destination)"
	}
	return " (to a " + s.Destination + " destination)"
}
