package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Load describes one open-loop run.
type Load struct {
	URL string
	// More holds the URLs of further servers behind the same name, as a
	// load balancer would spread requests: request i goes to the i-th of
	// URL and More, round robin, each server with its own connections.
	More        []string
	Rate        float64       // requests per second
	Duration    time.Duration // measured part
	Warmup      time.Duration // sent at Rate before measuring, not recorded
	Connections int           // keep-alive connections (and concurrent requests)
	// Body returns the body of the i-th request.
	Body        func(i int) []byte
	ContentType string
	// Header holds extra request header lines ("Name: value").
	Header []string
	// Path, if set, gives the i-th request's path (default: URL's path).
	Path func(i int) string
	// Headers, if set, gives header lines of the i-th request that depend
	// on its body (a signature).
	Headers func(i int, body []byte) []string
	// OnReply, if set, is called with each measured 2xx reply's time and
	// the time the request was due to be sent.
	OnReply func(i int, scheduled, at time.Time)
	// Closed makes the run closed-loop, as wrk is: every connection sends
	// its next request as soon as the last one is answered, for Warmup +
	// Duration, and Rate is ignored. Latency is then from each send, so a
	// stalled server slows the load instead of showing in the tail; what a
	// closed loop measures is the throughput at that concurrency.
	Closed bool
}

// Result is what a run measured.
type Result struct {
	Latency   Histogram
	Sent      int           // requests scheduled in the measured part
	OK        int           // 2xx
	Non2xx    int           // other statuses
	Errors    int           // transport errors and timeouts
	Elapsed   time.Duration // from the first scheduled send to the last reply
	FirstCode int           // status of the first non-2xx, for diagnosis
	FirstErr  error
}

// Throughput is the 2xx rate achieved.
func (r *Result) Throughput() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// ErrorRate is the fraction of requests that did not get a 2xx.
func (r *Result) ErrorRate() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Non2xx+r.Errors) / float64(r.Sent)
}

// pool hands out connections most-recently-used first, as net/http's
// idle pool does: at moderate load a few hot connections carry the
// requests, which costs the kernel far less than spreading them thin.
type pool struct {
	mu     sync.Mutex
	idle   []*conn
	slots  chan struct{} // one per connection that may exist
	url    string
	ctype  string
	header []string
}

func (p *pool) get() *conn {
	p.slots <- struct{}{}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c
	}
	c, _ := newConn(p.url, p.ctype, p.header) // the URL was checked by Run
	return c
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	<-p.slots
}

func (p *pool) close() {
	for _, c := range p.idle {
		c.close()
	}
}

// Run sends the load and returns what it measured. Requests are scheduled
// at fixed intervals from the start; a request that waits for a free
// connection counts that wait as latency.
func Run(ctx context.Context, l Load) (*Result, error) {
	if (l.Rate <= 0 && !l.Closed) || l.Connections <= 0 {
		return nil, fmt.Errorf("bench: rate and connections must be positive")
	}
	var pools []*pool
	for _, u := range append([]string{l.URL}, l.More...) {
		if _, err := newConn(u, l.ContentType, l.Header); err != nil {
			return nil, err
		}
		p := &pool{slots: make(chan struct{}, max(l.Connections/(1+len(l.More)), 1)), url: u, ctype: l.ContentType, header: l.Header}
		defer p.close()
		pools = append(pools, p)
	}
	total := int(l.Rate * (l.Warmup + l.Duration).Seconds())
	warm := int(l.Rate * l.Warmup.Seconds())
	var mu sync.Mutex
	out := &Result{}
	var last time.Time
	var wg sync.WaitGroup
	send := func(i int, scheduled time.Time, measured bool) {
		conns := pools[i%len(pools)]
		c := conns.get()
		path := ""
		if l.Path != nil {
			path = l.Path(i)
		}
		body := l.Body(i)
		var extra []string
		if l.Headers != nil {
			extra = l.Headers(i, body)
		}
		code, err := c.post(path, extra, body)
		conns.put(c)
		done := time.Now()
		if !measured {
			return
		}
		if l.OnReply != nil && err == nil && code >= 200 && code < 300 {
			l.OnReply(i, scheduled, done)
		}
		mu.Lock()
		defer mu.Unlock()
		out.Sent++
		out.Latency.Record(done.Sub(scheduled))
		last = later(last, done)
		switch {
		case err != nil:
			out.Errors++
			if out.FirstErr == nil {
				out.FirstErr = err
			}
		case code >= 200 && code < 300:
			out.OK++
		default:
			out.Non2xx++
			if out.FirstCode == 0 {
				out.FirstCode = code
			}
		}
	}
	if l.Closed {
		return runClosed(ctx, l, send, out)
	}
	interval := time.Duration(float64(time.Second) / l.Rate)
	start := time.Now()
	measureFrom := start.Add(time.Duration(warm) * interval)
	for i := 0; i < total && ctx.Err() == nil; {
		due := int(time.Since(start)/interval) + 1
		for ; i < min(due, total); i++ {
			sched := start.Add(time.Duration(i) * interval)
			n := i // i is shared by the dispatch loop; each request needs its own
			wg.Go(func() { send(n, sched, n >= warm) })
		}
		time.Sleep(200 * time.Microsecond)
	}
	wg.Wait()
	out.Elapsed = last.Sub(measureFrom)
	return out, ctx.Err()
}

// runClosed keeps every connection busy until Warmup + Duration passed:
// each sends its next request when its last is answered. Requests sent
// after the warm-up are measured, from their send.
func runClosed(ctx context.Context, l Load, send func(i int, at time.Time, measured bool), out *Result) (*Result, error) {
	start := time.Now()
	measureFrom, end := start.Add(l.Warmup), start.Add(l.Warmup+l.Duration)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range l.Connections {
		wg.Go(func() {
			for ctx.Err() == nil {
				at := time.Now()
				if !at.Before(end) {
					return
				}
				send(int(next.Add(1)-1), at, !at.Before(measureFrom))
			}
		})
	}
	wg.Wait()
	out.Elapsed = min(time.Since(measureFrom), time.Since(start))
	return out, ctx.Err()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
