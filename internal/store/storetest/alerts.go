package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// One alert fires per key at a time, however many nodes try at once; it
// updates at its version only; once resolved, the key may fire again;
// alerts list newest first, by state, in pages.
func testAlerts(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	alert := func(id, key string) *cdp.Alert {
		return &cdp.Alert{ID: id, Key: key, Rule: "r", Kind: "dead_letter", State: cdp.AlertFiring, Summary: "s",
			StartedAt: t0, UpdatedAt: t0, Notifications: []cdp.Notification{}}
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			ok, err := s.InsertAlert(ctx, alert(fmt.Sprintf("a%d", i), "r:w1"))
			if err != nil {
				t.Errorf("insert: %v", err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d firing alerts of one key", won.Load())
	}
	firing, _, err := s.FindAlerts(ctx, cdp.AlertFilter{State: cdp.AlertFiring})
	if err != nil || len(firing) != 1 || firing[0].Version != 1 {
		t.Fatalf("firing: %v %v", firing, err)
	}
	a := firing[0]
	stale := *a
	now := t0.Add(time.Minute)
	a.State, a.ResolvedAt, a.UpdatedAt = cdp.AlertResolved, &now, now
	a.Notifications = append(a.Notifications, cdp.Notification{Channel: "ops", Event: "resolved", At: now, Status: "sent", Attempts: 1})
	if err := s.UpdateAlert(ctx, a); err != nil || a.Version != 2 {
		t.Fatalf("resolve: %v (version %d)", err, a.Version)
	}
	wantCode(t, s.UpdateAlert(ctx, &stale), cdp.ECONFLICT)
	if ok, err := s.InsertAlert(ctx, alert("b1", "r:w1")); err != nil || !ok {
		t.Fatalf("a resolved key fires again: %v %v", ok, err)
	}
	if ok, err := s.InsertAlert(ctx, alert("b2", "r:w2")); err != nil || !ok {
		t.Fatalf("another key: %v %v", ok, err)
	}
	page, cursor, err := s.FindAlerts(ctx, cdp.AlertFilter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != "b2" || page[1].ID != "b1" || cursor == "" {
		t.Fatalf("first page: %v %q %v", page, cursor, err)
	}
	rest, cursor, err := s.FindAlerts(ctx, cdp.AlertFilter{Limit: 2, Cursor: cursor})
	if err != nil || len(rest) != 1 || rest[0].State != cdp.AlertResolved || rest[0].ResolvedAt == nil ||
		len(rest[0].Notifications) != 1 || cursor != "" {
		t.Fatalf("second page: %+v %q %v", rest, cursor, err)
	}
	_, _, err = s.FindAlerts(ctx, cdp.AlertFilter{Cursor: "!"})
	wantCode(t, err, cdp.EINVALID)
}

// A backfill's progress commits with the runs it creates; a run is unique
// per workflow, event and backfill, so a page walked again after a crash
// creates nothing twice, while another backfill may run the event again.
func testBackfills(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	b := &cdp.Backfill{ID: "b1", WorkflowID: "w", WorkflowVersion: 1, Status: cdp.BackfillRunning, Since: t0, Selected: 2,
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.InsertBackfill(ctx, b); err != nil || b.Version != 1 {
		t.Fatalf("insert: %v %d", err, b.Version)
	}
	wantCode(t, s.InsertBackfill(ctx, &cdp.Backfill{ID: "b1", WorkflowID: "w", CreatedAt: t0, UpdatedAt: t0}), cdp.ECONFLICT)
	run := func(id, backfill string) *cdp.Run {
		return &cdp.Run{ID: id, WorkflowID: "w", EventID: "e1", Status: cdp.RunPending, BackfillID: backfill, CreatedAt: t0, UpdatedAt: t0}
	}
	created := 0
	for range 2 { // the same page twice
		update(t, s, func(ctx context.Context, tx cdp.Tx) error {
			cur, _, err := s.FindBackfills(ctx, cdp.BackfillFilter{ID: "b1"})
			if err != nil {
				return err
			}
			ok, err := tx.InsertRun(ctx, run(cdp.NewID(), "b1"))
			if err != nil {
				return err
			}
			if ok {
				created++
				cur[0].RunsCreated++
			}
			cur[0].Processed, cur[0].Cursor = 1, "c1"
			return tx.UpdateBackfill(ctx, cur[0])
		})
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if ok, err := tx.InsertRun(ctx, run("live", "")); err != nil || !ok {
			return fmt.Errorf("the event's own run: %v %v", ok, err)
		}
		if ok, err := tx.InsertRun(ctx, run("b2run", "b2")); err != nil || !ok {
			return fmt.Errorf("another backfill's run: %v %v", ok, err)
		}
		return nil
	})
	got, _, err := s.FindBackfills(ctx, cdp.BackfillFilter{Status: cdp.BackfillRunning})
	if err != nil || len(got) != 1 || got[0].RunsCreated != 1 || got[0].Cursor != "c1" || got[0].Version != 3 || created != 1 {
		t.Fatalf("backfill %+v %v (created %d)", got, err, created)
	}
	if r, err := s.FindRunByID(ctx, "b2run"); err != nil || r.BackfillID != "b2" {
		t.Fatalf("run %+v %v", r, err)
	}
	stale := *got[0]
	got[0].Status, got[0].UpdatedAt = cdp.BackfillDone, t0.Add(time.Minute)
	if err := s.UpdateBackfill(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateBackfill(ctx, &stale), cdp.ECONFLICT)
}
