package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Load describes one open-loop run.
type Load struct {
	URL         string
	Rate        float64       // requests per second
	Duration    time.Duration // measured part
	Warmup      time.Duration // sent at Rate before measuring, not recorded
	Connections int           // keep-alive connections (and concurrent requests)
	// Body returns the body of the i-th request.
	Body        func(i int) []byte
	ContentType string
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

type job struct {
	i         int
	scheduled time.Time
	measured  bool
}

// Run sends the load and returns what it measured. Requests are scheduled
// at fixed intervals from the start; a request that waits for a free
// connection counts that wait as latency.
func Run(ctx context.Context, l Load) (*Result, error) {
	if l.Rate <= 0 || l.Connections <= 0 {
		return nil, fmt.Errorf("bench: rate and connections must be positive")
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        l.Connections,
		MaxIdleConnsPerHost: l.Connections,
		MaxConnsPerHost:     l.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	total := int(l.Rate * (l.Warmup + l.Duration).Seconds())
	warm := int(l.Rate * l.Warmup.Seconds())
	jobs := make(chan job, total+1)
	results := make([]*Result, l.Connections)
	var wg sync.WaitGroup
	var last time.Time
	var lastMu sync.Mutex
	for w := range l.Connections {
		res := &Result{}
		results[w] = res
		wg.Go(func() {
			for j := range jobs {
				code, err := send(ctx, client, l, j.i)
				done := time.Now()
				if !j.measured {
					continue
				}
				res.Sent++
				res.Latency.Record(done.Sub(j.scheduled))
				switch {
				case err != nil:
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
				case code >= 200 && code < 300:
					res.OK++
				default:
					res.Non2xx++
					if res.FirstCode == 0 {
						res.FirstCode = code
					}
				}
				lastMu.Lock()
				if done.After(last) {
					last = done
				}
				lastMu.Unlock()
			}
		})
	}
	interval := time.Duration(float64(time.Second) / l.Rate)
	start := time.Now()
	measureFrom := start.Add(time.Duration(warm) * interval)
	for i := 0; i < total && ctx.Err() == nil; {
		due := int(time.Since(start)/interval) + 1
		for ; i < min(due, total); i++ {
			sched := start.Add(time.Duration(i) * interval)
			jobs <- job{i: i, scheduled: sched, measured: i >= warm}
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(jobs)
	wg.Wait()
	out := &Result{}
	for _, r := range results {
		out.Latency.Merge(&r.Latency)
		out.Sent += r.Sent
		out.OK += r.OK
		out.Non2xx += r.Non2xx
		out.Errors += r.Errors
		if out.FirstCode == 0 {
			out.FirstCode = r.FirstCode
		}
		if out.FirstErr == nil {
			out.FirstErr = r.FirstErr
		}
	}
	out.Elapsed = last.Sub(measureFrom)
	return out, ctx.Err()
}

func send(ctx context.Context, c *http.Client, l Load, i int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(l.Body(i)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", l.ContentType)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
