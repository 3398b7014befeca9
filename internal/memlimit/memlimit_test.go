package memlimit

import "testing"

// The limit rises a step per interval of heavy collection, up to four
// times the base, holds in between, and comes back down only after ten
// calm intervals in a row, never under the base.
func TestNext(t *testing.T) {
	g := &Governor{Base: 100, limit: 100}
	steps := []struct {
		share float64
		want  int64
	}{
		{0.30, 125}, {0.50, 156}, {0.15, 156}, {0.40, 195}, {0.40, 243}, {0.40, 303}, {0.40, 378}, {0.40, 400}, {0.40, 400},
	}
	for i, s := range steps {
		if g.limit = g.next(s.share, 1); g.limit != s.want {
			t.Fatalf("step %d (share %.2f): limit %d, want %d", i, s.share, g.limit, s.want)
		}
	}
	for i := range 9 {
		if g.limit = g.next(0.05, 1); g.limit != 400 {
			t.Fatalf("calm interval %d lowered the limit to %d", i+1, g.limit)
		}
	}
	if g.limit = g.next(0.05, 1); g.limit != 320 {
		t.Fatalf("after ten calm intervals: %d, want 320", g.limit)
	}
	g.limit = g.next(0.12, 1) // not calm: the count starts again
	for range 9 {
		g.limit = g.next(0.01, 1)
	}
	if g.limit != 320 {
		t.Fatalf("a busier interval did not restart the count: %d", g.limit)
	}
	for range 100 {
		g.limit = g.next(0.01, 1)
	}
	if g.limit != 100 {
		t.Fatalf("the limit settled at %d, not the base", g.limit)
	}
	if g.next(0, 0) != 100 {
		t.Fatal("an interval without CPU readings moved the limit")
	}
}
