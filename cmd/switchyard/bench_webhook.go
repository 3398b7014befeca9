package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
	"github.com/switchyardhq/switchyard/internal/hooks"
)

// runSeq numbers the runs of this process, so that a run's webhook
// event ids are unique and derivable from the request index.
var runSeq atomic.Int64

func reportID(run int64, i int) string { return fmt.Sprintf("bench-%d-%d", run, i) }

// webhookLoad is the cio-webhook payload: Customer.io email_delivered
// reports with unique event ids, signed as Customer.io signs them.
func webhookLoad(l *bench.Load, f *benchFlags, t *target) {
	l.URL = t.url + "/webhooks/" + t.hookSource
	key := t.signingKey
	l.Body = func(i int) []byte {
		u := i % max(f.sessions, 1)
		return fmt.Appendf(nil, `{"event_id":%q,"object_type":"email","metric":"delivered","timestamp":%d,"data":{"action_id":42,`+
			`"campaign_id":23,"customer_id":"u%d","delivery_id":"RPILAgUBcRhIBqSf-%d","identifiers":{"id":"u%d","email":"u%d@example.com"},`+
			`"recipient":"u%d@example.com","subject":"Thanks for signing up"}}`, reportID(runSeq.Load(), i), time.Now().Unix(), u, i, u, u, u)
	}
	l.Headers = func(i int, body []byte) []string {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return []string{hooks.HeaderCIOTimestamp + ": " + ts, hooks.HeaderCIOSignature + ": " + hooks.SignCustomerIO(key, ts, body)}
	}
}

// createHookSource gives a spawned server a customerio_webhook source to
// load, through its management API (loopback needs no token).
func createHookSource(ctx context.Context, t *target) error {
	t.hookSource, t.signingKey = "bench-reports", "bench-signing-key-"+strconv.FormatInt(time.Now().UnixNano(), 36)
	src := map[string]any{"id": t.hookSource, "kind": "customerio_webhook", "signing_key": t.signingKey, "enabled": true}
	if err := adminCall(ctx, t, http.MethodPost, "/admin/v1/sources", src, http.StatusCreated); err != nil {
		return fmt.Errorf("bench: create the webhook source: %w", err)
	}
	return nil
}

// tailProbe measures how long after its ack each event shows on the live
// tail: it follows /admin/v1/tail for the run's source and matches events
// by message id (the report's event_id) with the ack times the load
// generator records.
type tailProbe struct {
	run    int64
	mu     sync.Mutex
	acked  map[string]time.Time
	seen   map[string]time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

func startTailProbe(ctx context.Context, t *target, run int64) (*tailProbe, error) {
	ctx, cancel := context.WithCancel(ctx)
	p := &tailProbe{run: run, acked: map[string]time.Time{}, seen: map[string]time.Time{}, cancel: cancel, done: make(chan struct{})}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url+"/admin/v1/tail?source="+t.hookSource, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("bench: tail answered %d", resp.StatusCode)
	}
	go func() {
		defer close(p.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			now := time.Now()
			var e struct {
				MessageID string `json:"message_id"`
			}
			if json.Unmarshal([]byte(data), &e) == nil {
				p.mu.Lock()
				p.seen[e.MessageID] = now
				p.mu.Unlock()
			}
		}
	}()
	return p, nil
}

func (p *tailProbe) onReply(i int, _, at time.Time) {
	p.mu.Lock()
	p.acked[reportID(p.run, i)] = at
	p.mu.Unlock()
}

// report waits up to 5 s for every acked event to show, then prints the
// ack → tail latencies.
func (p *tailProbe) report(w io.Writer) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		missing := 0
		for id := range p.acked {
			if _, ok := p.seen[id]; !ok {
				missing++
			}
		}
		p.mu.Unlock()
		if missing == 0 {
			break
		}
	}
	p.cancel()
	<-p.done
	var h bench.Histogram
	matched := 0
	for id, ack := range p.acked {
		if at, ok := p.seen[id]; ok {
			matched++
			h.Record(max(at.Sub(ack), 0))
		}
	}
	fmt.Fprintf(w, "  tail: %d of %d acknowledged events seen; ack → tail p50 %s, p99 %s, max %s\n",
		matched, len(p.acked), ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max()))
}
