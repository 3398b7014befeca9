package storetest

import (
	"context"
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
