package ingest

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// limiters hold one token bucket per source with a rate limit.
type limiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// Allow applies src's rate limit (none when RateLimit is 0). When the
// request must be refused it returns false and the Retry-After value, in
// whole seconds, to answer with.
func (s *Service) Allow(src *cdp.Source) (retryAfter string, ok bool) {
	if src.RateLimit <= 0 {
		return "", true
	}
	s.limits.mu.Lock()
	if s.limits.m == nil {
		s.limits.m = map[string]*rate.Limiter{}
	}
	l := s.limits.m[src.ID]
	if l == nil || l.Limit() != rate.Limit(src.RateLimit) {
		l = rate.NewLimiter(rate.Limit(src.RateLimit), max(int(src.RateLimit), 1))
		s.limits.m[src.ID] = l
	}
	s.limits.mu.Unlock()
	res := l.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return seconds(d), false
	}
	return "", true
}

// seconds renders a wait as whole seconds, at least one.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(int(math.Ceil(d.Seconds())), 1))
}
