package bench

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 99900 * time.Microsecond}, {1, 100 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if diff := got - tc.want; diff < -tc.want/200 || diff > tc.want/200 {
			t.Errorf("Quantile(%v)=%v, want %v within 0.5%%", tc.q, got, tc.want)
		}
	}
	if h.Max() != 100*time.Millisecond || h.Count() != 100000 {
		t.Fatalf("Max=%v Count=%d", h.Max(), h.Count())
	}
	var small Histogram
	small.Record(3 * time.Microsecond)
	if small.Quantile(0.5) != 3*time.Microsecond {
		t.Fatalf("exact below 1ms: %v", small.Quantile(0.5))
	}
	for v := uint64(0); v < 1<<40; v = v*3 + 1 {
		if b := bucketValue(bucket(v)); b > v || v-b > v/256 {
			t.Fatalf("bucket of %d starts at %d", v, b)
		}
	}
}
