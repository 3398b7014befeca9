package workflow

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// dryRun dry-runs doc over the fixture's event, as the management API does.
func (f *engineFixture) dryRun(t *testing.T, doc string) *DryRun {
	t.Helper()
	dest, _ := f.engine.Destination("cio")
	reg, err := NewRegistry(f.store, testActions, nil, []*Destination{dest}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.DryRun(t.Context(), f.store, parse(t, doc), "ev1", f.clock)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// trackURL is where the fixture's Customer.io destination sends.
func (f *engineFixture) trackURL(t *testing.T) string {
	dest, _ := f.engine.Destination("cio")
	return dest.Settings["track_url"]
}

// rows is each step of a dry run as "id kind: value / error".
func rows(d *DryRun) []string {
	var out []string
	for _, s := range d.Steps {
		v, _ := json.Marshal(s.Value)
		row := s.ID + " " + s.Kind + ": " + string(v)
		if s.Request != nil {
			row += " " + s.Request.Method + " " + s.Request.URL
		}
		if s.Error != "" {
			row += " / " + s.Error
		}
		out = append(out, row)
	}
	return out
}

// A dry run walks every kind of step with the engine's own code: it maps
// inputs and builds the request without sending it (credentials masked),
// passes waits without waiting, shows a profile update without making
// it, walks the first items of a foreach, and writes nothing.
func TestDryRunWalksEveryStepKind(t *testing.T) {
	f := newEngineFixture(t, flow, func(e *cdp.Event) {
		e.ProfileID = "p1"
		e.Properties = json.RawMessage(`{"recipient":"a@example.com","subject":"Hi","ids":[1,2,3,4,5,6,7]}`)
	})
	d := f.dryRun(t, `
id: tour
trigger: { types: [email_delivered], if: "event.properties.subject == 'Hi'" }
vars: { who: "event.properties.recipient" }
steps:
  - id: known
    filter: "vars.who.endsWith('@example.com')"
  - id: notify
    action: customerio.track_event
    destination: cio
    with: { identifier: "'u1'", name: "'email_seen'", data: "{'subject': event.properties.subject}" }
  - id: later
    wait: "duration('1h')"
  - id: pick
    branch:
      if: "profile.traits.bounced == true"
      then: [ { id: mark, profile.update: { set: { seen: "true" }, increment: { emails: "1" }, unset: [bounced] } } ]
  - id: each
    foreach:
      items: "event.properties.ids"
      parallel: 3
      steps: [ { id: tell, action: customerio.identify, destination: cio, with: { identifier: "string(item)" } } ]
`)
	if !d.Matches || d.Outcome != "would succeed" || d.Trigger != "source cio-reports and type email_delivered: selected, and the condition holds" {
		t.Fatalf("dry run %+v", d)
	}
	want := []string{
		`known filter: true`,
		`notify action: null POST ` + f.trackURL(t) + `/api/v1/customers/u1/events`,
		`later wait: {"until":"2026-11-23T11:00:00Z"}`,
		`pick branch: true`,
		`mark profile.update: {"increment":{"emails":1},"profile_id":"p1","set":{"seen":true},"unset":["bounced"]}`,
		`each foreach: [1,2,3,4,5,6,7]`,
	}
	for i := range maxDryItems {
		want = append(want, `tell[`+string(rune('0'+i))+`] action: null PUT `+f.trackURL(t)+`/api/v1/customers/`+string(rune('1'+i)))
	}
	if diff := cmp.Diff(want, rows(d)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	notify := d.Steps[1]
	if notify.Input["name"] != "email_seen" || !strings.Contains(string(notify.Request.Body), `"subject":"Hi"`) {
		t.Fatalf("notify %+v", notify)
	}
	if got := notify.Request.Headers["Authorization"]; len(got) != 1 || strings.Contains(got[0], "czpr") { // base64("s:k")
		t.Fatalf("credentials not masked: %v", got)
	}
	// Nothing was sent, nothing was written.
	if len(f.bodies) != 0 {
		t.Fatalf("sent %v", f.bodies)
	}
	if p, _ := f.store.FindProfileByID(t.Context(), "p1"); p.Traits["seen"] != nil || p.Traits["emails"] != 2.0 {
		t.Fatalf("profile changed: %v", p.Traits)
	}
	if runs, _, _ := f.store.FindRuns(t.Context(), cdp.RunFilter{WorkflowID: "tour"}); len(runs) != 0 {
		t.Fatalf("runs written: %v", runs)
	}
}

// How a dry run ends is how the run would (the outcome starts so): skipped at a false filter,
// succeeded at a stop, failed at the step whose expression fails (and an
// earlier action's output, unknown to a dry run, is named as the cause).
func TestDryRunOutcomes(t *testing.T) {
	f := newEngineFixture(t, flow)
	for _, tc := range []struct{ steps, outcome string }{
		{`[ { id: no, filter: "event.properties.subject == 'Bye'" }, { id: after, stop: true } ]`, "would be skipped at no (its filter is false)"},
		{`[ { id: b, branch: { if: "true", then: [ { id: done, stop: true } ] } }, { id: after, stop: true } ]`, "would succeed at done (stop)"},
		{`[ { id: w, wait: "duration(event.properties.subject)" } ]`, `would fail at w: wait: `},
		{`[ { id: up, profile.update: { set: { a: "1" } } } ]`, "would fail at up: profile.update: the event has no profile"},
		{`[ { id: notify, action: customerio.track_event, destination: cio, with: { identifier: "'u1'", name: "'x'" } },
		    { id: use, filter: "steps.notify.output.ok" } ]`, "would fail at use: filter: no such key: notify"},
	} {
		d := f.dryRun(t, "id: t\ntrigger: { types: [other] }\nsteps: "+tc.steps)
		want := "would not start (source cio-reports and type email_delivered: not selected by the trigger's sources and types); if it did, it " + tc.outcome
		if d.Matches || !strings.HasPrefix(d.Outcome, want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.steps, d.Outcome, want)
		}
		if last := d.Steps[len(d.Steps)-1]; strings.Contains(tc.outcome, "notify") && !strings.Contains(last.Error, "a dry run calls nothing") {
			t.Errorf("unexplained: %+v", last)
		}
	}
}

// A dry run of a wait_for says whether an event of the person stored
// since already meets it, and until when it would wait; it waits for
// nothing and writes no wait.
func TestDryRunWaitFor(t *testing.T) {
	f, reg := journey(t)
	d := f.dryRun(t, cartFlow)
	if got := rows(d); len(got) < 1 || !strings.HasPrefix(got[0], `bought wait_for: {"deadline":"2026-11-23T11:00:00Z","matched":false}`) {
		t.Fatalf("before the order: %v", got)
	}
	f.later(t, reg, "order", "order_completed", `{"cart_id":"c1"}`, time.Minute)
	d = f.dryRun(t, cartFlow)
	got := rows(d)
	if !strings.Contains(got[0], `"matched":true`) || !strings.Contains(got[0], `"message_id":"order"`) || !strings.Contains(strings.Join(got, "\n"), "thank") {
		t.Fatalf("after the order: %v", got)
	}
	if ws := f.waits(t); len(ws) != 1 { // the exit rule's, from journey()
		t.Fatalf("a dry run wrote waits: %+v", ws)
	}
}
