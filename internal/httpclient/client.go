// Package httpclient is the one outbound client every action uses:
// one attempt at a time, each classified for retrying (Classify, Policy),
// paced by its destination's token bucket and concurrency cap (slowed down
// after a 429), refused when it would reach a private address the
// destination did not allow, and captured with its secrets redacted for
// the run log. Most attempts are HTTP requests; a broker publish or an
// object put goes over the destination's own connection (Request.Send,
// Target.Connect) with the same pacing, classification and record.
// Retrying itself belongs to the caller, which must record each attempt
// durably before waiting for the next.
package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/version"
)

// Limits of one attempt.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 64
	maxResponseBytes   = 1 << 20 // read at most this much of a response
	maxCaptureBytes    = 4 << 10 // keep at most this much of a body in the run log
	slowdownFor        = 30 * time.Second
)

// Target is where attempts go and how they are paced.
type Target struct {
	ID string
	// RateLimit caps requests per second (0 = none); after a 429 it is
	// halved for 30 s.
	RateLimit float64
	// Concurrency caps requests in flight (0 = DefaultConcurrency).
	Concurrency int
	// AllowPrivateNetwork permits loopback and private addresses.
	AllowPrivateNetwork bool
	// Timeout bounds one attempt (0 = DefaultTimeout).
	Timeout time.Duration
	// Gate, if set, is asked once the attempt holds its slot and its
	// rate-limit token, just before it is sent: an error holds it back
	// (Do returns ErrHeld). A circuit breaker that opened while the
	// attempt waited for the limiter stops it there.
	Gate func() error
	// Secrets are values (API keys …) masked wherever they appear in a
	// captured request or response.
	Secrets []string
	// Connect, if set, opens the connection that requests with a Send go
	// over (a broker's, an object store's).
	Connect ConnectFunc
	// Settings identifies what Connect connects to: when it changes, the
	// open connection is closed and the next attempt opens a new one.
	Settings string
}

// Request is one outbound request.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Send, if set, sends the request over the destination's connection
	// (Target.Connect) instead of HTTP; Method, URL, Header and Body still
	// describe it in the run log (PUBLISH nats://host/subject …).
	Send SendFunc
}

// Attempt is what one try did: the run log's record (cdp.Attempt) and
// what the caller needs beyond it.
type Attempt struct {
	cdp.Attempt
	// Class is the outcome, for retrying.
	Class Outcome
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
	// Body is the whole response body (up to 1 MiB), for the step's output.
	Body []byte
}

// Client sends attempts; it is safe for concurrent use.
type Client struct {
	share func() float64
	mu    sync.Mutex
	dests map[string]*destination
	now   func() time.Time
}

// New returns a Client. share, if not nil, is the fraction of every
// destination's rate limit this process may use (1/N with N nodes sending
// to it): a rate_limit is the destination's, not each node's.
func New(share func() float64) *Client {
	return &Client{share: share, dests: map[string]*destination{}, now: time.Now}
}

// destination is a Target's pacing state and HTTP transport.
type destination struct {
	cfg       Target
	limiter   *rate.Limiter // nil without a rate limit
	slots     chan struct{}
	http      *http.Client
	mu        sync.Mutex
	slowUntil time.Time
	share     float64       // of the rate limit, this process's part
	gate      chan struct{} // one waiter at a time for the limiter (admit)
	timeout   time.Duration // of one attempt
	conn      conn          // for requests with a Send
}

func (c *Client) destination(d Target) *destination {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.dests[d.ID]
	if ok && sameConfig(old.cfg, d) {
		return old
	}
	if ok { // attempts still using it finish; the next ones reconnect
		defer old.conn.close()
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	slots := d.Concurrency
	if slots <= 0 {
		slots = DefaultConcurrency
	}
	st := &destination{cfg: d, slots: make(chan struct{}, slots), share: 1, gate: make(chan struct{}, 1), timeout: timeout}
	if d.RateLimit > 0 {
		st.limiter = rate.NewLimiter(paced(d.RateLimit), 1)
	}
	st.http = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: dialer(d.AllowPrivateNetwork, timeout), MaxIdleConnsPerHost: slots,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true},
		// Redirects are failures, never followed (Standard Webhooks).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.dests[d.ID] = st
	return st
}

func sameConfig(a, b Target) bool {
	return a.RateLimit == b.RateLimit && a.Concurrency == b.Concurrency && a.AllowPrivateNetwork == b.AllowPrivateNetwork &&
		a.Timeout == b.Timeout && a.Settings == b.Settings
}

// ErrHeld is Do's error for an attempt its destination's Gate held back.
var ErrHeld = errors.New("attempt held")

// Do makes attempt number n of req to d: it waits for the destination's
// rate limit and a concurrency slot (or ctx), sends, and reports what
// happened. The returned error is only ctx's, or ErrHeld; every failure
// of the request itself is in the Attempt.
func (c *Client) Do(ctx context.Context, d Target, n int, req Request) (*Attempt, error) {
	st := c.destination(d)
	// The slot first, then the rate: a request admitted by the limiter
	// goes out at once, instead of queueing for a slot and leaving in a
	// burst with others when slots free up.
	select {
	case st.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-st.slots }()
	if st.limiter != nil {
		share := 1.0
		if c.share != nil {
			share = c.share()
		}
		st.pace(c.now(), share)
		if err := st.admit(ctx); err != nil {
			return nil, err
		}
	}

	if d.Gate != nil {
		if err := d.Gate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHeld, err)
		}
	}

	d.Secrets = RequestSecrets(req, d.Secrets)
	a := &Attempt{Attempt: cdp.Attempt{N: n, StartedAt: c.now().UTC(), Request: captureRequest(req, d.Secrets)}}
	if req.Send != nil {
		if err := c.send(ctx, st, d, req, a); err != nil {
			return nil, err
		}
		return a, nil
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		a.setOutcome(Permanent)
		a.Error = redact.Values(err.Error(), d.Secrets...)
		return a, nil
	}
	maps.Copy(hreq.Header, req.Header)
	// The attempt's span, when tracing is on: the receiver's trace joins ours.
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(hreq.Header))
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", version.UserAgent()) // receivers' logs name the sender
	}
	resp, err := st.http.Do(hreq)
	a.DurationMS = float64(time.Since(a.StartedAt).Microseconds()) / 1000
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.setOutcome(Classify(0, err))
		a.Error = describe(err, d.Secrets)
		return a, nil
	}
	defer resp.Body.Close()
	a.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	a.DurationMS = float64(time.Since(a.StartedAt).Microseconds()) / 1000
	resp.Header.Del("Set-Cookie")
	captured := capture(resp.Header, a.Body, d.Secrets)
	captured.Status = resp.StatusCode
	a.Response = &captured
	a.setOutcome(Classify(resp.StatusCode, nil))
	if err != nil && a.Class == Succeeded {
		a.setOutcome(Retryable)
		a.Error = "reading the response: " + describe(err, d.Secrets)
	}
	if a.Class != Succeeded && a.Error == "" {
		a.Error = fmt.Sprintf("the destination answered %d", resp.StatusCode)
	}
	a.RetryAfter = RetryAfter(resp.Header, c.now())
	if resp.StatusCode == http.StatusTooManyRequests {
		st.slowDown(c.now())
	}
	return a, nil
}

func (a *Attempt) setOutcome(o Outcome) { a.Class, a.Outcome = o, string(o) }

// paced is the limiter's rate for a limit of perSecond: requests are
// spaced evenly (a bucket of one, no bursts) and 1% wider than the limit
// asks, so that network jitter, which can bring two requests closer than
// they were sent, never shows the destination more than perSecond
// requests in any one-second window.
func paced(perSecond float64) rate.Limit { return rate.Limit(perSecond * 0.99) }

// slowDown halves the destination's rate for slowdownFor after a 429.
func (st *destination) slowDown(now time.Time) {
	if st.limiter == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if now.Before(st.slowUntil) {
		return // already slowed for this burst
	}
	st.slowUntil = now.Add(slowdownFor)
	st.limiter.SetLimit(st.limitLocked(now))
}

// admit waits for the destination's next request. One waiter at a time
// asks the bucket (of one token) and sleeps until it has one: waiters
// that reserved slots ahead (rate.Limiter.Wait) would all leave at once
// after the process was descheduled for a while, and the destination
// would see a burst above its limit.
func (st *destination) admit(ctx context.Context) error {
	select {
	case st.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-st.gate }()
	for {
		r := st.limiter.Reserve()
		d := r.Delay()
		if d == 0 {
			return nil
		}
		r.Cancel() // not used: ask again after the sleep
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// pace sets the limiter to this process's share of the rate limit, and
// lifts a slowdown that has run its course.
func (st *destination) pace(now time.Time, share float64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.share = share
	if l := st.limitLocked(now); l != st.limiter.Limit() {
		st.limiter.SetLimit(l)
	}
}

// limitLocked is the limiter's rate now: the process's share of the
// destination's rate limit, halved during a slowdown.
func (st *destination) limitLocked(now time.Time) rate.Limit {
	r := st.cfg.RateLimit * st.share
	if now.Before(st.slowUntil) {
		r /= 2
	}
	return paced(r)
}

// RequestSecrets is known with the credentials the request itself
// carries: its credential headers, query parameters and JSON body fields.
// A response may echo them and an error may quote them, so the attempt's
// record masks them wherever they appear.
func RequestSecrets(req Request, known []string) []string {
	out := append(slices.Clip(known), redact.HeaderSecrets(req.Header)...)
	out = append(out, redact.QuerySecrets(req.URL)...)
	return append(out, redact.JSONSecrets(req.Body)...)
}

// CaptureRequest is req as the run log keeps it, known and the request's
// own credentials masked (see capture); a dry run shows the requests it
// would send the same way. The record is for showing: a retry rebuilds
// the request from the step's input.
func CaptureRequest(req Request, known []string) cdp.Captured {
	return captureRequest(req, RequestSecrets(req, known))
}

// captureRequest is CaptureRequest with the secrets already gathered.
func captureRequest(req Request, secrets []string) cdp.Captured {
	c := capture(req.Header, req.Body, secrets)
	c.Method, c.URL = req.Method, redact.Query(redact.Values(req.URL, secrets...))
	return c
}

// capture masks credential headers, secret values and credential-like
// JSON fields, and cuts the body.
func capture(h http.Header, body []byte, secrets []string) cdp.Captured {
	c := cdp.Captured{Headers: map[string][]string{}}
	for k, vs := range h {
		for _, v := range vs {
			if redact.SecretHeader(k) {
				v = redact.Mask
			}
			c.Headers[k] = append(c.Headers[k], redact.Values(v, secrets...))
		}
	}
	if len(body) > maxCaptureBytes {
		body, c.Truncated = body[:maxCaptureBytes], true
		for len(body) > 0 && !utf8.Valid(body) { // do not cut a character in two
			body = body[:len(body)-1]
		}
	}
	c.Body = redact.Body(body, secrets...)
	return c
}

func describe(err error, secrets []string) string {
	msg := err.Error()
	if timeout(err) {
		msg = "timed out: " + msg
	}
	return redact.Values(msg, secrets...)
}
