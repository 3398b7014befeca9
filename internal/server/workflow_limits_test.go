package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// timedStandIn records when each request arrived and answers with the
// statuses given, then 200.
type timedStandIn struct {
	mu      sync.Mutex
	at      []time.Time
	answers []int
}

func (s *timedStandIn) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.at = append(s.at, time.Now())
		if len(s.answers) > 0 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(s.answers[0])
			s.answers = s.answers[1:]
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (s *timedStandIn) times(t *testing.T, n int) []time.Time {
	t.Helper()
	var at []time.Time
	testenv.Eventually(t, fmt.Sprintf("the stand-in to receive %d requests", n), 20*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		at = slices.Clone(s.at)
		return len(at) >= n
	})
	return at
}

func limitedStack(t *testing.T, url string, rateLimit float64) *stack {
	return newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: url,
			AllowPrivateNetwork: true, RateLimit: rateLimit, Retry: &workflow.Retry{Base: "10ms", Max: "10s"}}}
		c.Workflows = []workflow.Workflow{{ID: "tell", Trigger: workflow.Trigger{Source: "web", Types: []string{"purchase"}},
			Steps: []workflow.Step{{ID: "send", Action: "customerio.track_event", Destination: "cio",
				With: map[string]any{"identifier": "'u1'", "name": "'bought'"}}}}}
	})
}

// A destination limited to 20 requests/s never receives more in any
// one-second window, though 60 runs want it at once.
func TestDestinationRateLimitEndToEnd(t *testing.T) {
	standIn := &timedStandIn{}
	s := limitedStack(t, standIn.serve(t).URL, 20)
	events := make([]string, 60)
	for i := range events {
		events[i] = fmt.Sprintf(`{"type":"purchase","properties":{"n":%d}}`, i)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`), 200)
	at := standIn.times(t, 60)
	if n, i := testenv.BusiestSecond(at); n > 20 {
		t.Fatalf("%d requests within one second of request %d", n, i)
	}
	if span := at[59].Sub(at[0]); span < 2900*time.Millisecond {
		t.Fatalf("60 requests in %v: the limit did not hold", span)
	}
	s.waitRuns(t, cdp.RunFilter{WorkflowID: "tell", Status: cdp.RunSucceeded}, 60)
}

// 429 with Retry-After: 2 puts the next attempt at least 2 s later,
// though the step's backoff would retry after 10 ms.
func TestRetryAfterEndToEnd(t *testing.T) {
	standIn := &timedStandIn{answers: []int{429}}
	s := limitedStack(t, standIn.serve(t).URL, 0)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"purchase"}]}`), 200)
	at := standIn.times(t, 2)
	if gap := at[1].Sub(at[0]); gap < 2*time.Second {
		t.Fatalf("retried %v after a 429 with Retry-After: 2", gap)
	}
	run := s.waitRuns(t, cdp.RunFilter{WorkflowID: "tell", Status: cdp.RunSucceeded}, 1)[0]
	if a := run.Steps[0].Attempts; len(a) != 2 || a[0].Response.Status != 429 || a[0].Outcome != "retryable" {
		t.Fatalf("attempts %+v", a)
	}
}
