package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
)

// actionSink is the local HTTP server the actions benchmark's workflow
// delivers to: it records when each event's action arrived.
type actionSink struct {
	url    string
	srv    *http.Server
	fanout int // workflows delivering each event, at /in/0 … /in/<fanout-1>
	mu     sync.Mutex
	seen   map[string]time.Time // event key + path → first arrival
	n      int                  // requests received
	// reported and reportedSeen are n and len(seen) at the last report.
	reported, reportedSeen int
	// replies holds, for a journeys load with waits falling due, every
	// reply's latency by the time its request was due.
	replies []reply
}

type reply struct {
	scheduled time.Time
	latency   time.Duration
}

func startSink(fanout int) (*actionSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &actionSink{url: "http://" + ln.Addr().String(), fanout: fanout, seen: map[string]time.Time{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		type event struct {
			Properties struct{ K string } `json:"properties"`
		}
		var events []event
		if len(body) > 0 && body[0] == '[' { // a batch
			_ = json.Unmarshal(body, &events)
		} else {
			var e event
			_ = json.Unmarshal(body, &e)
			events = []event{e}
		}
		s.mu.Lock()
		s.n++
		for _, e := range events {
			if key := e.Properties.K + r.URL.Path; e.Properties.K != "" {
				if _, ok := s.seen[key]; !ok {
					s.seen[key] = now
				}
			}
		}
		s.mu.Unlock()
	})}
	go s.srv.Serve(ln)
	return s, nil
}

// actionsConfig writes the spawned server's configuration: fanout
// webhook destinations at the sink and as many workflows, each of which
// forwards every page view to its own (through a condition that holds, so
// that evaluating one is part of what is measured).
func actionsConfig(dir, sinkURL string, fanout, batch int) (string, error) {
	path := filepath.Join(dir, "bench-actions.yaml")
	var dests, flows strings.Builder
	batching := ""
	if batch > 0 {
		batching = fmt.Sprintf(", batch: { max_items: %d, max_wait: 100ms }", batch)
	}
	for i := range fanout {
		fmt.Fprintf(&dests, "  - { id: sink%d, kind: webhook, url: %q, allow_private_network: true, signing_secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"%s }\n",
			i, fmt.Sprintf("%s/in/%d", sinkURL, i), batching)
		fmt.Fprintf(&flows, "  - { id: deliver%d, trigger: { types: [page-view], if: \"event.type == 'page-view'\" }, steps: [ { id: send, action: webhook.send, destination: sink%d } ] }\n", i, i)
	}
	cfg := "log: { level: warn }\ndestinations:\n" + dests.String() + "workflows:\n" + flows.String()
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
	l.OnReply = func(i int, _, at time.Time) { acks.Store(fmt.Sprintf("%d-%d", run, i), at) }
}

// report waits up to 30 s for the sink to receive every acknowledged
// event's action, then prints the delivery rate, ack → action latency,
// the requests that carried them and the server's CPU per delivery from
// the load's start until then (spent() is the CPU so far).
func (s *actionSink) report(w io.Writer, acks *sync.Map, elapsed time.Duration, spent func() time.Duration) {
	want := 0
	acks.Range(func(any, any) bool { want += s.fanout; return true })
	// each calls fn for every action the acknowledged event k asks for.
	each := func(k string, fn func(at time.Time, ok bool)) {
		for i := range s.fanout {
			at, ok := s.seen[fmt.Sprintf("%s/in/%d", k, i)]
			fn(at, ok)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := 0
		acks.Range(func(k, _ any) bool {
			each(k.(string), func(_ time.Time, ok bool) {
				if ok {
					got++
				}
			})
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
		each(k.(string), func(at time.Time, ok bool) {
			if !ok {
				return
			}
			delivered++
			h.Record(max(at.Sub(v.(time.Time)), 0))
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		})
		return true
	})
	requests, deliveries := s.n-s.reported, len(s.seen)-s.reportedSeen // warm-up's included, as in the CPU
	s.reported, s.reportedSeen = s.n, len(s.seen)
	s.mu.Unlock()
	rate := 0.0
	if span := last.Sub(first); span > 0 {
		rate = float64(delivered) / span.Seconds()
	}
	fmt.Fprintf(w, "  actions: %d of %d asked for by acknowledged events delivered to the sink (%.0f/s while delivering, %v of load); ack → action request p50 %s, p99 %s, max %s\n",
		delivered, want, rate, elapsed.Round(time.Second), ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max()))
	if cpu := spent(); cpu > 0 && deliveries > 0 {
		fmt.Fprintf(w, "  actions: %d deliveries (warm-up included) in %d requests to the sink; server CPU %.0f µs per delivery (ingest, store and delivery, from the warm-up's start to the last delivery)\n",
			deliveries, requests, float64(cpu.Microseconds())/float64(deliveries))
	}
}
