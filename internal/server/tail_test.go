package server_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
)

// Live tails cannot take the node: beyond tail.max_subscribers a tail is
// refused with 503 and Retry-After, and the filters of all of them
// together, however costly, take no more than tail.filter_cpu of one CPU
// (counted by switchyard_tail_filter_seconds_total, which the bound is
// checked against: it holds by construction, however noisy the machine),
// while ingest goes on.
func TestTailLimits(t *testing.T) {
	const tails, share = 30, 0.1
	s := newStack(t, func(c *config.Config) { c.Tail = config.Tail{MaxSubscribers: tails, FilterCPU: share} })
	ten := "[1,2,3,4,5,6,7,8,9,10]"
	costly := url.QueryEscape(fmt.Sprintf("%s.all(a, %s.all(b, %s.all(c, a + b + c > 0 && event.type != '')))", ten, ten, ten))
	start := time.Now()
	for range tails {
		s.openTail(t, "filter="+costly)
	}
	r := s.do(t, "GET", "/admin/v1/tail?filter="+costly, "", "")
	wantStatus(t, r, 503)
	if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "tail.max_subscribers") {
		t.Fatalf("refused tail: %v %s", r.header, r.body)
	}
	for i := range 100 {
		wantStatus(t, s.track(t, fmt.Sprintf(`{"source":{"id":"web"},"session":{"id":"s1"},"events":[{"type":"t%d"}]}`, i)), 200)
	}
	s.settle(t)
	elapsed := time.Since(start)
	m := string(s.do(t, "GET", "/metrics", "", "").body)
	match := regexp.MustCompile(`(?m)^switchyard_tail_filter_seconds_total (\S+)$`).FindStringSubmatch(m)
	if match == nil || !strings.Contains(m, fmt.Sprintf("switchyard_tail_subscribers %d", tails)) {
		t.Fatalf("tail metrics missing:\n%s", m)
	}
	spent, _ := strconv.ParseFloat(match[1], 64)
	// The budget's burst (0.2 s) and one evaluation past it (its deadline,
	// 0.1 s) on top of the share of the time elapsed.
	if limit := share*elapsed.Seconds() + 0.3; spent <= 0 || spent > limit {
		t.Fatalf("filters took %.3f s in %v, over the budget of %.3f s", spent, elapsed, limit)
	}
}
