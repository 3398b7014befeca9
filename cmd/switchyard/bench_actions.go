package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
)

// actionSink is the local HTTP server the actions benchmark's workflow
// delivers to: it records when each event's action arrived.
type actionSink struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	seen map[string]time.Time // event key → first arrival
	n    int
}

func startSink() (*actionSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &actionSink{url: "http://" + ln.Addr().String(), seen: map[string]time.Time{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var e struct {
			Properties struct{ K string } `json:"properties"`
		}
		_ = json.Unmarshal(body, &e)
		s.mu.Lock()
		s.n++
		if _, ok := s.seen[e.Properties.K]; !ok && e.Properties.K != "" {
			s.seen[e.Properties.K] = now
		}
		s.mu.Unlock()
	})}
	go s.srv.Serve(ln)
	return s, nil
}

// actionsConfig writes the spawned server's configuration: a webhook
// destination at the sink and a workflow that forwards every page view.
func actionsConfig(dir, sinkURL string) (string, error) {
	path := filepath.Join(dir, "bench-actions.yaml")
	cfg := fmt.Sprintf(`log: { level: warn }
destinations:
  - { id: sink, kind: webhook, url: %q, allow_private_network: true, signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
workflows:
  - id: deliver
    trigger: { types: [page-view] }
    steps: [ { id: send, action: webhook.send, destination: sink } ]
`, sinkURL+"/in")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// actionsLoad sends single page views whose key identifies the request,
// and records each acknowledgement's time for the latency to the sink.
func actionsLoad(l *bench.Load, t *target, acks *sync.Map) {
	l.URL = t.url + "/track"
	run := runSeq.Load()
	l.Body = func(i int) []byte {
		return fmt.Appendf(nil, `{"source":{"id":"default"},"session":{"id":"bench-%d"},"events":[{"type":"page-view","properties":{"k":"%d-%d"}}]}`,
			i%1000, run, i)
	}
	l.OnReply = func(i int, at time.Time) { acks.Store(fmt.Sprintf("%d-%d", run, i), at) }
}

// report waits up to 30 s for the sink to receive every acknowledged
// event's action, then prints the delivery rate and ack → action latency.
func (s *actionSink) report(w io.Writer, acks *sync.Map, elapsed time.Duration) {
	want := 0
	acks.Range(func(any, any) bool { want++; return true })
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := 0
		acks.Range(func(k, _ any) bool {
			if _, ok := s.seen[k.(string)]; ok {
				got++
			}
			return true
		})
		s.mu.Unlock()
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var h bench.Histogram
	var first, last time.Time
	delivered := 0
	s.mu.Lock()
	acks.Range(func(k, v any) bool {
		if at, ok := s.seen[k.(string)]; ok {
			delivered++
			h.Record(max(at.Sub(v.(time.Time)), 0))
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		return true
	})
	s.mu.Unlock()
	rate := 0.0
	if span := last.Sub(first); span > 0 {
		rate = float64(delivered) / span.Seconds()
	}
	fmt.Fprintf(w, "  actions: %d of %d acknowledged events delivered to the sink (%.0f/s while delivering, %v of load); ack → action request p50 %s, p99 %s, max %s\n",
		delivered, want, rate, elapsed.Round(time.Second), ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max()))
}
