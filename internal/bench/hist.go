// Package bench is Switchyard's load generator: open-loop (requests leave
// on a fixed schedule whether or not earlier ones returned), with latency
// measured from each request's scheduled send time so that a stalled
// server cannot hide its stall (no coordinated omission).
package bench

import (
	"math/bits"
	"time"
)

// Histogram records durations in microseconds with about 0.2% precision
// (log-linear buckets, like HdrHistogram with three significant digits).
type Histogram struct {
	counts [1024 + 48*512]uint64
	n      uint64
	max    uint64
}

func bucket(v uint64) int {
	if v < 1024 {
		return int(v)
	}
	e := bits.Len64(v) - 10
	return 1024 + (e-1)*512 + int(v>>uint(e)) - 512
}

func bucketValue(i int) uint64 {
	if i < 1024 {
		return uint64(i)
	}
	e := (i-1024)/512 + 1
	m := uint64((i-1024)%512 + 512)
	return m << uint(e)
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	i := bucket(v)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	h.max = max(h.max, v)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Quantile returns the duration at or below which a fraction q of the
// recordings fall.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}
