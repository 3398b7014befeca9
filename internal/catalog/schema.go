// Package catalog is Switchyard's own description of what it accepts: every
// inbound surface, the event types each produces and the shape of what
// callers send. The AsyncAPI and OpenAPI documents served at
// /asyncapi.json and /openapi.json are generated from it, and tests check
// it against what the code really stores.
package catalog

import (
	"encoding/json"
	"maps"
	"slices"
)

// Schema is the JSON Schema subset the documents use.
type Schema struct {
	Ref                  string            `json:"$ref,omitempty"`
	Type                 any               `json:"type,omitempty"` // a name or a list of names
	Description          string            `json:"description,omitempty"`
	Const                any               `json:"const,omitempty"`
	Enum                 []any             `json:"enum,omitempty"`
	Format               string            `json:"format,omitempty"`
	Pattern              string            `json:"pattern,omitempty"`
	Properties           map[string]Schema `json:"properties,omitempty"`
	Required             []string          `json:"required,omitempty"`
	Items                *Schema           `json:"items,omitempty"`
	AdditionalProperties *Schema           `json:"additionalProperties,omitempty"`
	OneOf                []Schema          `json:"oneOf,omitempty"`
	MaxLength            int               `json:"maxLength,omitempty"`
}

// MarshalJSON sorts required, so that documents are stable.
func (s Schema) MarshalJSON() ([]byte, error) {
	type plain Schema
	p := plain(s)
	if len(p.Required) > 0 {
		p.Required = slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(p.Required)))))
	}
	return json.Marshal(p)
}

// Shorthands for the common schemas.
var (
	str    = Schema{Type: "string"}
	object = Schema{Type: "object"}
	anyObj = Schema{Type: "object", Description: "Any JSON object."}
)

func obj(required []string, props map[string]Schema) Schema {
	return Schema{Type: "object", Properties: props, Required: required}
}

func with(s Schema, desc string) Schema {
	s.Description = desc
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
