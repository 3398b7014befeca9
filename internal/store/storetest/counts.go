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

// Per-minute counts add up across transactions, are read from a time on,
// and are dropped before a time.
func testEventsPerMinute(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	m0, m1 := t0.Truncate(time.Minute), t0.Truncate(time.Minute).Add(time.Minute)
	for range 2 {
		update(t, s, func(ctx context.Context, tx cdp.Tx) error {
			return tx.CountEvents(ctx, []cdp.MinuteCount{{SourceID: "web", Minute: m0, Events: 3}, {SourceID: "cio", Minute: m1, Events: 1}})
		})
	}
	got, err := s.EventsPerMinute(ctx, m0)
	want := []cdp.MinuteCount{{SourceID: "web", Minute: m0, Events: 6}, {SourceID: "cio", Minute: m1, Events: 2}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("EventsPerMinute = %+v, %v; want %+v", got, err, want)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.DeleteEventCountsBefore(ctx, m1) })
	if got, err := s.EventsPerMinute(ctx, m0.Add(-time.Hour)); err != nil || len(got) != 1 || got[0].SourceID != "cio" {
		t.Fatalf("after the purge: %+v, %v", got, err)
	}
}

// A run's lease goes to one owner at a time until it expires or its
// owner releases it; the owner renews it; runs of several owners racing
// for one lease end with one holder.
func testRunLeases(t *testing.T, s cdp.Store) {
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		_, err := tx.InsertRun(ctx, &cdp.Run{ID: "r1", WorkflowID: "w", EventID: "e1", Status: cdp.RunPending, CreatedAt: t0, UpdatedAt: t0})
		return err
	})
	lease := func(owner string, now, until time.Time) (held bool) {
		update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
			held, err = tx.LeaseRun(ctx, "r1", owner, now, until)
			return err
		})
		return held
	}
	if !lease("a", t0, t0.Add(30*time.Second)) {
		t.Fatal("a free run was not leased")
	}
	if lease("b", t0.Add(time.Second), t0.Add(31*time.Second)) {
		t.Fatal("b took a's unexpired lease")
	}
	if !lease("a", t0.Add(10*time.Second), t0.Add(40*time.Second)) {
		t.Fatal("a could not renew its lease")
	}
	if !lease("b", t0.Add(41*time.Second), t0.Add(70*time.Second)) {
		t.Fatal("b could not take an expired lease")
	}
	if !lease("b", t0.Add(42*time.Second), t0.Add(42*time.Second)) || !lease("c", t0.Add(43*time.Second), t0.Add(60*time.Second)) {
		t.Fatal("a released lease was not free")
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if lease(fmt.Sprintf("n%d", i), t0.Add(61*time.Second), t0.Add(90*time.Second)) {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d owners hold the lease", won.Load())
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if held, err := tx.LeaseRun(ctx, "nope", "a", t0, t0); err != nil || held {
			t.Errorf("lease of a missing run: %v %v", held, err)
		}
		return nil
	})
}

// A waiting run names the destination whose breaker holds it: runs are
// found and counted by it, and a run that moves on no longer counts.
func testRunsWaitingOn(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	next := t0.Add(time.Minute)
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i, dest := range []string{"cio", "cio", "hook", ""} {
			r := &cdp.Run{ID: fmt.Sprintf("r%d", i), WorkflowID: "w", EventID: fmt.Sprintf("e%d", i), Status: cdp.RunWaiting,
				NextAt: &next, WaitingOn: dest, CreatedAt: t0, UpdatedAt: t0}
			if _, err := tx.InsertRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	counts, err := s.CountWaitingOn(ctx)
	if err != nil || len(counts) != 2 || counts["cio"] != 2 || counts["hook"] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
	runs, _, err := s.FindRuns(ctx, cdp.RunFilter{Status: cdp.RunWaiting, WaitingOn: "cio"})
	if err != nil || len(runs) != 2 || runs[0].WaitingOn != "cio" {
		t.Fatalf("runs waiting on cio: %v %v", runs, err)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		r, err := tx.Run(ctx, "r0")
		if err != nil {
			return err
		}
		r.Status, r.NextAt, r.WaitingOn = cdp.RunRunning, nil, ""
		return tx.UpdateRun(ctx, r)
	})
	if counts, err := s.CountWaitingOn(ctx); err != nil || counts["cio"] != 1 {
		t.Fatalf("after r0 moved on: %v %v", counts, err)
	}
	if r, err := s.FindRunByID(ctx, "r3"); err != nil || r.WaitingOn != "" {
		t.Fatalf("a run waiting on nothing: %+v %v", r, err)
	}
	// The dead letter by workflow: how many, and the newest.
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i, wf := range []string{"w", "w", "v"} {
			r := &cdp.Run{ID: fmt.Sprintf("f%d", i), WorkflowID: wf, EventID: fmt.Sprintf("fe%d", i), Status: cdp.RunFailed, CreatedAt: t0, UpdatedAt: t0}
			if _, err := tx.InsertRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	dl, err := s.DeadLetters(ctx)
	if err != nil || len(dl) != 2 || dl["w"] != (cdp.DeadLetter{Runs: 2, Newest: "f1"}) || dl["v"].Runs != 1 {
		t.Fatalf("dead letters %v %v", dl, err)
	}
}
