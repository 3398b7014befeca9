package storetest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Workflow versions append; a version that does not follow the latest is
// refused, so of two concurrent saves exactly one wins; old versions stay
// readable after a deletion (runs still use them).
func testWorkflows(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	v := func(id string, n int, def string) *cdp.WorkflowVersion {
		return &cdp.WorkflowVersion{ID: id, Version: n, Definition: json.RawMessage(def), CreatedAt: t0}
	}
	_, err := s.FindWorkflowVersions(ctx, "welcome")
	wantCode(t, err, cdp.ENOTFOUND)
	wantCode(t, s.SaveWorkflow(ctx, v("welcome", 2, `{}`)), cdp.ECONFLICT)
	if err := s.SaveWorkflow(ctx, v("welcome", 1, `{"id":"welcome","name":"one"}`)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.SaveWorkflow(ctx, v("welcome", 1, `{}`)), cdp.ECONFLICT)
	if err := s.SaveWorkflow(ctx, v("other", 1, `{"id":"other"}`)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.SaveWorkflow(ctx, v("welcome", 2, `{"id":"welcome","name":"two"}`)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			wantCode(t, err, cdp.ECONFLICT)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent saves of version 2 succeeded", won)
	}
	del := v("welcome", 3, `{"id":"welcome"}`)
	del.Deleted = true
	if err := s.SaveWorkflow(ctx, del); err != nil {
		t.Fatal(err)
	}
	latest, err := s.FindWorkflows(ctx)
	if err != nil || len(latest) != 2 || latest[0].ID != "other" || latest[1].ID != "welcome" || latest[1].Version != 3 || !latest[1].Deleted {
		t.Fatalf("FindWorkflows = %+v, %v", latest, err)
	}
	all, err := s.FindWorkflowVersions(ctx, "welcome")
	if err != nil || len(all) != 3 || all[0].Version != 1 || all[2].Version != 3 {
		t.Fatalf("FindWorkflowVersions = %+v, %v", all, err)
	}
	one, err := s.FindWorkflowVersion(ctx, "welcome", 1)
	if err != nil || string(one.Definition) != `{"id":"welcome","name":"one"}` || !one.CreatedAt.Equal(t0) || one.Deleted {
		t.Fatalf("FindWorkflowVersion = %+v, %v", one, err)
	}
	_, err = s.FindWorkflowVersion(ctx, "welcome", 9)
	wantCode(t, err, cdp.ENOTFOUND)
}
