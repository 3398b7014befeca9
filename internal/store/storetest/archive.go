package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// IDAt is an event id made at t, the n-th of its millisecond: for tests
// that need events received at given times.
func IDAt(t time.Time, n int) string {
	id := []byte(cdp.MinIDAt(t))
	id[14] = '7'
	copy(id[24:], fmt.Sprintf("%012x", n))
	return string(id)
}

// Events are scanned by the time their ids were made, in id order, a
// page at a time; an archive's place moves only under its lease, from
// where it stood, and the lease passes to another node once it lapsed.
func testArchive(t *testing.T, s cdp.Store) {
	hour := t0.Truncate(time.Hour)
	at := map[string][]time.Duration{"a": {0, 10 * time.Minute, 59*time.Minute + 59*time.Second}, "b": {time.Hour, 90 * time.Minute}, "c": {2 * time.Hour}}
	want := map[string][]string{}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for name, offsets := range at {
			for i, off := range offsets {
				e := event(IDAt(hour.Add(off), i), "web", "", "view", "", "")
				e.ReceivedAt = hour.Add(off)
				if _, err := tx.InsertEvent(ctx, e); err != nil {
					return err
				}
				want[name] = append(want[name], e.ID)
			}
		}
		return nil
	})
	scan := func(from time.Time, after string, limit int) []string {
		t.Helper()
		evs, err := s.ScanEvents(t.Context(), from, from.Add(time.Hour), after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	first := scan(hour, "", 2)
	rest := scan(hour, first[len(first)-1], 2)
	if fmt.Sprint(append(first, rest...)) != fmt.Sprint(want["a"]) || len(scan(hour, rest[0], 10)) != 0 {
		t.Fatalf("hour a scanned as %v then %v, want %v", first, rest, want["a"])
	}
	if got := scan(hour.Add(time.Hour), "", 10); fmt.Sprint(got) != fmt.Sprint(want["b"]) {
		t.Fatalf("hour b scanned as %v, want %v", got, want["b"])
	}

	ctx, now := t.Context(), time.Now()
	next, ok, err := s.ClaimArchive(ctx, "events", "n1", now, now.Add(30*time.Second))
	if err != nil || !ok || !next.IsZero() {
		t.Fatalf("first claim: %v %v %v", next, ok, err)
	}
	if _, ok, err := s.ClaimArchive(ctx, "events", "n2", now, now.Add(30*time.Second)); err != nil || ok {
		t.Fatalf("a second node claimed a held archive: %v %v", ok, err)
	}
	wantCode(t, s.AdvanceArchive(ctx, "events", "n2", time.Time{}, hour), cdp.ECONFLICT)
	if err := s.AdvanceArchive(ctx, "events", "n1", time.Time{}, hour.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.AdvanceArchive(ctx, "events", "n1", time.Time{}, hour.Add(2*time.Hour)), cdp.ECONFLICT)
	if next, ok, err := s.ClaimArchive(ctx, "events", "n1", now, now.Add(30*time.Second)); err != nil || !ok || !next.Equal(hour.Add(time.Hour)) {
		t.Fatalf("renewed claim: %v %v %v", next, ok, err)
	}
	later := now.Add(31 * time.Second)
	if next, ok, err := s.ClaimArchive(ctx, "events", "n2", later, later.Add(30*time.Second)); err != nil || !ok || !next.Equal(hour.Add(time.Hour)) {
		t.Fatalf("claim after the lease lapsed: %v %v %v", next, ok, err)
	}
	wantCode(t, s.AdvanceArchive(ctx, "events", "n1", hour.Add(time.Hour), hour.Add(2*time.Hour)), cdp.ECONFLICT)
	if err := s.AdvanceArchive(ctx, "events", "n2", hour.Add(time.Hour), hour.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// A run made from an archived event carries the event, and reads back
// with it.
func testRunCarriesEvent(t *testing.T, s cdp.Store) {
	e := event(IDAt(t0, 1), "web", "m1", "order", "", "")
	r := &cdp.Run{ID: "r-archived", WorkflowID: "wf", WorkflowVersion: 1, EventID: e.ID, Status: cdp.RunPending,
		BackfillID: "b1", CreatedAt: t0, UpdatedAt: t0, Event: e}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		_, err := tx.InsertRun(ctx, r)
		return err
	})
	got, err := s.FindRunByID(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Event == nil || got.Event.ID != e.ID || string(got.Event.Properties) != string(e.Properties) {
		t.Fatalf("the run reads back with event %+v", got.Event)
	}
}
