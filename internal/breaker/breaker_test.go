package breaker

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// clock is a settable time shared by the nodes of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// nodes opens n Breakers over one bucket of a real (embedded) NATS, as n
// nodes of a cluster see it.
func nodes(t *testing.T, c *clock, n int) []*Breakers {
	t.Helper()
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var out []*Breakers
	for range n {
		kv, err := l.KeyValue(t.Context(), "BREAKERS", 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(t.Context(), kv, c.now, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func attempt(class httpclient.Outcome) *httpclient.Attempt {
	a := &httpclient.Attempt{Class: class}
	a.DurationMS = 20
	if class != httpclient.Succeeded {
		a.Error = "status 503"
	}
	return a
}

var dest = &action.Destination{ID: "cio", Kind: "customerio",
	Breaker: action.Breaker{Failures: 3, Cooldown: 30 * time.Second, MaxCooldown: 50 * time.Second}}

// Consecutive retryable failures open the breaker (a permanent failure,
// which proves the destination answers, resets the count); runs then wait
// until the probe time without an attempt; one probe goes out, its
// failure reopens with the cooldown doubled (capped), its success closes.
func TestOpenProbeClose(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	b := nodes(t, c, 1)[0]
	ctx := context.Background()
	b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	b.Record(ctx, dest, attempt(httpclient.Permanent), false)
	b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	if s := b.Status("cio"); s.State != Closed {
		t.Fatalf("open after 2 consecutive failures: %+v", s)
	}
	b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	s := b.Status("cio")
	if s.State != Open || s.Cooldown != 30*time.Second || !strings.Contains(s.Reason, "3 consecutive failures") {
		t.Fatalf("after 3: %+v", s)
	}
	d := b.Allow(ctx, dest)
	if d.Probe || d.Wait < 30*time.Second || d.Wait > 31*time.Second || !strings.HasPrefix(d.Reason, "destination cio paused") {
		t.Fatalf("while open: %+v", d)
	}

	c.add(30 * time.Second)
	if d := b.Allow(ctx, dest); !d.Probe {
		t.Fatalf("the due probe: %+v", d)
	}
	if d := b.Allow(ctx, dest); d.Probe || d.Wait <= 0 {
		t.Fatalf("a second attempt during the probe: %+v", d)
	}
	if b.Record(ctx, dest, attempt(httpclient.Retryable), true) {
		t.Fatal("a failed probe closed it")
	}
	if s := b.Status("cio"); s.State != Open || s.Cooldown != 50*time.Second {
		t.Fatalf("after a failed probe (cooldown doubled, capped at 50s): %+v", s)
	}

	c.add(50 * time.Second)
	if d := b.Allow(ctx, dest); !d.Probe {
		t.Fatalf("the second probe: %+v", d)
	}
	if !b.Record(ctx, dest, attempt(httpclient.Succeeded), true) {
		t.Fatal("a successful probe did not report closing")
	}
	if s := b.Status("cio"); s.State != Closed {
		t.Fatalf("after a good probe: %+v", s)
	}
	if d := b.Allow(ctx, dest); d.Wait != 0 || d.Probe {
		t.Fatalf("closed: %+v", d)
	}
}

// Two nodes share one breaker: what one opens the other holds, only one
// of them takes the probe, and a pause on one holds attempts on both
// until resumed.
func TestNodesAgree(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	n := nodes(t, c, 2)
	a, b := n[0], n[1]
	ctx := context.Background()
	for range 3 {
		a.Record(ctx, dest, attempt(httpclient.Retryable), false)
	}
	testenv.Eventually(t, "node B to see the breaker open", 5*time.Second, func() bool { return b.Status("cio").State == Open })
	if d := b.Allow(ctx, dest); d.Wait <= 0 {
		t.Fatalf("node B lets an attempt out: %+v", d)
	}
	c.add(time.Minute)
	var probes int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range n {
		for range 5 {
			wg.Go(func() {
				if node.Allow(ctx, dest).Probe {
					mu.Lock()
					probes++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if probes != 1 {
		t.Fatalf("%d probes, want 1", probes)
	}

	if err := b.Pause(ctx, "cio", "paused by an operator"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "node A to see the pause", 5*time.Second, func() bool { return a.Status("cio").State == Paused })
	if d := a.Allow(ctx, dest); d.Wait <= 0 || !strings.Contains(d.Reason, "paused by an operator") {
		t.Fatalf("paused: %+v", d)
	}
	if err := a.Resume(ctx, "cio"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "node B to see the resume", 5*time.Second, func() bool { return b.Status("cio").State == Closed })
}

// A node that took the probe and died does not hold the breaker forever:
// past the probe's lease another node probes.
func TestDeadProberIsReplaced(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	b := nodes(t, c, 1)[0]
	ctx := context.Background()
	for range 3 {
		b.Record(ctx, dest, attempt(httpclient.Retryable), false)
	}
	c.add(30 * time.Second)
	if !b.Allow(ctx, dest).Probe {
		t.Fatal("no probe")
	}
	// The prober never records an outcome.
	c.add(30*time.Second + probeMargin - time.Second)
	if d := b.Allow(ctx, dest); d.Probe {
		t.Fatal("probed again within the lease")
	}
	c.add(2 * time.Second)
	if !b.Allow(ctx, dest).Probe {
		t.Fatal("the probe was not taken over after its lease")
	}
}

// Health counts this node's attempts per window, with latency
// percentiles from the histogram.
func TestHealth(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	b := nodes(t, c, 1)[0]
	ctx := context.Background()
	if h := b.Health("cio"); h.Last5m.Attempts != 0 || h.Last5m.SuccessRatio != 1 {
		t.Fatalf("no attempts: %+v", h)
	}
	for i := range 100 {
		a := attempt(httpclient.Succeeded)
		a.DurationMS = 10
		if i == 99 {
			a = attempt(httpclient.Permanent)
			a.DurationMS = 1000
		}
		b.Record(ctx, dest, a, false)
	}
	c.add(10 * time.Minute)
	b.Record(ctx, dest, attempt(httpclient.Succeeded), false)
	h := b.Health("cio")
	if h.Last5m.Attempts != 1 || h.Last1h.Attempts != 101 || h.Last1h.Succeeded != 100 {
		t.Fatalf("windows: %+v", h)
	}
	if h.Last1h.P50MS < 10 || h.Last1h.P50MS > 12 || h.Last1h.P99MS < 10 || h.Last1h.P99MS > 24 {
		t.Fatalf("latency p50 %v, p99 %v", h.Last1h.P50MS, h.Last1h.P99MS)
	}
	c.add(2 * time.Hour)
	if h := b.Health("cio"); h.Last1h.Attempts != 0 {
		t.Fatalf("an hour later: %+v", h)
	}
}

// A 410 Gone pauses the destination (Standard Webhooks: the receiver asks
// not to be sent to) until an operator resumes it.
func TestGonePauses(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	b := nodes(t, c, 1)[0]
	ctx := context.Background()
	a := attempt(httpclient.Permanent)
	a.Response = &cdp.Captured{Status: http.StatusGone}
	b.Record(ctx, dest, a, false)
	if s := b.Status("cio"); s.State != Paused || !strings.Contains(s.Reason, "410 Gone") {
		t.Fatalf("after a 410: %+v", s)
	}
	if d := b.Allow(ctx, dest); d.Wait <= 0 {
		t.Fatalf("a destination gone lets attempts out: %+v", d)
	}
}
