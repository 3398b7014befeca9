package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
)

// TransformEnv is the environment of a source's transform: the event as
// every expression sees it.
var TransformEnv = expr.MustEnv(expr.Var{Name: "event", Type: expr.Object})

// Limits on what a transform returns: a type as long as Customer.io's
// longest event name allows with room, properties no larger than a Data
// Pipelines call may be.
const (
	maxTypeBytes       = 1000
	maxPropertiesBytes = 1 << 20
)

// Transform is a source's compiled transform, safe for concurrent use.
type Transform struct{ prg *expr.Program }

// CompileTransform compiles a transform's source.
func CompileTransform(src string) (*Transform, error) {
	prg, err := TransformEnv.Compile(src, expr.Any)
	if err != nil {
		return nil, err
	}
	return &Transform{prg: prg}, nil
}

// CheckSource returns the problems of src's transform by field, or nil.
func CheckSource(src *cdp.Source) map[string]string {
	if src.Transform == "" {
		return nil
	}
	if _, err := CompileTransform(src.Transform); err != nil {
		return map[string]string{"transform": err.Error()}
	}
	return nil
}

// Transforms keeps the sources' compiled transforms by their text, for
// whoever runs them on every request: a lookup takes a read lock only.
// Sources are few and change rarely, so the cache is cleared rather than
// evicted when it grows past what any real configuration holds. The zero
// value is ready.
type Transforms struct {
	mu sync.RWMutex
	m  map[string]*Transform
}

// Of returns src's compiled transform (nil when it has none, or when it
// does not compile: sources are checked before they are kept).
func (ts *Transforms) Of(src *cdp.Source) *Transform {
	if src.Transform == "" {
		return nil
	}
	ts.mu.RLock()
	t, ok := ts.m[src.Transform]
	ts.mu.RUnlock()
	if ok {
		return t
	}
	t, err := CompileTransform(src.Transform)
	if err != nil {
		t = nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil || len(ts.m) >= 1000 {
		ts.m = map[string]*Transform{}
	}
	ts.m[src.Transform] = t
	return t
}

// apply runs t on e. It reports false when the transform drops e; a
// transform that fails leaves e as it arrived and returns why. New
// properties go into doc as they are, decoded, for the plans.
func (t *Transform) apply(ctx context.Context, e *cdp.Event, doc *document) (keep bool, err error) {
	out, err := t.prg.Eval(ctx, map[string]any{"event": e.View()})
	if err != nil {
		return true, err
	}
	if out == nil {
		return false, nil
	}
	m, ok := out.(map[string]any)
	if !ok {
		return true, fmt.Errorf("the transform must return a map with type, properties or drop, not %s", kindOf(out))
	}
	typ, props := e.Type, e.Properties
	var decoded map[string]any
	for k, v := range m {
		switch k {
		case "type":
			s, ok := v.(string)
			if !ok || s == "" || len(s) > maxTypeBytes || strings.IndexByte(s, 0) >= 0 {
				return true, fmt.Errorf("the transform's type must be a string of 1 to %d bytes without NUL, not %s", maxTypeBytes, kindOf(v))
			}
			typ = s
		case "drop":
			d, ok := v.(bool)
			if !ok {
				return true, fmt.Errorf("the transform's drop must be a bool, not %s", kindOf(v))
			}
			if d {
				return false, nil
			}
		case "properties":
			p, ok := v.(map[string]any)
			if !ok {
				return true, fmt.Errorf("the transform's properties must be a map, not %s", kindOf(v))
			}
			data, err := json.Marshal(p)
			if err != nil {
				return true, fmt.Errorf("the transform's properties are not JSON: %w", err)
			}
			if len(data) > maxPropertiesBytes {
				return true, fmt.Errorf("the transform's properties are %d bytes, more than %d", len(data), maxPropertiesBytes)
			}
			props, decoded = data, p
		default:
			return true, fmt.Errorf("the transform returned %q: it may return type, properties and drop only", k)
		}
	}
	e.Type, e.Properties = typ, props
	if decoded != nil {
		doc.props, doc.propsDone = any(decoded), true
	}
	return true, nil
}

// kindOf names a value's JSON kind for a message.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case float64, int64, uint64, int, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// document is an event's properties and traits, decoded on first use.
type document struct {
	e                     *cdp.Event
	props, traitsV        any
	propsDone, traitsDone bool
}

func (d *document) properties() any {
	if !d.propsDone {
		d.props, d.propsDone = decode(d.e.Properties), true
	}
	return d.props
}

func (d *document) traits() any {
	if !d.traitsDone {
		d.traitsV, d.traitsDone = decode(d.e.Traits), true
	}
	return d.traitsV
}

// decode reads a JSON value as the schema validator wants it (numbers
// exact); absent is an empty object, so that "required" speaks of
// properties rather than of the document.
func decode(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return map[string]any{}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return map[string]any{}
	}
	return v
}

// Screen applies src's transform and then the tracking plans to e. It
// reports whether e is kept, and the strictest mode among the plans it
// broke ("" when none); what it broke is in e.Violations. A transform
// that fails keeps e as it arrived, with the failure among its
// violations (whatever the plans' modes: the transform, not the client,
// is at fault).
func Screen(ctx context.Context, t *Transform, ps *Plans, e *cdp.Event) (keep bool, mode string) {
	if !Checked(e) {
		return true, ""
	}
	doc := &document{e: e}
	if t != nil {
		keep, err := t.apply(ctx, e, doc)
		if err != nil {
			e.Violations = append(e.Violations, cdp.Violation{Kind: cdp.ViolationTransform, Message: err.Error()})
		}
		if !keep {
			return false, ""
		}
	}
	if !ps.For(e.SourceID) {
		return true, ""
	}
	mode = ps.check(e, doc)
	return mode != cdp.PlanDrop && mode != cdp.PlanBlock, mode
}

// What becomes of a screened event.
const (
	OutcomeStored  = "stored"
	OutcomeFlagged = "flagged" // stored, with violations
	OutcomeDropped = "dropped" // by the transform or a plan in drop mode
	OutcomeBlocked = "blocked" // its request is refused
)

// Outcome is what becomes of an event Screen answered keep and mode for.
func Outcome(e *cdp.Event, keep bool, mode string) string {
	switch {
	case mode == cdp.PlanBlock:
		return OutcomeBlocked
	case !keep:
		return OutcomeDropped
	case len(e.Violations) > 0:
		return OutcomeFlagged
	}
	return OutcomeStored
}

// BrokenPlans lists the ids of the plans e's violations name, once each.
func BrokenPlans(e *cdp.Event) []string {
	var out []string
	for _, v := range e.Violations {
		if v.Plan != "" && !slices.Contains(out, v.Plan) {
			out = append(out, v.Plan)
		}
	}
	return out
}
