package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

const otherSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

// A destination created through the API is versioned like a workflow:
// answers mask its secret, a change that leaves the secret out (or sends
// it back masked) keeps it, a workflow created through the API delivers
// to it, signed with the secret of the version in force; it cannot be
// deleted while the workflow names it, nor changed to a kind the workflow
// cannot use; bad definitions are refused naming the field, and the
// configuration file's destinations are read-only.
func TestDestinationsThroughTheAPI(t *testing.T) {
	t.Parallel()
	in := newBatchReceiver(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "filed", Kind: "webhook", URL: "https://example.com/in"}}
	})
	r := s.do(t, "POST", "/admin/v1/destinations", "application/json",
		`{"id":"hook","kind":"webhook","url":"`+in.url+`","signing_secret":"`+swSecret+`","allow_private_network":true,"rate_limit":50}`)
	wantStatus(t, r, 201)
	if strings.Contains(string(r.body), swSecret) || r.header.Get("ETag") != `"1"` {
		t.Fatalf("created: %s %v", r.body, r.header)
	}
	def := r.json(t)["definition"].(map[string]any)
	if def["signing_secret"] != "[redacted]" || def["url"] != in.url || def["rate_limit"] != 50.0 || r.json(t)["origin"] != "api" {
		t.Fatalf("the definition answered: %v", r.json(t))
	}
	view := s.destination(t, "hook")
	if view["origin"] != "api" || view["version"] != 1.0 || view["settings"].(map[string]any)["signing_secret"] != "[redacted]" {
		t.Fatalf("the destination's view: %v", view)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows", "application/yaml",
		"id: ship\ntrigger: {source: web, types: [order]}\nsteps:\n  - {id: send, action: webhook.send, destination: hook, with: {body: event.properties}}\n"), 201)

	delivered := func(n int, secret string) {
		t.Helper()
		testenv.Await(t, "the orders delivered", 10*time.Second, func() (bool, string) {
			reqs := in.requests()
			return len(reqs) >= n, ""
		})
		last := in.requests()[n-1]
		if err := hooks.VerifyStandard(secret, hooks.DefaultTolerance, last.header, last.body, time.Now()); err != nil {
			t.Fatalf("delivery %d: %v", n, err)
		}
	}
	s.sendOrders(t, 1, "a")
	delivered(1, swSecret)

	// The secret left out: kept. Sent back masked: kept.
	r = s.do(t, "PUT", "/admin/v1/destinations/hook", "application/json",
		`{"id":"hook","kind":"webhook","url":"`+in.url+`","allow_private_network":true}`, "If-Match", `"1"`)
	wantStatus(t, r, 200)
	r = s.do(t, "PUT", "/admin/v1/destinations/hook", "application/json",
		`{"id":"hook","kind":"webhook","url":"`+in.url+`","signing_secret":"[redacted]","allow_private_network":true}`)
	wantStatus(t, r, 200)
	s.sendOrders(t, 1, "b")
	delivered(2, swSecret)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/destinations/hook", "application/json",
		`{"id":"hook","kind":"webhook","url":"x"}`, "If-Match", `"1"`), 409)
	// A new secret: the next delivery is signed with it.
	wantStatus(t, s.do(t, "PUT", "/admin/v1/destinations/hook", "application/json",
		`{"id":"hook","kind":"webhook","url":"`+in.url+`","signing_secret":"`+otherSecret+`","allow_private_network":true}`), 200)
	s.sendOrders(t, 1, "c")
	delivered(3, otherSecret)

	r = s.do(t, "GET", "/admin/v1/destinations/hook/versions", "", "")
	wantStatus(t, r, 200)
	var versions struct{ Versions []map[string]any }
	json.Unmarshal(r.body, &versions)
	if len(versions.Versions) != 4 || strings.Contains(string(r.body), swSecret) || strings.Contains(string(r.body), otherSecret) {
		t.Fatalf("versions: %s", r.body)
	}

	for _, c := range []struct {
		method, path, body, want string
		status                   int
	}{
		{"POST", "/admin/v1/destinations", `{"id":"nourl","kind":"webhook"}`, "url", 400},
		{"POST", "/admin/v1/destinations", `{"id":"x","kind":"carrier-pigeon"}`, "kind", 400},
		{"POST", "/admin/v1/destinations", `{"id":"x","kind":"webhook","url":"https://e.com","colour":"red"}`, "colour", 400},
		{"POST", "/admin/v1/destinations", `{"id":"hook","kind":"webhook","url":"https://e.com"}`, "already exists", 409},
		{"POST", "/admin/v1/destinations", `{"id":"filed","kind":"webhook","url":"https://e.com"}`, "configuration file", 403},
		{"PUT", "/admin/v1/destinations/filed", `{"id":"filed","kind":"webhook","url":"https://e.com"}`, "configuration file", 403},
		{"DELETE", "/admin/v1/destinations/filed", ``, "configuration file", 403},
		{"PUT", "/admin/v1/destinations/hook", `{"id":"hook","kind":"slack","url":"https://hooks.slack.com/services/x"}`, "workflow ship", 400},
		{"PUT", "/admin/v1/destinations/nope", `{"id":"nope","kind":"webhook","url":"https://e.com"}`, "not found", 404},
		{"PUT", "/admin/v1/destinations/hook", `{"id":"other","kind":"webhook","url":"https://e.com"}`, "does not match", 400},
		{"DELETE", "/admin/v1/destinations/hook", ``, "workflow ship", 409},
		{"POST", "/admin/v1/destinations", ``, "JSON or YAML", 400},
	} {
		r := s.do(t, c.method, c.path, "application/json", c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s %s %s: %d %s, want %d naming %q", c.method, c.path, c.body, r.status, r.body, c.status, c.want)
		}
	}
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/workflows/ship", "", ""), 204)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/destinations/hook", "", ""), 204)
	wantStatus(t, s.do(t, "GET", "/admin/v1/destinations/hook", "", ""), 404)
	// The id may be used again: its history goes on.
	wantStatus(t, s.do(t, "POST", "/admin/v1/destinations", "application/yaml", "id: hook\nkind: http\nurl: https://api.example.com\n"), 201)
	if v := s.destination(t, "hook"); v["kind"] != "http" || v["version"] != 6.0 {
		t.Fatalf("recreated: %v", v)
	}
}

// Alert channels and rules created through the API take effect while the
// server runs: a rule on a silent source announces to a Slack channel
// made a moment before, whose URL (its credential) no answer shows; a
// channel a rule names cannot be deleted, and a rule naming an unknown
// channel is refused.
func TestAlertsThroughTheAPI(t *testing.T) {
	t.Parallel()
	slack := testenv.NewSlack(t)
	s := newStack(t, func(c *config.Config) {
		c.Alerts = config.Alerts{EvaluateEvery: "100ms"}
		c.Sources[0].ExpectEvery = "1s"
	})
	r := s.do(t, "POST", "/admin/v1/alert-channels", "application/json",
		`{"id":"ops","kind":"slack","url":"`+slack.URL+`","allow_private_network":true}`)
	wantStatus(t, r, 201)
	if strings.Contains(string(r.body), slack.URL) {
		t.Fatalf("the channel's URL answered: %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/alert-rules", "application/json", `{"id":"quiet","kind":"source_silent","channels":["nope"]}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/alert-rules", "application/yaml", "id: quiet\nkind: source_silent\nchannels: [ops]\n"), 201)
	testenv.Eventually(t, "the silence alert", 10*time.Second, func() bool { return len(slack.Texts()) > 0 })
	if texts := slack.Texts(); !strings.Contains(texts[0], "source web received nothing") {
		t.Fatalf("Slack received %q", texts)
	}
	r = s.do(t, "GET", "/admin/v1/alert-channels", "", "")
	wantStatus(t, r, 200)
	if strings.Contains(string(r.body), slack.URL) || !strings.Contains(string(r.body), `"origin":"api"`) {
		t.Fatalf("channels: %s", r.body)
	}
	r = s.do(t, "DELETE", "/admin/v1/alert-channels/ops", "", "")
	if r.status != 409 || !strings.Contains(string(r.body), "ops") {
		t.Fatalf("deleting a channel a rule names: %d %s", r.status, r.body)
	}
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/alert-rules/quiet", "", ""), 204)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/alert-channels/ops", "", ""), 204)
	r = s.do(t, "GET", "/admin/v1/alert-rules", "", "")
	if wantStatus(t, r, 200); string(r.body) != `{"items":[]}`+"\n" && string(r.body) != `{"items":[]}` {
		t.Fatalf("rules after the delete: %s", r.body)
	}
}
