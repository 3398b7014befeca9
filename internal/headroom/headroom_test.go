package headroom

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestPercentileFindsTheBucket(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-3, 1, 1e300}
	cases := []struct {
		counts []uint64
		want   time.Duration
	}{
		{[]uint64{0, 0, 0, 0}, 0},
		{[]uint64{100, 0, 0, 0}, time.Microsecond},
		{[]uint64{50, 50, 0, 0}, time.Millisecond},
		{[]uint64{89, 0, 11, 0}, time.Second},
		{[]uint64{95, 0, 0, 5}, time.Microsecond},
		{[]uint64{0, 0, 0, 7}, time.Second}, // open-ended: its lower bound
	}
	for _, c := range cases {
		var total uint64
		for _, n := range c.counts {
			total += n
		}
		if got := percentile(c.counts, buckets, total, 0.9); got != c.want {
			t.Errorf("%v: %v, want %v", c.counts, got, c.want)
		}
	}
}

// With more busy goroutines than threads, ready goroutines wait for a
// thread about as long as the scheduler's time slice and no CPU time is
// left unused: busy. Asleep, the process is not, however late its rare
// wake-ups are.
func TestBusyWhenTheCoresAreSaturated(t *testing.T) {
	g := New()
	time.Sleep(50 * time.Millisecond)
	if delay, idle := g.Look(); busy(delay, idle) || idle < 0.5 {
		t.Fatalf("asleep: delay %v, idle %.2f", delay, idle)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < 1e5; i++ {
					_ = i * i
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	delay, idle := g.Look()
	close(stop)
	wg.Wait()
	if !busy(delay, idle) {
		t.Fatalf("saturated: delay %v, idle %.2f", delay, idle)
	}
}

func TestBusyNeedsBoth(t *testing.T) {
	for _, c := range []struct {
		delay time.Duration
		idle  float64
		want  bool
	}{
		{time.Millisecond, 0.05, true},
		{time.Millisecond, 0.9, false},    // a sleepy process's slow wake-ups
		{50 * time.Microsecond, 0, false}, // fully used, nobody kept waiting
		{Late, 0, false},
	} {
		if got := busy(c.delay, c.idle); got != c.want {
			t.Errorf("busy(%v, %.2f) = %v", c.delay, c.idle, got)
		}
	}
}
