// Package quality holds the rules that check and reshape what sources
// send: tracking plans (a JSON Schema per event type, and what becomes of
// an event that breaks one), transforms at the source (CEL that returns
// an event's new type and properties), and the event catalog (what each
// source actually sends, counted as events are stored).
package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Plan is a tracking plan as the configuration file and the management
// API declare it: a JSON Schema (draft 2020-12) per event type, for some
// sources or all, and what becomes of an event that breaks it.
type Plan struct {
	ID          string `yaml:"id" json:"id"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Sources the plan checks; empty: every source.
	Sources []string `yaml:"sources" json:"sources,omitempty"`
	// Mode is flag (default), drop or block.
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// AllowUnplanned, when false, makes an event type the plan does not
	// list a violation (default true).
	AllowUnplanned *bool `yaml:"allow_unplanned" json:"allow_unplanned,omitempty"`
	// Events are the planned event types, by type.
	Events map[string]PlanEvent `yaml:"events" json:"events,omitempty"`
}

// PlanEvent is one planned event type: the JSON Schemas of its
// properties and (identify calls) of its traits; either may be absent.
type PlanEvent struct {
	Description string `yaml:"description" json:"description,omitempty"`
	Properties  any    `yaml:"properties" json:"properties,omitempty"`
	Traits      any    `yaml:"traits" json:"traits,omitempty"`
}

// maxViolations caps the violations recorded per event and plan: a
// document broken everywhere says enough with the first few.
const maxViolations = 10

// Plans is a compiled set of tracking plans, immutable and safe for
// concurrent use.
type Plans struct {
	plans    []*plan            // by id
	bySource map[string][]*plan // the plans of a source some plan names, global ones included
	global   []*plan            // the plans of every source
}

type plan struct {
	id             string
	mode           string
	allowUnplanned bool
	events         map[string]*schemas
	declared       Plan
}

type schemas struct{ properties, traits *jsonschema.Schema }

// Compile compiles plans (already checked with Check: a plan with
// problems is left out).
func Compile(plans []Plan) *Plans {
	ps := &Plans{bySource: map[string][]*plan{}}
	for _, p := range slices.SortedFunc(slices.Values(plans), func(a, b Plan) int { return strings.Compare(a.ID, b.ID) }) {
		c, problems := compile(p)
		if len(problems) > 0 {
			continue
		}
		ps.plans = append(ps.plans, c)
		if len(p.Sources) == 0 {
			ps.global = append(ps.global, c)
		}
		for _, s := range p.Sources {
			ps.bySource[s] = append(ps.bySource[s], c)
		}
	}
	// A source named by a plan is checked by the global plans too, in
	// the order of ids, listed here once rather than merged per event.
	for s, plans := range ps.bySource {
		ps.bySource[s] = slices.SortedFunc(slices.Values(slices.Concat(ps.global, plans)), func(a, b *plan) int { return strings.Compare(a.id, b.id) })
	}
	return ps
}

// Check returns the problems of p by field ("mode", "events.Order
// Completed.properties"), or nil.
func Check(p Plan) map[string]string {
	_, problems := compile(p)
	return problems
}

func compile(p Plan) (*plan, map[string]string) {
	problems := map[string]string{}
	if !cdp.ValidSourceID(p.ID) {
		problems["id"] = "must be 1-128 letters, digits, '_' or '-', starting with a letter or digit"
	}
	c := &plan{id: p.ID, declared: p, mode: p.Mode, allowUnplanned: p.AllowUnplanned == nil || *p.AllowUnplanned, events: map[string]*schemas{}}
	if c.mode == "" {
		c.mode = cdp.PlanFlag
	}
	if !slices.Contains(cdp.PlanModes, c.mode) {
		problems["mode"] = fmt.Sprintf("must be one of %s, not %q", strings.Join(cdp.PlanModes, ", "), p.Mode)
	}
	for i, s := range p.Sources {
		if !cdp.ValidSourceID(s) {
			problems[fmt.Sprintf("sources[%d]", i)] = fmt.Sprintf("%q is not a source id", s)
		}
	}
	if len(p.Events) == 0 && c.allowUnplanned {
		problems["events"] = "must list at least one event type (or set allow_unplanned: false to allow none)"
	}
	for _, typ := range slices.Sorted(maps.Keys(p.Events)) {
		ev := p.Events[typ]
		if typ == "" || strings.IndexByte(typ, 0) >= 0 {
			problems["events"] = fmt.Sprintf("%q is not an event type", typ)
			continue
		}
		var s schemas
		var err error
		if s.properties, err = compileSchema(ev.Properties); err != nil {
			problems["events."+typ+".properties"] = err.Error()
		}
		if s.traits, err = compileSchema(ev.Traits); err != nil {
			problems["events."+typ+".traits"] = err.Error()
		}
		c.events[typ] = &s
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return c, nil
}

// schemaURL names the document a plan's schema is compiled as. A $ref to
// anything but the document itself or the draft's meta-schemas resolves
// under it and is refused by the loader: a schema cannot make the server
// read a file or call a URL.
const schemaURL = "https://switchyard.invalid/plan.json"

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("a schema may not load %s: put what it needs under $defs", url)
}

// compileSchema compiles one JSON Schema, given as decoded YAML or JSON;
// nil is no schema.
func compileSchema(doc any) (*jsonschema.Schema, error) {
	if doc == nil {
		return nil, nil
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("is not a JSON document: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("is not a JSON document: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, v); err != nil {
		return nil, fmt.Errorf("is not a JSON Schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("is not a valid JSON Schema (draft 2020-12): %s", schemaProblem(err))
	}
	return sch, nil
}

// schemaProblem is a compile error without the schema's made-up URL.
func schemaProblem(err error) string {
	msg := strings.ReplaceAll(err.Error(), schemaURL, "")
	return strings.Join(strings.Fields(msg), " ")
}

// Empty reports whether there are no plans at all (nothing to check).
func (ps *Plans) Empty() bool { return ps == nil || len(ps.plans) == 0 }

// For reports whether any plan checks events of source.
func (ps *Plans) For(source string) bool {
	return ps != nil && (len(ps.global) > 0 || len(ps.bySource[source]) > 0)
}

// Declared is what one plan declares for an event type of a source.
type Declared struct {
	Plan  string    `json:"plan"`
	Mode  string    `json:"mode"`
	Event PlanEvent `json:"event"`
}

// Declared returns what the plans of source declare for typ, by plan.
func (ps *Plans) Declared(source, typ string) []Declared {
	var out []Declared
	for _, p := range ps.of(source) {
		if ev, ok := p.declared.Events[typ]; ok {
			out = append(out, Declared{Plan: p.id, Mode: p.mode, Event: ev})
		}
	}
	return out
}

// All returns every plan's declaration, by id.
func (ps *Plans) All() []Plan {
	if ps == nil {
		return nil
	}
	out := make([]Plan, len(ps.plans))
	for i, p := range ps.plans {
		out[i] = p.declared
	}
	return out
}

// of lists the plans that check source, by id.
func (ps *Plans) of(source string) []*plan {
	if ps == nil {
		return nil
	}
	if plans, ok := ps.bySource[source]; ok {
		return plans
	}
	return ps.global
}

// Checked reports whether plans and transforms apply to e: events the
// client sent that are recorded or identify someone. Operations that
// change profiles otherwise (delete, devices, suppression, merges,
// segments) pass untouched: a plan or a transform must never lose a
// person's erasure.
func Checked(e *cdp.Event) bool {
	return e.Op == "" || e.Op == cdp.OpIdentify || e.Op == cdp.OpIdentifyExisting
}

// check validates e against the plans of its source and appends what it
// breaks to e.Violations; it returns the strictest mode among the plans
// broken ("" when none). doc decodes e's properties and traits once, when
// a schema first needs them.
func (ps *Plans) check(e *cdp.Event, doc *document) string {
	mode := ""
	for _, p := range ps.of(e.SourceID) {
		n := len(e.Violations)
		s, planned := p.events[e.Type]
		switch {
		case !planned && !p.allowUnplanned:
			e.Violations = append(e.Violations, cdp.Violation{Plan: p.id, Kind: cdp.ViolationUnplanned,
				Message: fmt.Sprintf("event type %q is not in the plan", e.Type)})
		case planned:
			e.Violations = validate(e.Violations, p.id, "/properties", s.properties, doc.properties)
			e.Violations = validate(e.Violations, p.id, "/traits", s.traits, doc.traits)
		}
		if len(e.Violations) > n && stricter(p.mode, mode) {
			mode = p.mode
		}
	}
	return mode
}

// stricter reports whether mode a is stricter than b.
func stricter(a, b string) bool {
	return slices.Index(cdp.PlanModes, a) > slices.Index(cdp.PlanModes, b)
}

var printer = message.NewPrinter(language.English)

// validate appends to vs what v breaks in sch (nothing without a schema);
// at is where v is in the event.
func validate(vs []cdp.Violation, planID, at string, sch *jsonschema.Schema, v func() any) []cdp.Violation {
	if sch == nil {
		return vs
	}
	err := sch.Validate(v())
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return vs
	}
	n := 0
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if n >= maxViolations {
			return
		}
		if len(e.Causes) == 0 {
			vs = append(vs, cdp.Violation{Plan: planID, Kind: cdp.ViolationSchema, Path: at + pointer(e.InstanceLocation),
				Message: e.ErrorKind.LocalizedString(printer)})
			n++
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return vs
}

// pointer is the JSON pointer of a path.
func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}

// MetricType is the type label a violation of plan by an event of typ
// is counted under: the type when the plan lists it, else "(unplanned)",
// so that clients cannot grow the metric without bound.
func (ps *Plans) MetricType(planID, typ string) string {
	if ps != nil {
		for _, p := range ps.plans {
			if p.id == planID {
				if _, ok := p.events[typ]; ok {
					return typ
				}
			}
		}
	}
	return "(unplanned)"
}
