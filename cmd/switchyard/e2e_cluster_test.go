package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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

// TestThreeNodesKillNine runs three `switchyard serve` processes on one
// PostgreSQL and one NATS JetStream, spreads Tracardi and Customer.io
// traffic over them, kills one with SIGKILL mid-load (its clients move to
// the others, as behind a load balancer) and requires every acknowledged
// event stored exactly once, every run it triggered succeeded with its
// step delivered, and one profile per identity.
func TestThreeNodesKillNine(t *testing.T) {
	pg := testenv.Postgres(t)
	natsURL, prefix := testenv.NATS(t)
	var mu sync.Mutex
	delivered := map[string]int{} // webhook-id (run:step) → requests
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		delivered[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer standIn.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
nats_prefix: %s
sources:
  - { id: web, kind: track }
  - { id: cio, kind: customerio_track, site_id: site, api_key: key }
destinations:
  - { id: app, kind: webhook, url: %q, signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", allow_private_network: true }
workflows:
  - id: note
    trigger: { types: [purchase] }
    steps: [ { id: tell, action: webhook.send, destination: app } ]
`, prefix, standIn.URL+"/in"), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*proc
	for i := range 3 {
		nodes = append(nodes, start(t, filepath.Join(dir, fmt.Sprintf("node%d", i)), "--config", cfg,
			"--postgres-url", pg, "--nats-url", natsURL))
	}
	cioAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("site:key"))
	const clients, perClient = 12, 40
	var amu sync.Mutex
	acked := map[string]bool{}
	var dead sync.Once
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				key := fmt.Sprintf("c%02d-%03d", c, i)
				user := fmt.Sprintf("u%d", c%4) // identities shared by every node
				for attempt := range 3 {        // a dead node's client goes to the next one
					n := nodes[(c+attempt)%3]
					var code int
					var err error
					if c%2 == 0 {
						code, err = postAuth(n.url+"/api/v1/customers/"+user+"/events", cioAuth,
							fmt.Sprintf(`{"name":"purchase","id":"%s","data":{"key":"%s"}}`, key, key))
					} else {
						code, err = post(n.url+"/track", fmt.Sprintf(`{"source":{"id":"web"},"session":{"id":"s-%s"},"events":[{"id":"%s","type":"purchase","properties":{"key":"%s"}}]}`,
							user, key, key))
					}
					if err == nil && code == 200 {
						amu.Lock()
						acked[key] = true
						half := len(acked) == clients*perClient/2
						amu.Unlock()
						if half {
							dead.Do(func() { _ = nodes[1].cmd.Process.Signal(syscall.SIGKILL) })
						}
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if len(acked) < clients*perClient*9/10 {
		t.Fatalf("only %d of %d requests acknowledged", len(acked), clients*perClient)
	}
	live := nodes[0]
	// The killed node's unacknowledged messages come back after the ack
	// wait (15 s), its leased runs after the lease (30 s).
	testenv.Await(t, "every acknowledged event stored once and its run succeeded", 90*time.Second, func() (bool, string) {
		counts := map[string]int{}
		countKeys(t, live.url, "purchase", counts)
		missing := 0
		var sample []string
		for k := range acked {
			if counts[k] == 0 {
				missing++
				if len(sample) < 12 {
					sample = append(sample, k)
				}
			}
		}
		for k, n := range counts {
			if n != 1 {
				t.Fatalf("event %s stored %d times", k, n)
			}
		}
		runs := runStatuses(t, live.url)
		if missing == 0 && runs["succeeded"] >= len(counts) && runs["pending"]+runs["running"]+runs["waiting"] == 0 {
			if runs["failed"] != 0 || runs["succeeded"] != len(counts) {
				t.Fatalf("runs %v for %d stored purchases", runs, len(counts))
			}
			t.Logf("%d acknowledged, %d stored once, runs %v", len(acked), len(counts), runs)
			return true, ""
		}
		poison := map[string]int{}
		countKeys(t, live.url, "poison", poison)
		return false, fmt.Sprintf("%d acknowledged events missing (%v), runs %v, poison %v; node 0 stderr:\n%s\nnode 2 stderr:\n%s",
			missing, sample, runs, poison, live.logs(), nodes[2].logs())
	})
	mu.Lock()
	keys := len(delivered)
	mu.Unlock()
	if runs := runStatuses(t, live.url); keys != runs["succeeded"] {
		t.Fatalf("the stand-in saw %d distinct deliveries for %d succeeded runs", keys, runs["succeeded"])
	}
	// One profile per identity, whichever node first saw it.
	for u := range 4 {
		resp, err := http.Get(live.url + fmt.Sprintf("/admin/v1/profiles?identifier=id:u%d", u))
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if u%2 == 0 && (resp.StatusCode != 200 || p.ID == "") {
			t.Fatalf("no profile for u%d: %d", u, resp.StatusCode)
		}
		if u%2 == 0 {
			profiles := map[string]bool{}
			countProfiles(t, live.url, p.ID, profiles)
			if len(profiles) > 1 {
				t.Fatalf("u%d's events are spread over profiles %v", u, profiles)
			}
		}
	}
}

// runStatuses counts the runs by status.
func runStatuses(t *testing.T, base string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, st := range []string{"pending", "running", "waiting", "succeeded", "failed"} {
		cursor := ""
		for {
			resp, err := http.Get(base + "/admin/v1/runs?limit=1000&status=" + st + "&cursor=" + cursor)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				Runs       []json.RawMessage `json:"runs"`
				NextCursor string            `json:"next_cursor"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			out[st] += len(page.Runs)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
	}
	return out
}

// countProfiles adds the profile ids of the Customer.io events of a
// person to profiles.
func countProfiles(t *testing.T, base, profileID string, profiles map[string]bool) {
	t.Helper()
	resp, err := http.Get(base + "/admin/v1/events?source=cio&type=purchase&limit=1000&profile_id=" + profileID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Events []struct {
			ProfileID string `json:"profile_id"`
		} `json:"events"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	for _, e := range page.Events {
		profiles[e.ProfileID] = true
	}
}
