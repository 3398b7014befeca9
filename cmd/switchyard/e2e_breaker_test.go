package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// TestKillNineWhileDestinationOpen kills the server while every run waits
// on an open destination, restarts it, brings the destination back, and
// requires every run delivered exactly once: a run held by a breaker is
// recorded (status, destination, wake-up time) and queued, so nothing
// that waits is lost.
func TestKillNineWhileDestinationOpen(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	delivered := map[string]int{}
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		delivered[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer standIn.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
sources: [ { id: web, kind: track } ]
destinations:
  - id: app
    kind: webhook
    url: %q
    allow_private_network: true
    retry: { max_attempts: 100, base: 50ms, max: 200ms }
    circuit_breaker: { failures: 2, cooldown: 2s, max_cooldown: 2s }
workflows:
  - id: ship
    trigger: { source: web, types: [order] }
    steps: [ { id: send, action: webhook.send, destination: app } ]
`, standIn.URL), 0o600)
	data := filepath.Join(dir, "data")
	p := start(t, data, "--config", cfg)
	const runs = 10
	for i := range runs {
		if code, err := post(p.url+"/track", fmt.Sprintf(`{"source":{"id":"web"},"events":[{"type":"order","properties":{"n":%d}}]}`, i)); err != nil || code != 200 {
			t.Fatalf("track: %d %v", code, err)
		}
	}
	destination := func(url string) (state string, waiting int) {
		resp, err := http.Get(url + "/admin/v1/destinations/app")
		if err != nil {
			return "", 0
		}
		defer resp.Body.Close()
		var d struct {
			State       string `json:"state"`
			RunsWaiting int    `json:"runs_waiting"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&d)
		return d.State, d.RunsWaiting
	}
	testenv.Eventually(t, "every run to wait on the open destination", 20*time.Second, func() bool {
		state, waiting := destination(p.url)
		return state != "closed" && state != "" && waiting == runs
	})
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()

	p = start(t, data, "--config", cfg)
	if state, waiting := destination(p.url); state == "closed" || waiting != runs {
		t.Fatalf("after the restart: %s with %d runs waiting, want open with %d", state, waiting, runs)
	}
	down.Store(false)
	testenv.Eventually(t, "every run to be delivered", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == runs
	})
	testenv.Never(t, "a run delivered twice", time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range delivered {
			if n > 1 {
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range delivered {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
	if state, waiting := destination(p.url); state != "closed" || waiting != 0 {
		t.Fatalf("in the end: %s with %d waiting", state, waiting)
	}
}
