// Package headroom tells background work whether the process has CPU to
// spare, so that chores which can wait (ending timed-out waits, say) go
// fast on an idle machine and step aside when live traffic needs the
// cores.
//
// It reads two measures over the time since the previous look: from the
// Go runtime, how long goroutines that were ready to run waited for a
// thread (tens of microseconds while there are cores to spare,
// milliseconds once they are saturated, and every request the server
// answers waits as long); from the kernel, how much of the CPU time the
// process could have used (GOMAXPROCS cores) went neither to its threads
// nor to them waiting, runnable, for a core another process held. Both
// are needed: a process that is nearly idle also shows long waits, as
// each of its rare wake-ups must first wake a sleeping thread. The signal reacts within one look, needs no knowledge
// of the work, and counts everything the process does (ingest, the
// store's driver, the runner).
package headroom

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

const schedLatencies = "/sched/latencies:seconds"

// Late is the scheduler delay (90th percentile) above which ready
// goroutines count as waiting for a core. Serving 5,000 requests a
// second on two cores with room to spare it stayed at 60–100 µs; with
// background work on top that doubled the requests' p99, 150 µs to
// milliseconds.
const Late = 100 * time.Microsecond

// Spare is the share of the process's CPU time left unused above which
// it counts as having headroom, whatever the delays: 35–45 % in the
// steady load above, 0–30 % once background work crowded it.
const Spare = 0.35

// Gauge looks at the runtime's measures since its previous look.
type Gauge struct {
	mu     sync.Mutex
	sample []metrics.Sample
	prev   []uint64
	at     time.Time     // the previous look
	used   time.Duration // the process's CPU time and CPU waits then
}

// New returns a gauge whose first look covers the time since New.
func New() *Gauge {
	g := &Gauge{sample: []metrics.Sample{{Name: schedLatencies}}}
	g.Look()
	return g
}

// Look returns, for the time since the previous look, the 90th percentile
// of how long ready goroutines waited to run (0 when none ran) and the
// share of the process's CPU time that went unused, neither run nor
// waited for (1 when it cannot be told).
func (g *Gauge) Look() (delay time.Duration, idle float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cpu, waiting := usage()
	now, used := time.Now(), cpu+waiting
	idle = 1
	if wall := now.Sub(g.at); !g.at.IsZero() && wall > 0 && cpu > 0 {
		idle = min(1, max(0, 1-float64(used-g.used)/(float64(wall)*float64(runtime.GOMAXPROCS(0)))))
	}
	g.at, g.used = now, used
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, idle // a runtime without the metric: no signal, no brake
	}
	h := g.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i, c := range h.Counts {
		if i < len(g.prev) {
			c -= g.prev[i]
		}
		delta[i] = c
		total += c
	}
	g.prev = append(g.prev[:0], h.Counts...)
	return percentile(delta, h.Buckets, total, 0.9), idle
}

// Busy reports whether the process was short of CPU since the previous
// look: ready goroutines waited late for a thread while its threads
// used, or waited for, nearly all the CPU time it could have had.
func (g *Gauge) Busy() bool {
	return busy(g.Look())
}

func busy(delay time.Duration, idle float64) bool {
	return delay > Late && idle < Spare
}

// percentile returns the upper bound of the bucket that holds quantile q
// of counts (bucket i spans buckets[i] to buckets[i+1]).
func percentile(counts []uint64, buckets []float64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > want {
			upper := buckets[i+1]
			if upper > 3600 { // the last bucket is open-ended
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}
