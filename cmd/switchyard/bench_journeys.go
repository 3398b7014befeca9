package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
)

// The journeys payload measures ingest beside runs waiting at a wait_for:
// --waiting people first start a journey (a "Cart Updated" each, in Data
// Pipelines batches) and every run parks; then the load sends single Data
// Pipelines track calls of which --wake-share are the "Order Completed"
// of a waiting person's cart (each person once), the rest page views of
// others. The sink records when each woken run's next step arrives: the
// wake latency, from the order's acknowledgement. (Data Pipelines rather
// than /track: waking needs the same person, whom a tracker's profile id,
// assigned by the server, would not name.)

// journeysConfig writes the spawned server's configuration: the journey,
// whose next step after the wait delivers the waking event's key, or on a
// timeout the cart's (a reminder). The waits time out in 24 h, or all at
// due when it is set. With direct (the reference, nothing waiting) a
// workflow without a wait delivers each order instead, so the reference
// does the same deliveries as the journeys, only not by waking runs.
func journeysConfig(dir, sinkURL string, due time.Time, direct bool) (string, error) {
	path := filepath.Join(dir, "bench-journeys.yaml")
	timeout := "duration('24h')"
	if !due.IsZero() {
		timeout = fmt.Sprintf("timestamp('%s')", due.UTC().Format(time.RFC3339Nano))
	}
	cfg := fmt.Sprintf(`log: { level: warn }
destinations: [ { id: sink0, kind: webhook, url: %q, allow_private_network: true } ]
workflows:
  - id: journey
    trigger: { types: ["Cart Updated"] }
    steps:
      - id: ordered
        wait_for:
          event: "event.type == 'Order Completed'"
          match: "event.properties.cart == trigger.properties.cart"
          timeout: %q
      - id: thank
        action: webhook.send
        destination: sink0
        with: { body: "{'properties': {'k': steps.ordered.output.matched ? steps.ordered.output.event.properties.k : trigger.properties.cart}}" }
`, sinkURL+"/in/0", timeout)
	if direct {
		cfg += `  - id: direct
    trigger: { types: ["Order Completed"] }
    steps: [ { id: thank, action: webhook.send, destination: sink0, with: { body: "{'properties': {'k': event.properties.k}}" } } ]
`
	}
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// seedWaits starts n journeys and waits until every run waits. With due
// set, the waits must not fall due before the measured load: the seeding
// fails as soon as that is certain.
func seedWaits(ctx context.Context, w io.Writer, t *target, n int, due time.Time, warmup time.Duration) error {
	tooLate := func() error {
		return fmt.Errorf("bench: the waits fall due %v after the seeding, before the measured load: raise --due-in", time.Until(due).Round(time.Second))
	}
	if n <= 0 || t.cmd == nil {
		return nil
	}
	start := time.Now()
	err := postBatches(ctx, t, n, func(from, to int) []byte {
		b := []byte(`{"batch":[`)
		for j := from; j < to; j++ {
			if j > from {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"type":"track","messageId":"cart-%d","userId":"w%d","event":"Cart Updated","properties":{"cart":"c%d"}}`, j, j, j)
		}
		return append(b, `]}`...)
	})
	if err != nil {
		return err
	}
	for {
		m, err := scrape(ctx, t.url+"/metrics")
		if err != nil {
			return err
		}
		if waiting := m[`switchyard_runs_waiting{step="ordered",workflow="journey"}`]; waiting >= float64(n) {
			fmt.Fprintf(w, "  %s: %d runs waiting after %.0f s (peak RSS while seeding %d MB; the table's peak is the load's)\n",
				t.name, n, time.Since(start).Seconds(), t.rssMB())
			settle(ctx, w, t)
			t.emptyBytes = t.diskBytes(ctx)
			t.resetPeakRSS()
			if !due.IsZero() && time.Until(due) < warmup {
				return tooLate()
			}
			return nil
		}
		if !due.IsZero() && time.Until(due) < warmup {
			return tooLate()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// settle waits, up to two minutes, until the child's resident memory has
// stopped falling (by less than 2 MB over 15 s), so that the load starts
// on a server that is done handing back what the seeding used. It does
// not wait out everything: memory can still fall later, which is why the
// load's own memory is sampled (sampleRSS) rather than read from the
// high-water mark.
func settle(ctx context.Context, w io.Writer, t *target) {
	start, rss := time.Now(), []int{t.nowRSSMB()}
	for time.Since(start) < 2*time.Minute && ctx.Err() == nil {
		time.Sleep(5 * time.Second)
		rss = append(rss, t.nowRSSMB())
		if n := len(rss); n > 3 && rss[n-4]-rss[n-1] < 2 {
			break
		}
	}
	fmt.Fprintf(w, "  %s: resident memory settled from %d to %d MB in %.0f s\n", t.name, rss[0], rss[len(rss)-1], time.Since(start).Seconds())
}

// woken numbers the waiting people the load has woken, across runs.
var woken atomic.Int64

// journeysLoad sends single track calls: share of them the order of a
// waiting person's cart (while any is left), whose acknowledgement times
// it records by key; the rest page views. With sink set it keeps every
// reply's latency there, for reportTimeouts.
func journeysLoad(l *bench.Load, t *target, acks *sync.Map, waiting int, share float64, sink *actionSink) {
	l.URL = t.url + "/v1/track"
	l.Header = []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(t.writeKey+":"))}
	run := runSeq.Load()
	every := max(int(1/max(share, 0.001)+0.5), 1)
	wakes := sync.Map{} // request index → key, for the requests that wake a run
	l.Body = func(i int) []byte {
		key := fmt.Sprintf("%d-%d", run, i)
		if share > 0 && i%every == 0 {
			// With none waiting (the reference) the orders still go, to a
			// workflow that delivers them directly.
			if p := int(woken.Add(1) - 1); p < waiting || waiting == 0 {
				wakes.Store(i, key)
				return fmt.Appendf(nil, `{"type":"track","messageId":"order-%s","userId":"w%d","event":"Order Completed","properties":{"cart":"c%d","k":%q}}`, key, p, p, key)
			}
		}
		return fmt.Appendf(nil, `{"type":"track","messageId":"page-%s","userId":"o%d","event":"Page Viewed","properties":{"k":%q}}`, key, i%10000, key)
	}
	l.OnReply = func(i int, scheduled, at time.Time) {
		if key, ok := wakes.Load(i); ok {
			acks.Store(key, at)
		}
		if sink != nil {
			sink.mu.Lock()
			sink.replies = append(sink.replies, reply{scheduled, at.Sub(scheduled)})
			sink.mu.Unlock()
		}
	}
}

// reportTimeouts waits up to two minutes after due for the reminders of
// the waiting runs (keys c0 … c<waiting-1>) to reach the sink, and prints
// how many came and how long after due the last one did, and the ingest
// latency of the requests due before the waits fell due beside that of
// those due while the timeouts drained (the same run, the same server).
func (s *actionSink) reportTimeouts(w io.Writer, waiting int, due time.Time) {
	count := func() (n int, last time.Time) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range waiting {
			if at, ok := s.seen[fmt.Sprintf("c%d/in/0", i)]; ok {
				n++
				if at.After(last) {
					last = at
				}
			}
		}
		return n, last
	}
	n, last := count()
	for deadline := due.Add(2 * time.Minute); n < waiting && time.Now().Before(deadline); n, last = count() {
		time.Sleep(time.Second)
	}
	fmt.Fprintf(w, "  timeouts: %d of %d runs timed out and delivered their reminder, the last %.1f s after they fell due\n",
		n, waiting, last.Sub(due).Seconds())
	var before, during bench.Histogram
	s.mu.Lock()
	for _, r := range s.replies {
		switch {
		case r.scheduled.Before(due):
			before.Record(r.latency)
		case r.scheduled.Before(last):
			during.Record(r.latency)
		}
	}
	s.replies = nil
	s.mu.Unlock()
	if before.Count() > 0 && during.Count() > 0 {
		fmt.Fprintf(w, "  ingest before they fell due: %d requests, p50 %s, p99 %s; while they drained: %d requests, p50 %s, p99 %s (%.2f× before)\n",
			before.Count(), ms(before.Quantile(0.5)), ms(before.Quantile(0.99)), during.Count(), ms(during.Quantile(0.5)), ms(during.Quantile(0.99)),
			float64(during.Quantile(0.99))/float64(max(before.Quantile(0.99), time.Microsecond)))
	}
}
