package ingest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

// TestBackpressureBound walks the decision through readings of a backlog:
// the rate is measured only while there is work waiting, in bytes (the
// group's messages times the mean size of those this process acked), the
// bound is that rate times MaxDelay, small backlogs are never refused, a
// stalled store keeps the last rate, and leaving the overload needs 10 %
// slack.
func TestBackpressureBound(t *testing.T) {
	b := NewBackpressure(nil, "g", BackpressureOptions{MaxDelay: 10 * time.Second, MaxBytes: 1 << 30, MinBytes: 1000},
		metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	at := time.Unix(0, 0)
	// step reads a backlog one second after the last; this process acks
	// what the group acks, in messages of size bytes.
	var acked, here, hereBytes uint64
	step := func(messages, bytes, ack, size uint64) (string, bool) {
		t.Helper()
		at = at.Add(time.Second)
		acked, here, hereBytes = acked+ack, here+ack, hereBytes+ack*size
		b.observe(cdp.Backlog{Messages: messages, Bytes: bytes, Acked: acked, AckedHere: here, AckedHereBytes: hereBytes}, at)
		return b.Overloaded()
	}
	wantBound := func(want uint64) {
		t.Helper()
		if got := b.Status().BoundBytes; got != want {
			t.Fatalf("bound %d bytes, want %d", got, want)
		}
	}
	// Idle: nothing measured, nothing refused.
	if _, over := step(0, 0, 0, 0); over {
		t.Fatal("refused with an empty backlog")
	}
	// 100 messages of 100 bytes stored in a second while 50 waited: rate
	// 10,000 B/s, bound 100,000 bytes.
	step(50, 5000, 0, 0)
	step(50, 5000, 100, 100)
	wantBound(100_000)
	// 1,500 waiting but under MinBytes: a short stall is absorbed.
	if _, over := step(1500, 900, 100, 100); over {
		t.Fatal("refused a backlog under MinBytes")
	}
	// The processor acks a batch at once: 200 messages every other
	// reading is 100 a second, not 200.
	step(50, 5000, 0, 0)
	step(50, 5000, 200, 100)
	wantBound(100_000)
	// Messages grow tenfold (envelopes fill under load): ten a second
	// now store the same bytes, and a backlog of 200 such messages is
	// over the bound though the store was measured doing 1,000 messages
	// in 10 s. Retry-After is the time the excess takes to store.
	retry, over := step(200, 200_000, 10, 1000)
	if !over || retry != "10" {
		t.Fatalf("over=%v Retry-After=%q, want refused with 10 s (100,000 excess bytes at 10,000/s): %+v", over, retry, b.Status())
	}
	wantBound(100_000)
	// The store stalls (no progress): the bound stands.
	step(200, 200_000, 0, 0)
	wantBound(100_000)
	// Just under the bound is not enough to accept again (10 acks over
	// the two readings since the last: the bound eases) …
	if _, over := step(95, 95_000, 10, 1000); !over {
		t.Fatalf("accepted again within the 10 %% hysteresis: %+v", b.Status())
	}
	// … 10 % under is.
	if _, over := step(5, 5000, 10, 1000); over {
		t.Fatalf("still refused at 5,000 bytes: %+v", b.Status())
	}
	// An outage (no progress for longer than a batch can take) is not
	// the store's pace: the reading after it counts alone.
	for range 12 {
		step(60, 60_000, 0, 0)
	}
	step(60, 60_000, 10, 1000)
	if got := b.Status().BoundBytes; got < 80_000 {
		t.Fatalf("bound %d bytes after an outage, want 80,000–100,000 (the outage counted as pace: ~10,000)", got)
	}
	// MaxBytes caps whatever the rate says.
	b.opts.MaxBytes = 10000
	if _, over := step(60, 20000, 10, 1000); !over {
		t.Fatal("not refused over MaxBytes")
	}
}

// TestBackpressureOtherNodes: a process whose processor acked nothing
// (the other nodes store) sizes the group's messages by the backlog's
// mean.
func TestBackpressureOtherNodes(t *testing.T) {
	b := NewBackpressure(nil, "g", BackpressureOptions{MaxDelay: 10 * time.Second, MaxBytes: 1 << 30, MinBytes: 1000},
		metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	at := time.Unix(0, 0)
	b.observe(cdp.Backlog{Messages: 50, Bytes: 50_000, Acked: 0}, at)
	b.observe(cdp.Backlog{Messages: 50, Bytes: 50_000, Acked: 20}, at.Add(time.Second))
	if got := b.Status().BoundBytes; got != 200_000 {
		t.Fatalf("bound %d bytes, want 200,000 (20 messages/s × 1,000 B × 10 s)", got)
	}
}
