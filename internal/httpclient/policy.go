package httpclient

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Outcome classifies one attempt.
type Outcome string

const (
	Succeeded Outcome = "succeeded" // a 2xx
	Retryable Outcome = "retryable" // network error, timeout, 408, 429 or 5xx
	Permanent Outcome = "permanent" // any other status: retrying cannot help
)

// Classify decides what an attempt's status (0 when there was none) and
// transport error mean for retrying (as Tiny Command and
// Standard Webhooks do): network errors, timeouts, 408,
// 429 and 5xx are worth another attempt; other 4xx, and redirects (not
// followed, as Standard Webhooks says), are not.
func Classify(status int, err error) Outcome {
	switch {
	case err != nil:
		if errors.Is(err, ErrPrivateAddress) {
			return Permanent
		}
		return Retryable
	case status >= 200 && status < 300:
		return Succeeded
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return Retryable
	}
	return Permanent
}

// Policy is a retry schedule: exponential backoff with full jitter.
type Policy struct {
	MaxAttempts int           // attempts in all, the first included; default 5
	Base        time.Duration // the first retry's ceiling; default 1 s
	Max         time.Duration // the largest delay; default 5 min
}

// DefaultPolicy is the schedule of every action unless its destination or
// step says otherwise (Tiny Command's: up to 5 attempts).
var DefaultPolicy = Policy{MaxAttempts: 5, Base: time.Second, Max: 5 * time.Minute}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultPolicy.MaxAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultPolicy.Base
	}
	if p.Max <= 0 {
		p.Max = DefaultPolicy.Max
	}
	return p
}

// Delay returns how long to wait before attempt n+1 after attempt n
// (1-based) failed, and false when the attempts are exhausted. The delay
// is uniform in [0, min(Max, Base·2^(n-1))] (full jitter, so that clients
// that failed together do not retry together); a Retry-After the server
// sent is honoured, clamped to Max, and is a floor.
func (p Policy) Delay(n int, retryAfter time.Duration) (time.Duration, bool) {
	p = p.withDefaults()
	if n >= p.MaxAttempts {
		return 0, false
	}
	ceiling := p.Base << min(n-1, 30)
	if ceiling <= 0 || ceiling > p.Max {
		ceiling = p.Max
	}
	d := rand.N(ceiling + 1)
	return max(d, min(retryAfter, p.Max)), true
}

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// timeout reports whether err is a timeout.
func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
