package server_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// TestBackpressure stalls the store for real (another connection holds
// SQLite's write lock), fills the event log past its bound, and checks
// that every ingest API then refuses in its own dialect with Retry-After,
// that readiness says so, and that once the store is back every event
// acknowledged before is stored and new requests are accepted again.
func TestBackpressure(t *testing.T) {
	var dataDir string
	s := newStack(t, func(c *config.Config) {
		dataDir = c.DataDir
		c.Backpressure.MaxBytes = 16 << 20 // the smallest bound allowed
		c.RawCapture.Enabled = false
		c.Sources = append(c.Sources,
			config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey},
			config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"},
			config.Source{ID: "hooks", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: "none"}})
	})
	// The node writes now and then even when idle (due waits are claimed
	// every 25 ms): the lock waits for such a write to end.
	lock, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "switchyard.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	lock.SetMaxOpenConns(1)
	if _, err := lock.Exec("BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			_, _ = lock.Exec("ROLLBACK")
		}
	}()

	// About 400 KB per request: 50 requests put 20 MB in the log.
	auth := "Basic " + basic(writeKey, "")
	pad := strings.Repeat("x", 3900)
	accepted := 0
	for i := range 50 {
		var b strings.Builder
		b.WriteString(`{"batch":[`)
		for j := range 100 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"track","messageId":"bp-%d-%d","userId":"u%d","event":"Big","properties":{"pad":%q}}`, i, j, j, pad)
		}
		b.WriteString(`]}`)
		r := s.do(t, "POST", "/v1/batch", "application/json", b.String(), "Authorization", auth)
		if r.status == http.StatusTooManyRequests {
			break
		}
		wantStatus(t, r, 200)
		accepted += 100
	}

	// The backlog is read every 250 ms: wait for readiness to report it.
	testenv.Await(t, "readyz to report the backlog over its bound", 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/readyz", "", "")
		wantStatus(t, r, 200)
		return r.json(t)["status"] == "overloaded", string(r.body)
	})

	cio := "Basic " + basic("site", "key")
	for _, c := range []struct {
		name, path, body, auth string
		status                 int
		key                    string // the dialect's error field
	}{
		{"pipelines", "/v1/track", `{"userId":"x","event":"X","messageId":"late"}`, auth, 429, "meta"},
		{"track v1", "/api/v1/customers/1/events", `{"name":"x"}`, cio, 429, "meta"},
		{"track v2", "/api/v2/entity", `{"type":"person","action":"event","identifiers":{"id":"1"},"name":"x"}`, cio, 429, "errors"},
		{"tracardi", "/track", `{"source":{"id":"web"},"events":[{"type":"x"}]}`, "", 503, "detail"},
		{"webhook", "/webhooks/hooks", `{"type":"x"}`, "", 503, "error"},
	} {
		r := s.do(t, "POST", c.path, "application/json", c.body, "Authorization", c.auth)
		wantStatus(t, r, c.status)
		if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("%s: Retry-After %q, want whole seconds", c.name, ra)
		}
		if _, ok := r.json(t)[c.key]; !ok {
			t.Errorf("%s: body %s lacks %q", c.name, r.body, c.key)
		}
	}
	if m := string(s.do(t, "GET", "/metrics", "", "").body); !strings.Contains(m, `switchyard_backpressure_refusals_total{route="POST /v1/track"} 1`) ||
		!strings.Contains(m, "switchyard_backlog_over_bound 1") {
		t.Errorf("metrics do not show the refusal and the bound:\n%s", grepLines(m, "backlog", "backpressure"))
	}

	// The store comes back: everything acknowledged is stored, and the
	// edge accepts again.
	if _, err := lock.Exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	testenv.Eventually(t, "the edge to accept again once the store came back", 60*time.Second, func() bool {
		r := s.do(t, "POST", "/v1/track", "application/json", `{"userId":"x","event":"X","messageId":"after"}`, "Authorization", auth)
		if r.status != 200 {
			wantStatus(t, r, 429)
		}
		return r.status == 200
	})
	want := fmt.Sprintf(`switchyard_ingested_events_total{outcome="accepted",source="cdp"} %d`, accepted+1)
	testenv.Await(t, fmt.Sprintf("%d events accepted and stored", accepted+1), 60*time.Second, func() (bool, string) {
		m := string(s.do(t, "GET", "/metrics", "", "").body)
		stored := grepLines(m, `processed_events_total{outcome="stored"}`)
		return strings.Contains(m, want) && stored == fmt.Sprintf(`switchyard_processed_events_total{outcome="stored"} %d`, accepted+1),
			grepLines(m, "ingested_events_total", "processed_events_total")
	})
}

// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) && !strings.HasPrefix(line, "#") {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
