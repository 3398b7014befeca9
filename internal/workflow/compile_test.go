package workflow

import (
	"context"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var ctx = References{Actions: testActions, Sources: map[string]bool{"cio-reports": true, "web": true},
	Destinations: map[string]string{"cio": "customerio", "my-app": "webhook"}}

func parse(t *testing.T, doc string) *Workflow {
	t.Helper()
	var w Workflow
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		t.Fatal(err)
	}
	return &w
}

func TestCompileValid(t *testing.T) {
	// The configuration example of docs/configuration.md, and every step kind.
	w := parse(t, `
id: welcome
trigger: { source: cio-reports, types: [email_delivered, "push_*"], if: "event.properties.subject != ''" }
vars: { limit: 3, who: "profile.identifiers.id" }
steps:
  - id: notify
    action: customerio.track_event
    destination: cio
    with: { identifier: "profile.identifiers.id", name: "'email_seen'", data: "event.properties" }
    retry: { max_attempts: 3, base: 2s, max: 1m }
  - id: only_known
    filter: "has(profile.identifiers.email)"
  - id: pause
    wait: "duration('1h')"
  - id: split
    branch:
      if: "event.properties.recipient.endsWith('@example.com')"
      then: [ { id: tell, action: webhook.send, destination: my-app } ]
      else: [ { id: done, stop: true } ]
  - id: each
    foreach:
      items: "event.properties.recipients"
      parallel: 4
      steps: [ { id: call, action: http.call, with: { url: "'https://api.example.com/d/' + item.device_id", method: "'POST'" } } ]
  - id: count
    profile.update: { set: { last_email: "event.properties.subject" }, increment: { emails: "1" }, unset: [bounced] }
  - id: mail
    action: customerio.send_email
    destination: cio
    with: { transactional_message_id: 3, to: "profile.identifiers.email", identifiers: "{'id': vars.who}" }
`)
	c, problems := Compile(w, ctx)
	if problems != nil {
		t.Fatalf("problems: %v", problems)
	}
	if !c.Matches("cio-reports", "email_delivered") || !c.Matches("cio-reports", "push_opened") ||
		c.Matches("web", "email_delivered") || c.Matches("cio-reports", "email_opened") {
		t.Error("trigger matching is wrong")
	}
	if c.Steps[0].Policy.MaxAttempts != 3 || c.Steps[0].Policy.Base.Seconds() != 2 || c.Vars["limit"].Literal != 3 {
		t.Errorf("retry %+v, vars %+v", c.Steps[0].Policy, c.Vars)
	}
	got, err := c.Steps[0].With["identifier"].Program.Eval(context.Background(), map[string]any{
		"event": map[string]any{}, "profile": map[string]any{"identifiers": map[string]any{"id": "u1"}},
		"session": map[string]any{}, "steps": map[string]any{}, "vars": map[string]any{}, "item": nil})
	if err != nil || got != "u1" {
		t.Errorf("identifier = %v, %v", got, err)
	}
}

func TestCompileReportsEveryProblemWithItsPath(t *testing.T) {
	w := parse(t, `
id: "bad id!"
trigger: { source: nope, types: [""], if: "event.type" }
steps:
  - id: a
    action: customerio.track_event
    destination: my-app
    with: { data: "event.", colour: "'red'" }
    retry: { base: soon }
  - id: a
    filter: "1 + 1"
  - id: two
    filter: "true"
    wait: "duration('1h')"
  - id: w
    wait: "'tomorrow'"
  - id: x
    action: teleport
  - id: y
    branch: { if: "true", then: [] }
  - id: z
    action: http.call
    with: { url: "'https://x'", method: POST }
`)
	_, problems := Compile(w, ctx)
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"id: must be",
		`trigger.source: no source "nope"`,
		"trigger.types[0]: is empty",
		"steps[0].destination: \"my-app\" is of kind webhook; customerio.track_event needs kind customerio",
		"steps[0].with.name: is required",
		"steps[0].with.data: ERROR",
		"steps[0].with.colour: is not an input",
		"steps[0].retry.base: \"soon\"",
		"steps[1].id: duplicates steps[0].id",
		"steps[1].filter: expression must produce a bool",
		"steps[2]: must be exactly one of",
		"steps[3].wait: expression must produce a duration or a timestamp",
		"steps[4].action: unknown action \"teleport\"",
		"steps[5].branch.then: needs at least one step",
		"steps[6].with.method: ERROR",
		"did you mean \"'POST'\"",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "trigger.if") {
		t.Errorf("a dyn condition is checked at run time, not refused:\n%s", all)
	}
}

// The journey settings are checked with their paths: a wait_for needs
// one of event or until and a timeout, a match needs an event, a
// debounce a positive period; exit_when and order_by are expressions.
func TestCompileJourneys(t *testing.T) {
	w := parse(t, `
id: j
trigger: { types: [x], debounce: { period: soon, key: "event." } }
exit_when: "1"
order_by: "event."
steps:
  - { id: both, wait_for: { event: "true", until: "true", timeout: "duration('1h')" } }
  - { id: neither, wait_for: { timeout: "duration('1h')" } }
  - { id: lonely, wait_for: { until: "profile.traits.plan == 'pro'", match: "true", timeout: "duration('1h')" } }
  - { id: forever, wait_for: { event: "true" } }
  - { id: typed, wait_for: { event: "1", timeout: "'later'" } }
  - { id: fine, wait_for: { event: "event.type == 'b'", match: "event.properties.k == trigger.properties.k", timeout: "duration('1h')" } }
`)
	_, problems := Compile(w, References{Actions: testActions})
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		`trigger.debounce.period: "soon" is not a positive duration`,
		"trigger.debounce.key: ERROR",
		"exit_when: expression must produce a bool",
		"order_by: ERROR",
		"steps[0].wait_for: needs exactly one of event",
		"steps[1].wait_for: needs exactly one of event",
		"steps[2].wait_for.match: correlates an event",
		"steps[3].wait_for.timeout: is required",
		"steps[4].wait_for.event: expression must produce a bool",
		"steps[4].wait_for.timeout: expression must produce a duration or a timestamp",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "steps[5]") {
		t.Errorf("a valid wait_for refused:\n%s", all)
	}
}
