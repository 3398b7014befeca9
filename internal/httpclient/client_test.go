package httpclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		err    error
		want   Outcome
	}{
		{200, nil, Succeeded}, {204, nil, Succeeded}, {302, nil, Permanent}, {400, nil, Permanent}, {401, nil, Permanent},
		{404, nil, Permanent}, {408, nil, Retryable}, {410, nil, Permanent}, {429, nil, Retryable}, {500, nil, Retryable},
		{503, nil, Retryable}, {0, errors.New("connection refused"), Retryable}, {0, ErrPrivateAddress, Permanent},
	} {
		if got := Classify(tc.status, tc.err); got != tc.want {
			t.Errorf("Classify(%d, %v) = %s, want %s", tc.status, tc.err, got, tc.want)
		}
	}
}

func TestPolicyDelay(t *testing.T) {
	p := Policy{MaxAttempts: 5, Base: time.Second, Max: 10 * time.Second}
	for n := 1; n < 5; n++ {
		ceiling := min(time.Second<<(n-1), 10*time.Second)
		for range 200 {
			d, ok := p.Delay(n, 0)
			if !ok || d < 0 || d > ceiling {
				t.Fatalf("Delay(%d) = %v, %v; want within [0, %v]", n, d, ok, ceiling)
			}
		}
	}
	if _, ok := p.Delay(5, 0); ok {
		t.Fatal("a sixth attempt was scheduled")
	}
	if d, _ := p.Delay(1, 2*time.Second); d < 2*time.Second {
		t.Fatalf("Retry-After 2s gave %v", d)
	}
	if d, _ := p.Delay(1, time.Hour); d != 10*time.Second {
		t.Fatalf("Retry-After 1h not clamped to Max: %v", d)
	}
	if _, ok := (Policy{}).Delay(4, 0); !ok {
		t.Fatal("the default policy allows 5 attempts")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"2": 2 * time.Second, "0": 0, "-5": 0, "soon": 0, "": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := RetryAfter(http.Header{"Retry-After": {v}}, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestInternalAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "fc00::1": true, "fe80::1": true, "::ffff:127.0.0.1": true, "224.0.0.1": true,
		// Forms that hide an internal IPv4 address, and the rest of IANA's
		// special-purpose blocks.
		"64:ff9b::a9fe:a9fe": true, "64:ff9b:1::a9fe:a9fe": true, "2002:a9fe:a9fe::1": true, "::7f00:1": true,
		"::ffff:169.254.169.254": true, "2001:0:4136:e378::1": true, "198.18.0.1": true, "198.19.255.255": true,
		"240.0.0.1": true, "255.255.255.255": true, "0.1.2.3": true, "100.127.255.254": true, "168.63.129.16": true,
		"192.0.0.170": true, "192.0.2.1": true, "198.51.100.1": true, "203.0.113.9": true, "2001:db8::1": true,
		"100::1": true, "ff02::1": true, "fec0::1": true, "3fff::1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false, "2001:4860:4860::8888": false,
		"168.63.129.17": false, "198.20.0.1": false, "100.128.0.1": false,
	} {
		if got := internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("internal(%s) = %v, want %v", addr, got, want)
		}
	}
}

// A loopback destination is refused unless it allows the private network;
// the refusal is permanent (retrying cannot change the address).
func TestPrivateNetworkRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := New(nil)
	req := Request{Method: "POST", URL: srv.URL + "/x", Body: []byte(`{}`)}
	a, err := c.Do(context.Background(), Target{ID: "d"}, 1, req)
	if err != nil || a.Class != Permanent || !strings.Contains(a.Error, "private or loopback") || hits.Load() != 0 {
		t.Fatalf("loopback without permission: %+v, %v, hits %d", a, err, hits.Load())
	}
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // a name resolving to loopback
	if a, _ := c.Do(context.Background(), Target{ID: "d"}, 1, Request{Method: "GET", URL: localhost}); a.Class != Permanent || hits.Load() != 0 {
		t.Fatalf("localhost without permission: %+v", a)
	}
	a, err = c.Do(context.Background(), Target{ID: "d", AllowPrivateNetwork: true}, 1, req)
	if err != nil || a.Class != Succeeded || hits.Load() != 1 {
		t.Fatalf("loopback with permission: %+v, %v", a, err)
	}
}

func TestCaptureRedactsAndTruncates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=abc")
		w.Header().Set("X-Echo-Key", r.Header.Get("X-Key"))
		w.WriteHeader(500)
		w.Write([]byte(strings.Repeat("é", 3000)))
	}))
	defer srv.Close()
	d := Target{ID: "cio", AllowPrivateNetwork: true, Secrets: []string{"sk-live-123"}}
	a, err := New(nil).Do(context.Background(), d, 2, Request{Method: "POST", URL: srv.URL + "/v1?key=sk-live-123",
		Header: http.Header{"Authorization": {"Bearer sk-live-123"}, "X-Key": {"sk-live-123"}, "Content-Type": {"application/json"}},
		Body:   []byte(`{"token":"sk-live-123","n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 2 || a.Class != Retryable || a.Response.Status != 500 || a.Error != "the destination answered 500" {
		t.Fatalf("attempt %+v", a)
	}
	all := a.Request.URL + a.Request.Body + strings.Join(a.Request.Headers["X-Key"], "") + strings.Join(a.Response.Headers["X-Echo-Key"], "")
	if strings.Contains(all, "sk-live-123") || a.Request.Headers["Authorization"][0] != "[redacted]" || a.Response.Headers["Set-Cookie"] != nil {
		t.Fatalf("secret left in the capture: %+v", a)
	}
	if !a.Response.Truncated || len(a.Response.Body) > maxCaptureBytes || !strings.HasPrefix(a.Response.Body, "é") || len(a.Body) != 6000 {
		t.Fatalf("response body: truncated %v, %d bytes captured, %d read", a.Response.Truncated, len(a.Response.Body), len(a.Body))
	}
}

// Credentials the request carries but nobody declared — a query
// parameter, a JSON body field, the Basic credential derived from the
// URL's userinfo — are masked in the record wherever they appear,
// echoed in the response too; the rest of the exchange stays readable.
func TestCaptureMasksUndeclaredCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "url": r.URL.String(), "data": string(body)})
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "http://", "http://svc:pw-in-url-1@", 1)
	d := Target{ID: "echo", AllowPrivateNetwork: true, Secrets: redact.URLSecrets(base)}
	a, err := New(nil).Do(context.Background(), d, 1, Request{Method: "POST", URL: base + "/echo?api_key=q-secret-2&x=1",
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(`{"api_key":"b-secret-3","secret_field":"f-secret-4","plain":"visible"}`)})
	if err != nil || a.Class != Succeeded {
		t.Fatalf("attempt %+v, %v", a, err)
	}
	record, _ := json.Marshal(a.Attempt)
	basic := base64.StdEncoding.EncodeToString([]byte("svc:pw-in-url-1"))
	for _, leak := range []string{"pw-in-url-1", "q-secret-2", "b-secret-3", "f-secret-4", basic} {
		if strings.Contains(string(record), leak) {
			t.Errorf("the record shows %s: %s", leak, record)
		}
	}
	if !strings.Contains(a.Response.Body, "visible") || !strings.Contains(a.Request.URL, "x=1") {
		t.Errorf("the record masks too much: %s", record)
	}
	if !strings.Contains(string(a.Body), "b-secret-3") {
		t.Error("the body the action reads was masked")
	}
}

func TestRedirectsAndTimeouts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	c := New(nil)
	a, _ := c.Do(context.Background(), Target{ID: "r", AllowPrivateNetwork: true}, 1, Request{Method: "GET", URL: srv.URL + "/go"})
	if a.Class != Permanent || a.Response.Status != 302 {
		t.Fatalf("redirect: %+v", a)
	}
	a, _ = c.Do(context.Background(), Target{ID: "t", AllowPrivateNetwork: true, Timeout: 50 * time.Millisecond}, 1,
		Request{Method: "GET", URL: srv.URL + "/slow"})
	if a.Class != Retryable || !strings.Contains(a.Error, "timed out") {
		t.Fatalf("timeout: %+v", a)
	}
}

// A destination limited to 20 requests/s never receives more, however
// many callers push at once; after a 429 its rate is halved.
func TestRateLimit(t *testing.T) {
	srv := testenv.NewArrivals(t)
	c := New(nil)
	d := Target{ID: "limited", RateLimit: 20, AllowPrivateNetwork: true}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if a, err := c.Do(context.Background(), d, 1, Request{Method: "POST", URL: srv.URL}); err != nil || a.Class != Succeeded {
				t.Errorf("%+v %v", a, err)
			}
		})
	}
	wg.Wait()
	if n, i := testenv.BusiestSecond(srv.Times()); n > 20 {
		t.Fatalf("%d requests within one second of request %d", n, i)
	}
	st := c.destination(d)
	if st.limiter.Burst() != 1 {
		t.Fatalf("burst %d: requests must be evenly spaced", st.limiter.Burst())
	}
	st.slowDown(time.Now())
	if got := float64(st.limiter.Limit()); got != 9.9 {
		t.Fatalf("rate after a 429 = %v, want 10", got)
	}
	st.pace(time.Now().Add(slowdownFor+time.Second), 1)
	if got := float64(st.limiter.Limit()); got != 19.8 {
		t.Fatalf("rate after the slowdown = %v, want 20", got)
	}
	st.pace(time.Now().Add(slowdownFor+time.Second), 0.5) // one of two nodes
	if got := float64(st.limiter.Limit()); got != 9.9 {
		t.Fatalf("a half share of 20/s = %v, want 10", got)
	}
}

// A gate that refuses holds the attempt back before anything is sent.
func TestGate(t *testing.T) {
	srv := testenv.NewArrivals(t)
	c := New(nil)
	d := Target{ID: "g", AllowPrivateNetwork: true, Gate: func() error { return errors.New("open") }}
	if a, err := c.Do(context.Background(), d, 1, Request{Method: "POST", URL: srv.URL}); !errors.Is(err, ErrHeld) || a != nil {
		t.Fatalf("held attempt: %+v %v", a, err)
	}
	d.Gate = func() error { return nil }
	if a, err := c.Do(context.Background(), d, 1, Request{Method: "POST", URL: srv.URL}); err != nil || a.Class != Succeeded {
		t.Fatalf("open gate: %+v %v", a, err)
	}
	if n := len(srv.Times()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}
