package breaker

import (
	"math"
	"time"

	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Attempt statistics per destination, kept by each node for the attempts
// it made: a minute-by-minute ring over the last hour, each minute with a
// latency histogram whose buckets grow by 2^¼ from 1 ms (to about a
// minute), so a percentile is exact to within 19 %.
const (
	ringMinutes = 60
	buckets     = 64
)

type minute struct {
	at        int64 // Unix minute
	attempts  int
	succeeded int
	latency   [buckets]int
}

type series struct{ ring [ringMinutes]minute }

func (b *Breakers) seriesLocked(id string) *series {
	s, ok := b.stats[id]
	if !ok {
		s = &series{}
		b.stats[id] = s
	}
	return s
}

func (s *series) add(now time.Time, a *httpclient.Attempt) {
	m := now.Unix() / 60
	slot := &s.ring[m%ringMinutes]
	if slot.at != m {
		*slot = minute{at: m}
	}
	slot.attempts++
	if a.Class == httpclient.Succeeded {
		slot.succeeded++
	}
	slot.latency[bucket(time.Duration(a.DurationMS*float64(time.Millisecond)))]++
}

func bucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 1 {
		return 0
	}
	return min(buckets-1, int(math.Ceil(4*math.Log2(ms))))
}

// upper is the upper bound of a bucket.
func upper(i int) time.Duration {
	return time.Duration(math.Pow(2, float64(i)/4) * float64(time.Millisecond))
}

// Window is what a node saw of a destination over a span of time.
type Window struct {
	Attempts  int `json:"attempts"`
	Succeeded int `json:"succeeded"`
	// SuccessRatio is Succeeded/Attempts (1 without attempts).
	SuccessRatio float64 `json:"success_ratio"`
	P50MS        float64 `json:"latency_p50_ms"`
	P99MS        float64 `json:"latency_p99_ms"`
}

// Health is a destination's attempt statistics on this node.
type Health struct {
	Last5m Window `json:"last_5m"`
	Last1h Window `json:"last_1h"`
}

// Health returns the destination's statistics on this node.
func (b *Breakers) Health(id string) Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.stats[id]
	if !ok {
		return Health{Last5m: Window{SuccessRatio: 1}, Last1h: Window{SuccessRatio: 1}}
	}
	now := b.now().Unix() / 60
	return Health{Last5m: s.window(now, 5), Last1h: s.window(now, ringMinutes)}
}

func (s *series) window(now int64, minutes int64) Window {
	var w Window
	var hist [buckets]int
	for _, m := range s.ring {
		if m.at > now-minutes && m.at <= now {
			w.Attempts += m.attempts
			w.Succeeded += m.succeeded
			for i, n := range m.latency {
				hist[i] += n
			}
		}
	}
	w.SuccessRatio = 1
	if w.Attempts > 0 {
		w.SuccessRatio = float64(w.Succeeded) / float64(w.Attempts)
		w.P50MS, w.P99MS = percentile(hist, w.Attempts, 0.50), percentile(hist, w.Attempts, 0.99)
	}
	return w
}

func percentile(hist [buckets]int, total int, q float64) float64 {
	rank := int(math.Ceil(q * float64(total)))
	seen := 0
	for i, n := range hist {
		if seen += n; seen >= rank {
			return float64(upper(i)) / float64(time.Millisecond)
		}
	}
	return float64(upper(buckets-1)) / float64(time.Millisecond)
}
