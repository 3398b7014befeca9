package quality

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Any JSON document may be offered as a plan's schema (the management API
// takes plans from anyone with the admin role): Check never panics, and a
// schema it accepts checks any properties with violations that name the
// plan, point into the event and are bounded in number.
func FuzzPlanSchema(f *testing.F) {
	f.Add(`{"type":"object","required":["a"],"properties":{"a":{"type":"number","minimum":0}}}`, `{"a":"x"}`)
	f.Add(`{"$defs":{"m":{"type":"number"}},"properties":{"a":{"$ref":"#/$defs/m"}}}`, `{"a":[1,2]}`)
	f.Add(`{"$ref":"file:///etc/passwd"}`, `{}`)
	f.Add(`{"pattern":"(a+)+$","type":"string"}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`)
	f.Add(`{"items":{"type":"object","required":["sku"]}}`, `[{},{},{},{},{},{},{},{},{},{},{},{}]`)
	f.Add(`true`, `{}`)
	f.Add(`{"properties":{"a~/b":{"const":1}}}`, `{"a~/b":2}`)
	f.Fuzz(func(t *testing.T, schema, props string) {
		var doc any
		if json.Unmarshal([]byte(schema), &doc) != nil {
			return
		}
		plan := Plan{ID: "p", Events: map[string]PlanEvent{"t": {Properties: doc, Traits: doc}}}
		if Check(plan) != nil {
			return
		}
		e := &cdp.Event{SourceID: "s", Type: "t", Properties: json.RawMessage(props), Traits: json.RawMessage(props)}
		keep, mode := Screen(context.Background(), nil, Compile([]Plan{plan}), e)
		if !keep || (mode != "" && mode != cdp.PlanFlag) || (mode == "") != (len(e.Violations) == 0) {
			t.Fatalf("keep %v mode %q violations %v", keep, mode, e.Violations)
		}
		if len(e.Violations) > 2*maxViolations {
			t.Fatalf("%d violations", len(e.Violations))
		}
		for _, v := range e.Violations {
			if v.Plan != "p" || v.Kind != cdp.ViolationSchema || v.Message == "" ||
				!(strings.HasPrefix(v.Path, "/properties") || strings.HasPrefix(v.Path, "/traits")) {
				t.Fatalf("violation %+v", v)
			}
		}
	})
}

// Whatever the properties, the catalog records a bounded number of paths,
// each with a JSON type name.
func FuzzObservePaths(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":[1,"x",{"d":null}]},"e":true,"f":1.5}`)
	f.Add(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`)
	f.Add(`[1,2]`)
	f.Add(`{"a.b":[[[[1]]]]}`)
	types := []string{"null", "boolean", "string", "integer", "number", "array", "object"}
	f.Fuzz(func(t *testing.T, raw string) {
		paths := observePaths(json.RawMessage(raw))
		if len(paths) > maxPaths {
			t.Fatalf("%d paths", len(paths))
		}
		for p := range paths {
			if !slices.Contains(types, p[1]) {
				t.Fatalf("path %q type %q", p[0], p[1])
			}
		}
	})
}

// A transform's result, whatever the event, leaves an event that can be
// stored: a type without NUL, properties that are a JSON object within
// the limit, or a recorded failure with the event as it was.
func FuzzTransform(f *testing.F) {
	tr, err := CompileTransform(`{'type': has(event.properties.t) ? string(event.properties.t) : event.type,
		'properties': event.properties.without(['email']).with({'n': event.properties.size()}), 'drop': has(event.properties.drop)}`)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`{"t":"Order Completed","email":"a@b.c"}`)
	f.Add(`{"t":""}`)
	f.Add(`{"t":"a\u0000b"}`)
	f.Add(`{"t":12.5,"drop":1}`)
	f.Add(`[1]`)
	f.Fuzz(func(t *testing.T, props string) {
		e := &cdp.Event{SourceID: "s", Type: "orig", Properties: json.RawMessage(props), Context: json.RawMessage(`{}`)}
		before := string(e.Properties)
		keep, _ := Screen(context.Background(), tr, nil, e)
		failed := len(e.Violations) > 0
		if failed && (e.Type != "orig" || string(e.Properties) != before || !keep) {
			t.Fatalf("a failed transform changed the event: %q %s", e.Type, e.Properties)
		}
		if !keep || failed {
			return
		}
		var m map[string]any
		if e.Type == "" || strings.IndexByte(e.Type, 0) >= 0 || json.Unmarshal(e.Properties, &m) != nil || len(e.Properties) > maxPropertiesBytes {
			t.Fatalf("transformed to %q %s", e.Type, e.Properties)
		}
	})
}
