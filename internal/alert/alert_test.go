package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// fixture is an evaluator over a real SQLite store, with facts the test
// sets and a clock it moves.
type fixture struct {
	alerts     *Alerts
	store      cdp.Store
	now        time.Time
	dl         map[string]cdp.DeadLetter
	states     map[string]breaker.Status
	last       map[string]time.Time
	fails      map[string]float64
	violations map[string]float64
	backlog    int64
	sources    []*cdp.Source
}

func newFixture(t *testing.T, rules []Rule, channels []Channel) *fixture {
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{store: store, now: time.Now().Truncate(time.Second), dl: map[string]cdp.DeadLetter{}, states: map[string]breaker.Status{},
		last: map[string]time.Time{}, fails: map[string]float64{}, violations: map[string]float64{}}
	facts := Facts{
		DeadLetters:  func(context.Context) (map[string]cdp.DeadLetter, error) { return f.dl, nil },
		Destinations: func() []*action.Destination { return []*action.Destination{{ID: "cio"}} },
		Breaker:      func(id string) breaker.Status { return f.states[id] },
		Sources:      func() []*cdp.Source { return f.sources },
		LastEvent:    func(_ context.Context, src string) (time.Time, error) { return f.last[src], nil },
		WebhookFailures: func() map[string]float64 {
			return f.fails
		},
		Violations: func() map[string]float64 { return f.violations },
		Backlog:    func(context.Context) (int64, error) { return f.backlog, nil },
	}
	f.alerts = New(rules, channels, Options{Facts: facts, Store: store, Registry: builtin.Registry, Client: httpclient.New(nil),
		ConsoleURL: "https://sy.example.com", Now: func() time.Time { return f.now }, Log: slog.New(slog.DiscardHandler)})
	return f
}

// evaluate runs the rules once and waits for the announcements.
func (f *fixture) evaluate(t *testing.T) {
	t.Helper()
	if err := f.alerts.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.alerts.sending.Wait()
}

func slackChannel(s *testenv.Slack) Channel {
	return Channel{ID: "ops", Kind: "slack", Destination: ChannelDestination("ops", "slack", s.URL, "", true)}
}

// A burst of 50 dead letters of one workflow is one Slack message with
// the count 50 and a link to a sample run, sent once the burst settled
// (the rule's wait); more dead letters are announced again only after
// Every; an emptied dead letter resolves it. The alert is recorded with
// each announcement.
func TestDeadLetterBurst(t *testing.T) {
	slack := testenv.NewSlack(t)
	f := newFixture(t, []Rule{{ID: "dl", Kind: DeadLetter, Channels: []string{"ops"}, Wait: 30 * time.Second, Every: 10 * time.Minute}},
		[]Channel{slackChannel(slack)})
	for i := 1; i <= 50; i += 7 { // the burst grows over 24 s of evaluations
		f.dl["welcome"] = cdp.DeadLetter{Runs: i, Newest: "run-1"}
		f.evaluate(t)
		f.now = f.now.Add(3 * time.Second)
	}
	if n := len(slack.Texts()); n != 0 {
		t.Fatalf("%d messages before the burst settled", n)
	}
	f.dl["welcome"] = cdp.DeadLetter{Runs: 50, Newest: "run-50"}
	f.now = f.now.Add(6 * time.Second)
	f.evaluate(t)
	f.now = f.now.Add(time.Second)
	f.evaluate(t)
	texts := slack.Texts()
	if len(texts) != 1 || !strings.Contains(texts[0], "50 runs of workflow welcome in the dead letter") {
		t.Fatalf("messages %q", texts)
	}
	blocks, _ := json.Marshal(slack.Messages()[0]["blocks"])
	if !strings.Contains(string(blocks), "https://sy.example.com/console/runs/run-50|Open in the console") {
		t.Fatalf("no link to a sample run: %s", blocks)
	}
	alerts, _, _ := f.store.FindAlerts(t.Context(), cdp.AlertFilter{})
	if len(alerts) != 1 || alerts[0].Count != 50 || alerts[0].State != cdp.AlertFiring || len(alerts[0].Notifications) != 1 ||
		alerts[0].Notifications[0].Status != "sent" {
		t.Fatalf("recorded %+v", alerts)
	}

	f.dl["welcome"] = cdp.DeadLetter{Runs: 60, Newest: "run-60"}
	f.now = f.now.Add(time.Minute)
	f.evaluate(t)
	if n := len(slack.Texts()); n != 1 {
		t.Fatalf("announced again within 10 min: %d messages", n)
	}
	f.now = f.now.Add(10 * time.Minute)
	f.evaluate(t)
	if texts := slack.Texts(); len(texts) != 2 || !strings.HasPrefix(texts[1], "Still firing: 60 runs") {
		t.Fatalf("after 10 min: %q", texts)
	}
	delete(f.dl, "welcome")
	f.evaluate(t)
	if texts := slack.Texts(); len(texts) != 3 || !strings.HasPrefix(texts[2], "Resolved: ") {
		t.Fatalf("after the retry: %q", texts)
	}
	alerts, _, _ = f.store.FindAlerts(t.Context(), cdp.AlertFilter{State: cdp.AlertResolved})
	if len(alerts) != 1 || len(alerts[0].Notifications) != 3 || alerts[0].ResolvedAt == nil {
		t.Fatalf("resolved record %+v", alerts)
	}
}

// A source silent for longer than its expect_every alerts once, however
// long it stays silent, and resolves when an event arrives.
func TestSilentSource(t *testing.T) {
	slack := testenv.NewSlack(t)
	f := newFixture(t, []Rule{{ID: "quiet", Kind: SourceSilent, Channels: []string{"ops"}}}, []Channel{slackChannel(slack)})
	f.sources = []*cdp.Source{{ID: "cio-reports", Enabled: true, ExpectEvery: "1h"}, {ID: "web", Enabled: true}}
	f.last["cio-reports"] = f.now.Add(-30 * time.Minute)
	f.evaluate(t)
	for range 3 {
		f.now = f.now.Add(31 * time.Minute)
		f.evaluate(t)
	}
	texts := slack.Texts()
	if len(texts) != 1 || !strings.Contains(texts[0], "source cio-reports received nothing since") {
		t.Fatalf("messages %q", texts)
	}
	f.last["cio-reports"] = f.now
	f.evaluate(t)
	if texts := slack.Texts(); len(texts) != 2 || !strings.HasPrefix(texts[1], "Resolved: source cio-reports") {
		t.Fatalf("after an event: %q", texts)
	}
}

// An open destination, webhook verification failures above the rate and
// a backlog above the bound each fire and resolve; a signed webhook
// channel carries the alert as JSON a receiver verifies.
func TestDestinationFailuresBacklogToWebhook(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := hooks.VerifyStandard(secret, hooks.DefaultTolerance, r.Header, body, time.Now()); err != nil {
			t.Errorf("unverified alert: %v", err)
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()
	hook := Channel{ID: "hook", Kind: "webhook", Destination: ChannelDestination("hook", "webhook", srv.URL, secret, true)}
	f := newFixture(t, []Rule{
		{ID: "open", Kind: DestinationOpen, Channels: []string{"hook"}},
		{ID: "sigs", Kind: WebhookFailures, Channels: []string{"hook"}, Above: 10, Per: time.Minute},
		{ID: "lag", Kind: Backlog, Channels: []string{"hook"}, Above: 1000},
		{ID: "plans", Kind: PlanViolations, Channels: []string{"hook"}, Subject: "shop", Above: 5, Per: time.Minute},
	}, []Channel{hook})
	f.fails["stripe"] = 100
	f.violations["shop"], f.violations["web"] = 3, 3
	f.evaluate(t) // the first sample
	f.states["cio"] = breaker.Status{State: breaker.Open, Reason: "10 consecutive failures"}
	f.fails["stripe"] = 150
	f.violations["shop"], f.violations["web"] = 30, 300 // web: not the rule's source
	f.backlog = 5000
	f.now = f.now.Add(10 * time.Second)
	f.evaluate(t)
	mu.Lock()
	kinds := map[string]string{}
	for _, m := range got {
		al := m["alert"].(map[string]any)
		kinds[al["kind"].(string)] = m["type"].(string)
	}
	mu.Unlock()
	if kinds[DestinationOpen] != "alert.firing" || kinds[WebhookFailures] != "alert.firing" || kinds[Backlog] != "alert.firing" ||
		kinds[PlanViolations] != "alert.firing" || len(got) != 4 {
		t.Fatalf("fired %v", kinds)
	}
	// An operator pausing the failing destination does not resolve its
	// alert.
	f.states["cio"] = breaker.Status{State: breaker.Paused, Reason: breaker.ByOperator}
	f.now = f.now.Add(10 * time.Second)
	f.evaluate(t)
	mu.Lock()
	if len(got) != 4 {
		t.Fatalf("pausing announced %v", got[4:])
	}
	mu.Unlock()
	f.states["cio"] = breaker.Status{State: breaker.Closed}
	f.backlog = 0
	f.now = f.now.Add(2 * time.Minute) // the failures stopped a minute ago
	f.evaluate(t)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 8 {
		t.Fatalf("%d announcements, want 4 firing and 4 resolved", len(got))
	}
	for _, m := range got[4:] {
		if m["type"] != "alert.resolved" {
			t.Fatalf("announcement %v", m)
		}
	}
}

// A channel that refuses for good (404) is recorded as failed with its
// reason, the URL masked; the alert stays firing and is not announced
// again meanwhile.
func TestUndeliverableChannel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("no_service"))
	}))
	defer srv.Close()
	bad := Channel{ID: "ops", Kind: "slack", Destination: ChannelDestination("ops", "slack", srv.URL, "", true)}
	f := newFixture(t, []Rule{{ID: "lag", Kind: Backlog, Channels: []string{"ops"}, Above: 10}}, []Channel{bad})
	f.backlog = 100
	f.evaluate(t)
	f.evaluate(t)
	alerts, _, _ := f.store.FindAlerts(t.Context(), cdp.AlertFilter{})
	if len(alerts) != 1 || len(alerts[0].Notifications) != 1 {
		t.Fatalf("alerts %+v", alerts)
	}
	if n := alerts[0].Notifications[0]; n.Status != "failed" || !strings.Contains(n.Error, "no_service") || strings.Contains(n.Error, srv.URL) {
		t.Fatalf("notification %+v (the URL is the channel's secret)", n)
	}
}

// An email channel sends through a customerio destination's App API: the
// subject and body Switchyard writes, or the operator's template with the
// alert in its message_data.
func TestEmailChannel(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got, auth = append(got, m), append(auth, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`{"delivery_id":"d1","queued_at":1}`))
	}))
	defer srv.Close()
	cio := &action.Destination{ID: "cio", Kind: "customerio", AllowPrivateNetwork: true,
		Settings: map[string]string{"app_api_key": "app-key", "app_url": srv.URL}}
	f := newFixture(t, []Rule{{ID: "lag", Kind: Backlog, Channels: []string{"mail", "tmpl"}, Above: 10}}, []Channel{
		{ID: "mail", Kind: "email", Destination: cio, To: "ops@example.com", From: "alerts@example.com"},
		{ID: "tmpl", Kind: "email", Destination: cio, To: "ops@example.com", TransactionalMessageID: 7.0},
	})
	f.backlog = 100
	f.evaluate(t)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || auth[0] != "POST /v1/send/email Bearer app-key" {
		t.Fatalf("requests %v", auth)
	}
	for _, m := range got {
		if m["to"] != "ops@example.com" || m["identifiers"].(map[string]any)["email"] != "ops@example.com" {
			t.Fatalf("recipient %v", m)
		}
		if m["transactional_message_id"] == nil {
			if subj, _ := m["subject"].(string); !strings.HasPrefix(subj, "[Switchyard] Alert: 100 received events") || m["from"] != "alerts@example.com" {
				t.Fatalf("written email %v", m)
			}
		} else if data := m["message_data"].(map[string]any); data["event"] != "firing" || data["alert"].(map[string]any)["kind"] != Backlog {
			t.Fatalf("template data %v", m)
		}
	}
}
