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
// the rate is measured only while there is work waiting, the bound is
// that rate times MaxDelay, small backlogs are never refused, a stalled
// store keeps the last rate, and leaving the overload needs 10 % slack.
func TestBackpressureBound(t *testing.T) {
	b := NewBackpressure(nil, "g", BackpressureOptions{MaxDelay: 10 * time.Second, MaxBytes: 1 << 30, MinBytes: 1000},
		metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	at := time.Unix(0, 0)
	step := func(messages, bytes, acked uint64) (string, bool) {
		t.Helper()
		at = at.Add(time.Second)
		b.observe(cdp.Backlog{Messages: messages, Bytes: bytes, Acked: acked}, at)
		return b.Overloaded()
	}
	// Idle: nothing measured, nothing refused.
	if _, over := step(0, 0, 0); over {
		t.Fatal("refused with an empty backlog")
	}
	// 100 messages/s stored while 50 wait: rate 100, bound 1000 messages.
	step(50, 5000, 0)
	step(50, 5000, 100)
	if got := b.Status().BoundMessages; got != 1000 {
		t.Fatalf("bound %d messages, want 1000 (100/s × 10 s)", got)
	}
	// 1,500 waiting but under MinBytes: a short stall is absorbed.
	if _, over := step(1500, 900, 200); over {
		t.Fatal("refused a backlog under MinBytes")
	}
	// Over the bound and the byte floor: refused, Retry-After is the time
	// to drain the excess at the measured rate.
	retry, over := step(3000, 300000, 300)
	if !over || retry != "20" {
		t.Fatalf("over=%v Retry-After=%q, want refused with 20 s (2,000 excess at 100/s)", over, retry)
	}
	// The store stalls (no progress): the bound stands.
	step(3000, 300000, 300)
	if got := b.Status().BoundMessages; got != 1000 {
		t.Fatalf("bound %d after a stall, want the last measured 1000", got)
	}
	// Just under the bound is not enough to accept again …
	if _, over := step(950, 95000, 400); !over {
		t.Fatal("accepted again within the 10 % hysteresis")
	}
	// … 10 % under is.
	if _, over := step(50, 5000, 500); over {
		t.Fatalf("still refused at 50 messages: %+v", b.Status())
	}
	// MaxBytes caps whatever the rate says.
	b.opts.MaxBytes = 10000
	if _, over := step(60, 20000, 600); !over {
		t.Fatal("not refused over MaxBytes")
	}
}
