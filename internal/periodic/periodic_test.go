package periodic

import (
	"context"
	"testing"
	"time"
)

// TestPacedWaitsInProportion checks that Paced leaves, after each call,
// at least the call's duration divided by the share (timers never fire
// early, so the lower bound holds on any machine).
func TestPacedWaitsInProportion(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type call struct{ start, end time.Time }
	var calls []call
	Paced(ctx, time.Millisecond, 0.25, func(context.Context) {
		c := call{start: time.Now()}
		time.Sleep(10 * time.Millisecond)
		c.end = time.Now()
		calls = append(calls, c)
		if len(calls) == 4 {
			cancel()
		}
	})
	if len(calls) != 4 {
		t.Fatalf("calls = %d, want 4 (Paced returns when ctx is done)", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		took := calls[i-1].end.Sub(calls[i-1].start)
		if gap := calls[i].start.Sub(calls[i-1].end); gap < 4*took {
			t.Errorf("gap after call %d = %v, want at least 4 × %v", i, gap, took)
		}
	}
}
