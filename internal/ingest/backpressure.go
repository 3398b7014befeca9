package ingest

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Backpressure decides when the edge refuses new requests: while the event
// log holds more than the store can work through in MaxDelay at the rate
// it was last seen storing, or more than MaxBytes. The rate and the bound
// are in bytes: a log message is a group-committed envelope of one request
// when traffic is light and of hundreds under load, so a rate in messages
// read early in a burst overstated what the later, larger ones drain
// (measured: 400 messages/s at the start, 12 a few seconds later, and a
// backlog bounded at "30 s" took 67 s to store). Acknowledged events are
// never dropped; new ones are refused (503 or 429 with Retry-After, in each
// API's dialect) until the backlog is back under the bound, so a client
// retries later instead of piling up work nobody can do in time.
//
// The backlog is the processor group's on the event log, which every node
// sharing the log sees alike.
type Backpressure struct {
	log     cdp.EventLog
	group   string
	opts    BackpressureOptions
	metrics *metrics.Metrics
	logger  *slog.Logger

	state atomic.Pointer[pressure]
	// Only Run touches these.
	prev     cdp.Backlog
	prevAt   time.Time
	window   time.Time // since when work waited and the group acked nothing
	messages pace      // messages the group stored
	bytes    pace      // and their bytes
	size     float64   // mean bytes of a message this process last acked
}

// BackpressureOptions bound the backlog.
type BackpressureOptions struct {
	// MaxDelay is how long the backlog may take to store at the measured
	// rate (default 30s).
	MaxDelay time.Duration
	// MaxBytes caps the backlog whatever the rate (default 512 MiB).
	MaxBytes uint64
	// MinBytes is a backlog never refused, however slow the store seems
	// (default 8 MiB): a short stall is what the log is there to absorb.
	MinBytes uint64
	// Every is how often the backlog is read (default 250ms).
	Every time.Duration
}

// pressure is the decision Run last took, read by every request.
type pressure struct {
	retryAfter string // "" unless status.Over
	status     BacklogStatus
}

// BacklogStatus is the last reading of the backlog, for readiness.
type BacklogStatus struct {
	Over              bool    `json:"over_bound"`
	Messages          uint64  `json:"messages"`
	Bytes             uint64  `json:"bytes"`
	BoundBytes        uint64  `json:"bound_bytes,omitempty"` // 0 until a rate was measured
	MaxBytes          uint64  `json:"max_bytes"`
	StoredPerSec      float64 `json:"stored_messages_per_second"`
	StoredBytesPerSec float64 `json:"stored_bytes_per_second"`
}

// Status returns the last reading.
func (b *Backpressure) Status() BacklogStatus {
	if b == nil {
		return BacklogStatus{}
	}
	return b.state.Load().status
}

// NewBackpressure returns the guard of group's backlog on log; Run it.
func NewBackpressure(log cdp.EventLog, group string, opts BackpressureOptions, m *metrics.Metrics, logger *slog.Logger) *Backpressure {
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 30 * time.Second
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 512 << 20
	}
	if opts.MinBytes == 0 {
		opts.MinBytes = 8 << 20
	}
	if opts.Every <= 0 {
		opts.Every = 250 * time.Millisecond
	}
	b := &Backpressure{log: log, group: group, opts: opts, metrics: m, logger: logger}
	b.state.Store(&pressure{})
	m.BacklogMaxBytes.Set(float64(opts.MaxBytes))
	return b
}

// Overloaded reports whether new requests must be refused now, and the
// Retry-After (whole seconds) to answer with.
func (b *Backpressure) Overloaded() (retryAfter string, over bool) {
	if b == nil {
		return "", false
	}
	p := b.state.Load()
	return p.retryAfter, p.status.Over
}

// Run reads the backlog every opts.Every until ctx is done.
func (b *Backpressure) Run(ctx context.Context) {
	periodic.Run(ctx, b.opts.Every, func(ctx context.Context) {
		bl, err := b.log.Backlog(ctx, b.group)
		if err != nil {
			return // the log is unreachable: appends fail on their own
		}
		b.observe(bl, time.Now())
	})
}

// observe updates the measured rate and the decision from one reading.
func (b *Backpressure) observe(bl cdp.Backlog, now time.Time) {
	b.measure(bl, now)
	b.prev, b.prevAt = bl, now
	byteRate := b.bytes.rate()
	bound := uint64(math.MaxUint64) // no rate measured yet: MaxBytes alone decides
	if byteRate > 0 {
		bound = uint64(byteRate * b.opts.MaxDelay.Seconds())
	}
	// Hysteresis: once over, stay over until 10 % under, so that the edge
	// does not flap with every reading.
	wasOver := b.state.Load().status.Over
	limit := func(v, max uint64) bool {
		if wasOver {
			return v > max-max/10
		}
		return v > max
	}
	over := bl.Bytes > b.opts.MinBytes && (limit(bl.Bytes, b.opts.MaxBytes) || limit(bl.Bytes, bound))
	retry := ""
	if over {
		wait := time.Second
		if byteRate > 0 && bl.Bytes > bound {
			wait = time.Duration(float64(bl.Bytes-bound) / byteRate * float64(time.Second))
		}
		retry = strconv.Itoa(int(min(max(wait, time.Second), 60*time.Second).Seconds()))
	}
	if over != wasOver {
		b.logger.Warn("event log backlog", "over_bound", over, "messages", bl.Messages, "bytes", bl.Bytes,
			"bound_bytes", bound, "stored_bytes_per_second", int64(byteRate))
	}
	st := BacklogStatus{Over: over, Messages: bl.Messages, Bytes: bl.Bytes, MaxBytes: b.opts.MaxBytes,
		StoredPerSec: math.Round(b.messages.rate()), StoredBytesPerSec: math.Round(byteRate)}
	if bound != math.MaxUint64 {
		st.BoundBytes = bound
		b.metrics.BacklogBound.Set(float64(bound))
	}
	b.state.Store(&pressure{retryAfter: retry, status: st})
	b.metrics.BacklogMessages.Set(float64(bl.Messages))
	b.metrics.BacklogBytes.Set(float64(bl.Bytes))
	b.metrics.BacklogRate.Set(b.messages.rate())
	b.metrics.BacklogByteRate.Set(byteRate)
	if over {
		b.metrics.BacklogOver.Set(1)
	} else {
		b.metrics.BacklogOver.Set(0)
	}
}

// measure adds what the group stored since the last reading to the
// store's pace.
func (b *Backpressure) measure(bl cdp.Backlog, now time.Time) {
	if bl.AckedHere > b.prev.AckedHere && bl.AckedHereBytes >= b.prev.AckedHereBytes {
		// What this process acked is a sample of what the group acked:
		// its mean size turns the group's messages into bytes.
		b.size = float64(bl.AckedHereBytes-b.prev.AckedHereBytes) / float64(bl.AckedHere-b.prev.AckedHere)
	}
	switch {
	case b.prevAt.IsZero() || b.prev.Messages == 0:
		b.window = now // nothing waited: no pace to measure yet
	case bl.Acked > b.prev.Acked:
		// Progress while there was work waiting: what the store can do (or
		// at least what it did), over the readings since the last progress:
		// the processor acks a batch at once, and readings between two
		// batches are part of its pace (counting only those with acks
		// overstated it by half). A longer pause is an outage, not a pace:
		// then the last reading alone counts, and until progress the last
		// rate stands, so a store outage keeps the bound it had.
		window := now.Sub(b.window)
		if window > maxPace {
			window = now.Sub(b.prevAt)
		}
		b.window = now
		size := b.size
		if size == 0 {
			// Nothing acked here yet (other nodes store): the mean
			// message of the backlog stands in.
			size = float64(b.prev.Bytes) / float64(b.prev.Messages)
		}
		acked := float64(bl.Acked - b.prev.Acked)
		b.messages.add(acked, window)
		b.bytes.add(acked*size, window)
	}
}

// maxPace is the longest time between two acks of a working processor
// (one batch); a longer one is a stall.
const maxPace = 10 * time.Second

// pace is a rate over the recent past: amounts and the time they took,
// each fading with age (half-life about paceMemory × 0.7), divided. A ratio
// of sums, not an average of per-reading rates: a batch acked within a
// short reading would otherwise count for more than one over a long one.
type pace struct{ amount, seconds float64 }

const paceMemory = 5 * time.Second

func (p *pace) add(amount float64, took time.Duration) {
	fade := math.Exp(-took.Seconds() / paceMemory.Seconds())
	p.amount = p.amount*fade + amount
	p.seconds = p.seconds*fade + took.Seconds()
}

func (p pace) rate() float64 {
	if p.seconds == 0 {
		return 0
	}
	return p.amount / p.seconds
}
