package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// TestKillNineMidRun kills the server while workflow runs are inside their
// second step, restarts it, and requires every run to finish with its
// first step never sent again (steps recorded as done are not repeated;
// an attempt in flight is sent again with the same idempotency key).
func TestKillNineMidRun(t *testing.T) {
	var mu sync.Mutex
	hold := true
	release := make(chan struct{}) // closed once the server is killed
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	seen := map[string]int{} // method+path → requests
	ids := map[string]bool{}
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body struct{ ID string }
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path]++
		if body.ID != "" {
			ids[body.ID] = true
		}
		wait := hold && strings.HasSuffix(r.URL.Path, "/events")
		mu.Unlock()
		if wait {
			<-release // answered only after the server is killed
		}
		w.Write([]byte(`{}`))
	}))
	defer standIn.Close()
	defer unblock() // before Close, which waits for the handlers
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
sources: [ { id: web, kind: track } ]
destinations:
  - { id: cio, kind: customerio, site_id: s, api_key: k, track_url: %q, allow_private_network: true }
workflows:
  - id: two-steps
    trigger: { source: web, types: [purchase] }
    steps:
      - { id: first, action: customerio.identify, destination: cio, with: { identifier: "event.properties.key" } }
      - { id: second, action: customerio.track_event, destination: cio, with: { identifier: "event.properties.key", name: "'bought'" } }
`, standIn.URL), 0o600)
	data := filepath.Join(dir, "data")
	p := start(t, data, "--config", cfg)
	const runs = 5
	for i := range runs {
		if code, err := post(p.url+"/track", fmt.Sprintf(`{"source":{"id":"web"},"events":[{"type":"purchase","properties":{"key":"k%d"}}]}`, i)); err != nil || code != 200 {
			t.Fatalf("track: %d %v", code, err)
		}
	}
	statuses := func(url string) map[string]string {
		out := map[string]string{}
		resp, err := http.Get(url + "/admin/v1/runs?workflow=two-steps")
		if err != nil {
			return out
		}
		defer resp.Body.Close()
		var list struct {
			Runs []struct {
				ID, Status string
				Steps      []struct{ ID, Status string }
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		for _, r := range list.Runs {
			s := r.Status
			for _, st := range r.Steps {
				s += " " + st.ID + "=" + st.Status
			}
			out[r.ID] = s
		}
		return out
	}
	// waitRuns polls until count(url's runs matching match) == runs.
	waitRuns := func(url string, within time.Duration, match func(string) bool, also func() bool) map[string]string {
		var st map[string]string
		testenv.Await(t, fmt.Sprintf("%d runs in the expected state", runs), within, func() (bool, string) {
			st = statuses(url)
			n := 0
			for _, s := range st {
				if match(s) {
					n++
				}
			}
			if n == runs && also() {
				return true, ""
			}
			mu.Lock()
			defer mu.Unlock()
			return false, fmt.Sprintf("runs %v; stand-in saw %v; stderr:\n%s", st, seen, p.logs())
		})
		return st
	}
	// Every run has recorded its first step and is inside the second: kill.
	eventsInFlight := func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for i := range runs {
			n += seen[fmt.Sprintf("POST /api/v1/customers/k%d/events", i)]
		}
		return n == runs
	}
	waitRuns(p.url, 20*time.Second, func(s string) bool { return strings.Contains(s, "first=succeeded") }, eventsInFlight)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	mu.Lock()
	hold = false
	mu.Unlock()
	unblock()

	p = start(t, data, "--config", cfg)
	waitRuns(p.url, 30*time.Second, func(s string) bool { return strings.HasPrefix(s, "succeeded") }, func() bool { return true })
	mu.Lock()
	defer mu.Unlock()
	for i := range runs {
		if n := seen[fmt.Sprintf("PUT /api/v1/customers/k%d", i)]; n != 1 {
			t.Errorf("the completed first step of run k%d was sent %d times", i, n)
		}
		if n := seen[fmt.Sprintf("POST /api/v1/customers/k%d/events", i)]; n < 2 {
			t.Errorf("the interrupted second step of run k%d was sent %d times, want it sent again", i, n)
		}
	}
	if len(ids) != runs {
		t.Errorf("event ids %v: every attempt of a step carries that step's key", ids)
	}
}
