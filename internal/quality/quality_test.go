package quality

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// plansYAML declares plans as a configuration file would.
const plansYAML = `
- id: orders
  sources: [shop]
  mode: block
  events:
    Order Completed:
      properties:
        type: object
        required: [revenue, currency]
        properties:
          revenue: {type: number, minimum: 0}
          currency: {type: string, enum: [EUR, USD]}
          items: {type: array, items: {type: object, required: [sku]}}
- id: everything
  mode: flag
  allow_unplanned: false
  events:
    Order Completed: {}
    identify:
      traits:
        type: object
        properties:
          email: {type: string, format: email, pattern: "@"}
`

func loadPlans(t *testing.T) *Plans {
	t.Helper()
	var plans []Plan
	if err := yaml.Unmarshal([]byte(plansYAML), &plans); err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		if problems := Check(p); problems != nil {
			t.Fatalf("plan %s: %v", p.ID, problems)
		}
	}
	return Compile(plans)
}

func event(source, typ, props string) *cdp.Event {
	return &cdp.Event{SourceID: source, Type: typ, Properties: json.RawMessage(props), Context: json.RawMessage(`{}`)}
}

func TestPlans(t *testing.T) {
	ps := loadPlans(t)
	for _, tc := range []struct {
		name       string
		e          *cdp.Event
		keep       bool
		mode       string
		violations []cdp.Violation
	}{
		{"valid", event("shop", "Order Completed", `{"revenue": 12.5, "currency": "EUR"}`), true, "", nil},
		{"wrong type blocks on shop", event("shop", "Order Completed", `{"revenue": "12.5", "currency": "EUR"}`), false, cdp.PlanBlock,
			[]cdp.Violation{{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties/revenue", Message: "got string, want number"}}},
		{"missing and nested", event("shop", "Order Completed", `{"revenue": -1, "items": [{"sku": "a"}, {}]}`), false, cdp.PlanBlock,
			[]cdp.Violation{
				{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties", Message: "missing property 'currency'"},
				{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties/items/1", Message: "missing property 'sku'"},
				{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties/revenue", Message: "minimum: got -1, want 0"},
			}},
		{"the same event elsewhere is only flagged", event("web", "Order Completed", `{"revenue": "12.5"}`), true, "", nil},
		{"unplanned flagged", event("web", "Coupon Applied", `{}`), true, cdp.PlanFlag,
			[]cdp.Violation{{Plan: "everything", Kind: cdp.ViolationUnplanned, Message: `event type "Coupon Applied" is not in the plan`}}},
		{"unplanned on shop: orders allows it, everything flags it", event("shop", "Coupon Applied", `{}`), true, cdp.PlanFlag,
			[]cdp.Violation{{Plan: "everything", Kind: cdp.ViolationUnplanned, Message: `event type "Coupon Applied" is not in the plan`}}},
		{"absent properties are an empty object", event("shop", "Order Completed", ``), false, cdp.PlanBlock, []cdp.Violation{
			{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties", Message: "missing properties 'revenue', 'currency'"}}},
		{"properties not an object", event("shop", "Order Completed", `[1]`), false, cdp.PlanBlock, []cdp.Violation{
			{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties", Message: "got array, want object"}}},
		{"traits", &cdp.Event{SourceID: "web", Type: "identify", Op: cdp.OpIdentify, Traits: json.RawMessage(`{"email": "nobody"}`)}, true, cdp.PlanFlag,
			[]cdp.Violation{{Plan: "everything", Kind: cdp.ViolationSchema, Path: "/traits/email", Message: "'nobody' does not match pattern '@'"}}},
		{"a deletion is never checked", &cdp.Event{SourceID: "shop", Type: "delete", Op: cdp.OpDelete}, true, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, mode := Screen(context.Background(), nil, ps, tc.e)
			if keep != tc.keep || mode != tc.mode {
				t.Errorf("keep, mode = %v, %q, want %v, %q", keep, mode, tc.keep, tc.mode)
			}
			sortViolations(tc.e.Violations)
			if diff := cmp.Diff(tc.violations, tc.e.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func sortViolations(vs []cdp.Violation) {
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			if vs[j].Plan+vs[j].Path < vs[i].Plan+vs[i].Path {
				vs[i], vs[j] = vs[j], vs[i]
			}
		}
	}
}

func TestPlanProblems(t *testing.T) {
	f := false
	for _, tc := range []struct {
		plan Plan
		want string // a field with a problem and a piece of its message
	}{
		{Plan{ID: "p", Mode: "warn", Events: map[string]PlanEvent{"a": {}}}, "mode: must be one of flag, drop, block"},
		{Plan{ID: "bad id!", Events: map[string]PlanEvent{"a": {}}}, "id: must be"},
		{Plan{ID: "p"}, "events: must list at least one"},
		{Plan{ID: "p", Events: map[string]PlanEvent{"a": {Properties: map[string]any{"type": "numbr"}}}}, "events.a.properties: is not a valid JSON Schema"},
		{Plan{ID: "p", Events: map[string]PlanEvent{"a": {Properties: map[string]any{"$ref": "file:///etc/passwd"}}}}, "may not load file:///etc/passwd"},
		{Plan{ID: "p", Events: map[string]PlanEvent{"a": {Properties: map[string]any{"$ref": "http://127.0.0.1:1/x.json"}}}}, "may not load http://127.0.0.1:1/x.json"},
		{Plan{ID: "p", Events: map[string]PlanEvent{"a": {Properties: map[string]any{"$ref": "other.json"}}}}, "may not load"},
		{Plan{ID: "p", Sources: []string{"-x"}, AllowUnplanned: &f}, "sources[0]"},
	} {
		problems := Check(tc.plan)
		field, msg, _ := strings.Cut(tc.want, ": ")
		if !strings.Contains(problems[field], msg) {
			t.Errorf("Check(%+v) = %v, want %s", tc.plan, problems, tc.want)
		}
	}
	// A schema may refer to its own $defs and to the draft's meta-schema.
	ok := Plan{ID: "p", Events: map[string]PlanEvent{"a": {Properties: map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"$defs":      map[string]any{"money": map[string]any{"type": "number"}},
		"properties": map[string]any{"total": map[string]any{"$ref": "#/$defs/money"}}}}}}
	if problems := Check(ok); problems != nil {
		t.Errorf("Check(self-contained schema) = %v", problems)
	}
}

func TestTransform(t *testing.T) {
	ctx := context.Background()
	big := `{"a": "` + strings.Repeat("x", 600<<10) + `"}`
	for _, tc := range []struct {
		name, src, props string
		keep             bool
		typ, want        string // the event's type and properties after
		failure          string // a piece of the transform violation, if any
	}{
		{"rename, drop PII, derive type",
			`{'type': event.type == 'order' ? 'Order Completed' : event.type,
			  'properties': event.properties.without(['email', 'total']).with({'revenue': double(event.properties.total)})}`,
			`{"total": 12, "email": "a@b.c", "sku": "x"}`, true, "Order Completed", `{"revenue":12,"sku":"x"}`, ""},
		{"drop", `{'drop': event.properties.test == true}`, `{"test": true}`, false, "order", `{"test": true}`, ""},
		{"keep as is", `{'drop': event.properties.test == true}`, `{"test": false}`, true, "order", `{"test": false}`, ""},
		{"null drops too", `dyn(null)`, `{}`, false, "order", `{}`, ""},
		{"type only", `{'type': 'x'}`, `{"a": 1}`, true, "x", `{"a": 1}`, ""},
		{"runtime error keeps the event", `{'properties': {'n': event.properties.missing}}`, `{"a": 1}`, true, "order", `{"a": 1}`, "no such key"},
		{"not a map", `'x'`, `{}`, true, "order", `{}`, "not a string"},
		{"unknown key", `{'tipe': 'x'}`, `{}`, true, "order", `{}`, `"tipe"`},
		{"empty type", `{'type': ''}`, `{}`, true, "order", `{}`, "type must be a string"},
		{"properties not a map", `{'properties': [1]}`, `{}`, true, "order", `{}`, "properties must be a map"},
		{"too large", `{'properties': event.properties.with({'b': event.properties.a})}`, big, true, "order", big, "more than 1048576"},
		{"costly", `{'properties': {'a': lists.range(20000).map(i, 'x' + string(i))}}`, `{}`, true, "order", `{}`, "cost limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := CompileTransform(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			e := event("web", "order", tc.props)
			keep, _ := Screen(ctx, tr, nil, e)
			if keep != tc.keep || e.Type != tc.typ || string(e.Properties) != tc.want {
				t.Errorf("keep %v type %q properties %s, want %v %q %s", keep, e.Type, e.Properties, tc.keep, tc.typ, tc.want)
			}
			var failure string
			for _, v := range e.Violations {
				if v.Kind == cdp.ViolationTransform {
					failure = v.Message
				}
			}
			if (tc.failure == "") != (failure == "") || !strings.Contains(failure, tc.failure) {
				t.Errorf("transform failure %q, want %q", failure, tc.failure)
			}
		})
	}
}

func TestTransformThenPlan(t *testing.T) {
	ps := loadPlans(t)
	tr, err := CompileTransform(`{'properties': event.properties.with({'revenue': double(event.properties.revenue)})}`)
	if err != nil {
		t.Fatal(err)
	}
	e := event("shop", "Order Completed", `{"revenue": "12.5", "currency": "EUR"}`)
	if keep, mode := Screen(context.Background(), tr, ps, e); !keep || mode != "" || len(e.Violations) > 0 {
		t.Errorf("a transform that repairs the type: keep %v mode %q violations %v", keep, mode, e.Violations)
	}
}
