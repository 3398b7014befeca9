package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// Runs waiting at a wait_for survive kill -9: 200 people start a journey,
// the server is killed with every run waiting and started again; half of
// the people then do what the runs wait for and half do nothing. Each run
// ends once, with the right outcome, and the stand-in destination gets
// exactly one request per person. On the embedded engines, and on
// PostgreSQL with an external NATS when they are set.
func TestKillNineWhileWaiting(t *testing.T) {
	t.Run("Embedded", func(t *testing.T) { killWhileWaiting(t, "") })
	t.Run("PostgreSQL", func(t *testing.T) {
		pg := testenv.Postgres(t)
		natsURL, prefix := testenv.NATS(t)
		killWhileWaiting(t, "nats_prefix: "+prefix, "--postgres-url", pg, "--nats-url", natsURL)
	})
}

func killWhileWaiting(t *testing.T, extra string, args ...string) {
	var mu sync.Mutex
	got := map[string]int{} // "done uN" / "timeout uN" → requests
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Says string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got[body.Says]++
		mu.Unlock()
	}))
	defer standIn.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
%s
sources: [ { id: cio, kind: customerio_track, site_id: site, api_key: key } ]
destinations: [ { id: app, kind: webhook, url: %q, allow_private_network: true } ]
workflows:
  - id: follow
    trigger: { source: cio, types: [started] }
    steps:
      - { id: finished, wait_for: { event: "event.type == 'done'", timeout: "duration('15s')" } }
      - id: tell
        action: webhook.send
        destination: app
        with: { body: "{'says': (steps.finished.output.matched ? 'done ' : 'timeout ') + trigger.user_id}" }
`, extra, standIn.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	args = append([]string{"--config", cfg}, args...)
	p := start(t, data, args...)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("site:key"))
	const people = 200
	send := func(base string, users []int, name string) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 16 {
			wg.Go(func() {
				for u := range work {
					url := fmt.Sprintf("%s/api/v1/customers/u%d/events", base, u)
					if code, err := postAuth(url, auth, `{"name":"`+name+`","id":"`+fmt.Sprintf("%s-%d", name, u)+`"}`); err != nil || code != 200 {
						t.Errorf("%s u%d: %d %v", name, u, code, err)
					}
				}
			})
		}
		for _, u := range users {
			work <- u
		}
		close(work)
		wg.Wait()
	}
	everyone, even := make([]int, people), []int{}
	for i := range people {
		everyone[i] = i
		if i%2 == 0 {
			even = append(even, i)
		}
	}
	send(p.url, everyone, "started")
	waiting := func(base string) int {
		resp, err := http.Get(base + "/admin/v1/runs?workflow=follow&status=waiting&limit=1000")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var list struct{ Runs []json.RawMessage }
		_ = json.NewDecoder(resp.Body).Decode(&list)
		return len(list.Runs)
	}
	testenv.Await(t, "every run waiting", 30*time.Second, func() (bool, string) {
		n := waiting(p.url)
		return n == people, fmt.Sprintf("%d waiting", n)
	})
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p = start(t, data, args...)
	send(p.url, even, "done")
	testenv.Await(t, "one request per person, with the right outcome", 60*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == people, fmt.Sprintf("%d of %d people heard of; stderr:\n%s", len(got), people, p.logs())
	})
	testenv.Never(t, "a request sent twice", 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for says, n := range got {
			if n != 1 {
				t.Logf("%q sent %d times", says, n)
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	for u := range people {
		want := fmt.Sprintf("timeout u%d", u)
		if u%2 == 0 {
			want = fmt.Sprintf("done u%d", u)
		}
		if got[want] != 1 {
			t.Fatalf("u%d: want %q once; got %v", u, want, got)
		}
	}
}
