package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

func alertsConfig(slack *testenv.Slack, rules ...config.AlertRule) func(*config.Config) {
	return func(c *config.Config) {
		c.Alerts = config.Alerts{EvaluateEvery: "100ms", ConsoleURL: "https://sy.example.com",
			Channels: []config.AlertChannel{{ID: "ops", Kind: "slack", URL: slack.URL, AllowPrivateNetwork: true}}, Rules: rules}
	}
}

// A burst of 50 runs reaching the dead letter is one Slack message with
// the count 50, and retrying them (the destination fixed) resolves it.
func TestDeadLetterAlert(t *testing.T) {
	slack := testenv.NewSlack(t)
	var fixed atomic.Bool
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			w.WriteHeader(http.StatusBadRequest) // fails the run at once
		}
	}))
	defer dest.Close()
	s := newStack(t, alertsConfig(slack, config.AlertRule{Kind: "dead_letter", Channels: []string{"ops"}, Wait: "1s"}),
		func(c *config.Config) {
			c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: dest.URL, AllowPrivateNetwork: true}}
			c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
				Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app"}}}}
		})
	s.sendOrders(t, 50, "dl")
	testenv.Eventually(t, "a Slack message", 15*time.Second, func() bool { return len(slack.Texts()) > 0 })
	testenv.Never(t, "the dead letter announced again", 500*time.Millisecond, func() bool { return len(slack.Texts()) > 1 }) // five evaluations
	texts := slack.Texts()
	if len(texts) != 1 || !strings.Contains(texts[0], "50 runs of workflow ship in the dead letter") {
		t.Fatalf("Slack received %q", texts)
	}
	r := s.do(t, "GET", "/admin/v1/alerts?state=firing", "", "")
	wantStatus(t, r, 200)
	var list struct{ Alerts []cdp.Alert }
	json.Unmarshal(r.body, &list)
	if len(list.Alerts) != 1 || list.Alerts[0].Count != 50 || !strings.HasPrefix(list.Alerts[0].Link, "https://sy.example.com/console/runs/") {
		t.Fatalf("firing alerts %s", r.body)
	}

	fixed.Store(true)
	wantStatus(t, s.do(t, "POST", "/admin/v1/runs/retry?workflow=ship&confirm=true", "", ""), 200)
	testenv.Eventually(t, "the resolved message", 15*time.Second, func() bool { return len(slack.Texts()) == 2 })
	if texts := slack.Texts(); !strings.HasPrefix(texts[1], "Resolved: ") {
		t.Fatalf("second message %q", texts[1])
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/alerts?state=nope", "", ""), 400)
}

// A source that receives nothing for longer than its expect_every alerts
// once; an event resolves it.
func TestSilentSourceAlert(t *testing.T) {
	slack := testenv.NewSlack(t)
	s := newStack(t, alertsConfig(slack, config.AlertRule{Kind: "source_silent", Channels: []string{"ops"}}),
		func(c *config.Config) { c.Sources[0].ExpectEvery = "1s" })
	testenv.Eventually(t, "the silence alert", 10*time.Second, func() bool { return len(slack.Texts()) > 0 })
	time.Sleep(500 * time.Millisecond)
	if texts := slack.Texts(); len(texts) != 1 || !strings.Contains(texts[0], "source web received nothing yet (expected every 1s)") {
		t.Fatalf("Slack received %q", texts)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"ping"}]}`), 200)
	testenv.Eventually(t, "the resolved message", 10*time.Second, func() bool { return len(slack.Texts()) == 2 })
	if texts := slack.Texts(); !strings.HasPrefix(texts[1], "Resolved: source web") {
		t.Fatalf("second message %q", texts[1])
	}
}
