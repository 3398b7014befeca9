package config

import (
	"strings"
	"testing"
	"time"
)

// A good alerts section converts to rules with their defaults and
// channels with their destinations; every mistake is reported with its
// path, secrets unquoted.
func TestAlerts(t *testing.T) {
	good := `
sources: [ { id: cio-reports, kind: customerio_webhook, signing_key: k, expect_every: 1h } ]
destinations:
  - { id: cio, kind: customerio, app_api_key: "${KEY}", circuit_breaker: { failures: 5, cooldown: 10s } }
alerts:
  console_url: https://sy.example.com
  channels:
    - { id: ops, kind: slack, url: "https://hooks.slack.com/services/T/B/x" }
    - { id: mail, kind: email, destination: cio, to: ops@example.com, from: alerts@example.com }
  rules:
    - { kind: dead_letter, channels: [ops, mail] }
    - { kind: destination_open, destination: cio, channels: [ops] }
    - { kind: source_silent, channels: [ops] }
    - { kind: webhook_failures, above: 10, per: 5m, channels: [ops] }
    - { id: lag, kind: backlog, above: 100000, channels: [mail] }
`
	cfg, err := Parse([]byte(good), func(string) string { return "k" }, actions)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(actions); err != nil {
		t.Fatal(err)
	}
	rules := cfg.AlertRules()
	if len(rules) != 5 || rules[0].ID != "dead_letter" || rules[0].Wait != 30*time.Second || rules[0].Every != 10*time.Minute ||
		rules[1].Subject != "cio" || rules[3].Per != 5*time.Minute || rules[4].ID != "lag" {
		t.Fatalf("rules %+v", rules)
	}
	channels := cfg.AlertChannels()
	if channels[0].Destination.Get("url") == "" || channels[1].Destination.ID != "cio" || channels[1].Destination.Get("app_api_key") != "k" {
		t.Fatalf("channels %+v", channels)
	}
	if b := cfg.Destinations[0].Destination().Breaker; b.Failures != 5 || b.Cooldown != 10*time.Second || b.MaxCooldown != 10*time.Minute {
		t.Fatalf("breaker %+v", b)
	}

	bad := `
sources: [ { id: web, kind: track, expect_every: soon } ]
destinations:
  - { id: cio, kind: customerio, site_id: s, api_key: k, circuit_breaker: { failures: -1, cooldown: 1ms, max_cooldown: 5s } }
alerts:
  evaluate_every: fast
  channels:
    - { id: ops, kind: slack, url: "hooks.slack.com/secret-part" }
    - { id: ops, kind: pager }
    - { id: mail, kind: email, destination: cio, to: nobody }
  rules:
    - { kind: dead_letter, channels: [] }
    - { kind: dead_letter, channels: [nope] }
    - { kind: webhook_failures, channels: [ops], destination: cio }
    - { kind: destination_open, destination: gone, channels: [ops], every: later }
    - { kind: coffee, channels: [ops] }
`
	cfg, err = Parse([]byte(bad), func(string) string { return "" }, actions)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(actions)
	for _, want := range []string{
		"sources[0].expect_every:", "destinations[0].circuit_breaker.failures:", "destinations[0].circuit_breaker.cooldown:",
		"alerts.evaluate_every:", "alerts.channels[0].url: must be", "alerts.channels[1].id: duplicates", "alerts.channels[1].kind: must be one of",
		`alerts.channels[2].destination: "cio" must be a customerio destination with an app_api_key`, "alerts.channels[2].to:",
		"alerts.channels[2].from: is required", "alerts.rules[0].channels: must name", "alerts.rules[1].id: duplicates",
		`alerts.rules[1].channels[0]: no channel "nope"`, "alerts.rules[2].above:", "alerts.rules[2].destination: does not apply",
		`alerts.rules[3].destination: no destination "gone"`, "alerts.rules[3].every:", "alerts.rules[4].kind: must be one of",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret-part") {
		t.Errorf("a channel URL (a secret) was quoted: %v", err)
	}
}
