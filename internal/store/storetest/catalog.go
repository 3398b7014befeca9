package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The catalog adds: counts of the same source and type (and property
// path and JSON type) add up, also when several writers add at once;
// first and last seen widen; a listing filters by source and type.
func testCatalog(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	entry := func(source, typ string, n int64, first, last time.Time, props map[string]map[string]int64) *cdp.CatalogType {
		e := &cdp.CatalogType{SourceID: source, Type: typ, Events: n, Violating: n / 2, FirstSeen: first, LastSeen: last}
		for path, types := range props {
			e.Properties = append(e.Properties, cdp.CatalogProperty{Path: path, Types: types})
		}
		return e
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			at := t0.Add(time.Duration(i) * time.Minute)
			if err := s.AddCatalog(ctx, []*cdp.CatalogType{
				entry("web", "purchase", 10, at, at.Add(time.Second), map[string]map[string]int64{"revenue": {"number": 9, "string": 1}, "items[].sku": {"string": 10}}),
				entry("web", "page", 1, at, at, nil),
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.AddCatalog(ctx, []*cdp.CatalogType{entry("app", "purchase", 1, t0, t0, map[string]map[string]int64{"revenue": {"null": 1}})}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindCatalog(ctx, "web", "purchase")
	if err != nil {
		t.Fatal(err)
	}
	want := []*cdp.CatalogType{{SourceID: "web", Type: "purchase", Events: 40, Violating: 20, FirstSeen: t0.UTC(), LastSeen: t0.Add(3*time.Minute + time.Second).UTC(),
		Properties: []cdp.CatalogProperty{{Path: "items[].sku", Types: map[string]int64{"string": 40}}, {Path: "revenue", Types: map[string]int64{"number": 36, "string": 4}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
	all, err := s.FindCatalog(ctx, "", "")
	if err != nil || len(all) != 3 || all[0].SourceID != "app" || all[1].Type != "page" || len(all[1].Properties) != 0 {
		t.Fatalf("whole catalog %v, %v", all, err)
	}
	types, err := s.CatalogTypes(ctx)
	if diff := cmp.Diff(map[string][]string{"app": {"purchase"}, "web": {"page", "purchase"}}, types); err != nil || diff != "" {
		t.Fatalf("types per source (-want +got) %v:\n%s", err, diff)
	}
}
