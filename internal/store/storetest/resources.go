package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Resources are versioned by kind and id: a version follows the latest
// or is refused, the latest of each id is found (deleted ones too), and
// the history reads back oldest first.
func testResources(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	save := func(kind, id string, version int, deleted bool) error {
		return s.SaveResource(ctx, &cdp.ResourceVersion{Kind: kind, ID: id, Version: version, Deleted: deleted, CreatedAt: t0,
			Definition: json.RawMessage(fmt.Sprintf(`{"id":%q,"v":%d}`, id, version))})
	}
	for _, v := range []struct {
		kind, id string
		version  int
		deleted  bool
	}{{cdp.ResourceDestination, "app", 1, false}, {cdp.ResourceDestination, "app", 2, false}, {cdp.ResourceDestination, "old", 1, false},
		{cdp.ResourceDestination, "old", 2, true}, {cdp.ResourceAlertRule, "app", 1, false}} {
		if err := save(v.kind, v.id, v.version, v.deleted); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, save(cdp.ResourceDestination, "app", 2, false), cdp.ECONFLICT)
	wantCode(t, save(cdp.ResourceDestination, "app", 4, false), cdp.ECONFLICT)
	wantCode(t, save(cdp.ResourceAlertChannel, "new", 2, false), cdp.ECONFLICT)
	latest, err := s.FindResources(ctx, cdp.ResourceDestination)
	if err != nil || len(latest) != 2 || latest[0].ID != "app" || latest[0].Version != 2 || string(latest[0].Definition) != `{"id":"app","v":2}` ||
		latest[1].ID != "old" || !latest[1].Deleted || latest[0].Kind != cdp.ResourceDestination || !latest[0].CreatedAt.Equal(t0) {
		t.Fatalf("FindResources = %+v, %v", latest, err)
	}
	if rules, err := s.FindResources(ctx, cdp.ResourceAlertRule); err != nil || len(rules) != 1 || rules[0].Version != 1 {
		t.Fatalf("alert rules = %+v, %v", rules, err)
	}
	versions, err := s.FindResourceVersions(ctx, cdp.ResourceDestination, "app")
	if err != nil || len(versions) != 2 || versions[0].Version != 1 || versions[1].Version != 2 {
		t.Fatalf("FindResourceVersions = %+v, %v", versions, err)
	}
	_, err = s.FindResourceVersions(ctx, cdp.ResourceAlertChannel, "app")
	wantCode(t, err, cdp.ENOTFOUND)
}
