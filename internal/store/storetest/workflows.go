package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

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

// An event reads back as Event.Stored describes it: the workflow engine
// uses that in place of reading a run's event just stored.
func testEventReadsBack(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	zone := time.FixedZone("CET", 3600)
	orig := t0.Add(-time.Minute).In(zone)
	e := &cdp.Event{ID: "ev-full", SourceID: "web", Type: "purchase", MessageID: "m-1", ProfileID: "p1", SessionID: "s1",
		Timestamp: t0.In(zone), OriginalTimestamp: &orig, ReceivedAt: t0.Add(time.Second).In(zone),
		Properties: json.RawMessage(`{"a":1,"b":"x"}`), Context: json.RawMessage(`{"ip":"1.2.3.4"}`),
		Traits: json.RawMessage(`{"plan":"pro"}`), Tags: []string{"t"}, UserID: "u1", AnonymousID: "a1", UserAgent: "ua",
		Identifiers: []cdp.Identifier{{Kind: cdp.IdentifierEmail, Value: "a@b.c"}}, Op: cdp.OpIdentify, RequestID: "req-1", ReplayOf: "orig-1",
		Violations: []cdp.Violation{{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties/a", Message: "got number, want string"}}}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if err := seedProfile(ctx, tx, "p1"); err != nil {
			return err
		}
		_, err := tx.InsertEvent(ctx, e)
		return err
	})
	got, err := s.FindEventByID(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e.Stored())
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Fatalf("read back\n%s\nwant (Event.Stored)\n%s", have, want)
	}
}
