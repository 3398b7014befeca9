package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func stored(source, typ, props string, at time.Time, violating bool) *cdp.Event {
	e := &cdp.Event{SourceID: source, Type: typ, Properties: json.RawMessage(props), ReceivedAt: at}
	if violating {
		e.Violations = []cdp.Violation{{Plan: "p", Kind: cdp.ViolationSchema, Message: "x"}}
	}
	return e
}

// The catalog counts types and property paths by JSON type as events are
// stored, adds up across flushes, and keeps what a failed flush could not
// store.
func TestCatalogCounts(t *testing.T) {
	s := openStore(t)
	c := NewCatalog(s, slog.New(slog.DiscardHandler))
	c.Observe([]*cdp.Event{
		stored("web", "purchase", `{"revenue": 12.5, "currency": "EUR", "items": [{"sku": "a"}, {"sku": "b", "qty": 2}]}`, t0, false),
		stored("web", "purchase", `{"revenue": "12", "items": []}`, t0.Add(time.Minute), true),
		stored("web", "page", `{}`, t0, false),
	})
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Observe([]*cdp.Event{stored("web", "purchase", `{"revenue": 3, "address": {"city": "Oslo"}, "n": null}`, t0.Add(-time.Minute), false)})
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindCatalog(t.Context(), "web", "purchase")
	if err != nil {
		t.Fatal(err)
	}
	want := []*cdp.CatalogType{{SourceID: "web", Type: "purchase", Events: 3, Violating: 1, FirstSeen: t0.Add(-time.Minute), LastSeen: t0.Add(time.Minute),
		Properties: []cdp.CatalogProperty{
			{Path: "address", Types: map[string]int64{"object": 1}},
			{Path: "address.city", Types: map[string]int64{"string": 1}},
			{Path: "currency", Types: map[string]int64{"string": 1}},
			{Path: "items", Types: map[string]int64{"array": 2}},
			{Path: "items[]", Types: map[string]int64{"object": 1}},
			{Path: "items[].qty", Types: map[string]int64{"integer": 1}},
			{Path: "items[].sku", Types: map[string]int64{"string": 1}},
			{Path: "n", Types: map[string]int64{"null": 1}},
			{Path: "revenue", Types: map[string]int64{"integer": 1, "number": 1, "string": 1}},
		}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("catalog (-want +got):\n%s", diff)
	}

	// A closed store fails the flush; the counts wait for the next one.
	broken := NewCatalog(failingStore{s}, slog.New(slog.DiscardHandler))
	broken.Observe([]*cdp.Event{stored("web", "page", `{}`, t0, false)})
	if err := broken.Flush(t.Context()); err == nil {
		t.Fatal("flush into a failing store succeeded")
	}
	broken.store = s
	broken.Observe([]*cdp.Event{stored("web", "page", `{}`, t0, false)})
	if err := broken.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if pages, _ := s.FindCatalog(t.Context(), "web", "page"); len(pages) != 1 || pages[0].Events != 3 {
		t.Fatalf("pages %+v, want 3 events", pages)
	}
}

type failingStore struct{ cdp.CatalogStore }

func (failingStore) AddCatalog(context.Context, []*cdp.CatalogType) error {
	return fmt.Errorf("store away")
}

// A source that sends ever new types fills its catalog up to
// MaxCatalogTypes; the rest are counted together.
func TestCatalogBounds(t *testing.T) {
	s := openStore(t)
	c := NewCatalog(s, slog.New(slog.DiscardHandler))
	var events []*cdp.Event
	props := "{"
	for i := range 300 {
		props += fmt.Sprintf(`"p%d": %d,`, i, i)
	}
	props += `"deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}`
	for i := range MaxCatalogTypes + 50 {
		events = append(events, stored("spam", fmt.Sprintf("t%d", i), `{}`, t0, false))
	}
	events = append(events, stored("web", "wide", props, t0, false))
	c.Observe(events[:MaxCatalogTypes-10])
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Observe(events[MaxCatalogTypes-10:])
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	types, _ := s.CatalogTypes(t.Context())
	if n := len(types["spam"]); n != MaxCatalogTypes+1 {
		t.Fatalf("%d types kept for spam, want %d and %s", n, MaxCatalogTypes, OtherType)
	}
	other, _ := s.FindCatalog(t.Context(), "spam", OtherType)
	if len(other) != 1 || other[0].Events != 50 {
		t.Fatalf("other %+v", other)
	}
	wide, _ := s.FindCatalog(t.Context(), "web", "wide")
	if n := len(wide[0].Properties); n > maxPaths {
		t.Fatalf("%d paths kept, more than %d", n, maxPaths)
	}
}

// What Infer writes from the catalog accepts every event the catalog
// saw, and names as required what every event carried.
func TestInferAcceptsWhatWasSeen(t *testing.T) {
	s := openStore(t)
	c := NewCatalog(s, slog.New(slog.DiscardHandler))
	seen := []string{
		`{"revenue": 12.5, "currency": "EUR", "items": [{"sku": "a"}, {"sku": "b", "qty": 2}], "address": {"city": "Oslo"}}`,
		`{"revenue": 12, "currency": "USD", "items": [], "tags": ["x", 1], "n": null}`,
		`{"revenue": 7, "currency": "EUR", "coupon": "X", "address": {"city": "Bergen", "zip": "5003"}}`,
	}
	var events []*cdp.Event
	for _, p := range seen {
		events = append(events, stored("web", "purchase", p, t0, false))
	}
	c.Observe(events)
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	cat, err := s.FindCatalog(t.Context(), "web", "purchase")
	if err != nil {
		t.Fatal(err)
	}
	schema := Infer(cat[0])
	if req := schema["required"]; !cmp.Equal(req, []string{"currency", "revenue"}) {
		t.Errorf("required %v", req)
	}
	if rev := schema["properties"].(map[string]any)["revenue"].(map[string]any)["type"]; rev != "number" {
		t.Errorf("revenue type %v", rev)
	}
	plan := Plan{ID: "inferred", Events: map[string]PlanEvent{"purchase": {Properties: schema}}}
	if problems := Check(plan); problems != nil {
		t.Fatalf("the inferred schema does not compile: %v", problems)
	}
	ps := Compile([]Plan{plan})
	for _, p := range seen {
		e := stored("web", "purchase", p, t0, false)
		if keep, mode := Screen(t.Context(), nil, ps, e); !keep || mode != "" {
			t.Errorf("%s breaks the inferred schema: %v", p, e.Violations)
		}
	}
	bad := stored("web", "purchase", `{"revenue": "12", "currency": "EUR"}`, t0, false)
	if _, mode := Screen(t.Context(), nil, ps, bad); mode != cdp.PlanFlag {
		t.Errorf("a string revenue passes the inferred schema")
	}
}
