package server_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

const replaySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// postStandard sends body to /webhooks/{source} signed as Standard
// Webhooks specifies, with message id id.
func (s *stack) postStandard(t *testing.T, source, id, body string) reply {
	t.Helper()
	ts := time.Now().Unix()
	sig, err := hooks.SignStandard(replaySecret, id, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, "POST", "/webhooks/"+source, "application/json", body,
		hooks.HeaderID, id, hooks.HeaderTimestamp, strconv.FormatInt(ts, 10), hooks.HeaderSignature, sig)
}

type replaySummary struct {
	Selected, Requests, Replayed, Events int
	Missing, Failed                      []struct{ EventID, Reason string }
	NextCursor                           string `json:"next_cursor"`
}

func (s *stack) replay(t *testing.T, body string) replaySummary {
	t.Helper()
	r := s.do(t, "POST", "/admin/v1/replays", "application/json", body)
	wantStatus(t, r, 200)
	var sum replaySummary
	json.Unmarshal(r.body, &sum)
	return sum
}

// After a webhook source's event_type expression is fixed, replaying its
// captured requests stores the re-typed events, each linked to its
// original (no signature is checked again: the captures mask nothing the
// check needs, it was done on arrival); a second replay stores nothing
// new, force stores again, and a request whose capture was cut is
// reported, not guessed.
func TestReplayAfterFixingEventType(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.RawCapture.MaxBodyBytes = 200 })
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"pay","kind":"webhook","verify":{"scheme":"standard_webhooks","secret":"`+replaySecret+`"},"event_type":"body.type"}`), 201)
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	wantStatus(t, s.postStandard(t, "pay", "msg_1", `{"type":"invoice","kind":"paid","n":1}`), 200)
	wantStatus(t, s.postStandard(t, "pay", "msg_2", `{"type":"invoice","kind":"refunded","n":2}`), 200)
	wantStatus(t, s.postStandard(t, "pay", "msg_3", `{"type":"invoice","kind":"paid","pad":"`+strings.Repeat("x", 300)+`"}`), 200)
	originals := s.events(t, "source=pay", 3)

	// The fix: the type is in body.kind.
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/pay", "application/json",
		`{"id":"pay","kind":"webhook","verify":{"scheme":"standard_webhooks","secret":"`+replaySecret+`"},"event_type":"'invoice.' + body.kind"}`), 200)

	dry := s.replay(t, `{"source":"pay","since":"`+since+`","dry_run":true}`)
	if dry.Selected != 3 || dry.Requests != 3 || dry.Replayed != 0 || len(dry.Missing) != 1 || !strings.Contains(dry.Missing[0].Reason, "cut at raw_capture.max_body_bytes") {
		t.Fatalf("dry run %+v", dry)
	}
	sum := s.replay(t, `{"source":"pay","since":"`+since+`"}`)
	if sum.Replayed != 2 || sum.Events != 2 || len(sum.Failed) != 0 {
		t.Fatalf("replay %+v", sum)
	}
	paid := s.events(t, "source=pay&type=invoice.paid", 1)[0]
	refunded := s.events(t, "source=pay&type=invoice.refunded", 1)[0]
	byID := map[string]map[string]any{}
	for _, o := range originals {
		byID[o["id"].(string)] = o
	}
	for _, e := range []map[string]any{paid, refunded} {
		orig := byID[e["replay_of"].(string)]
		if orig == nil || orig["properties"].(map[string]any)["kind"] != e["properties"].(map[string]any)["kind"] {
			t.Fatalf("%v replays %v", e, e["replay_of"])
		}
	}

	// Again: nothing new is stored; the replays themselves are not
	// selected.
	again := s.replay(t, `{"source":"pay","since":"`+since+`"}`)
	if again.Selected != 3 {
		t.Fatalf("second replay selected %d (replays must not be)", again.Selected)
	}
	s.settle(t)
	s.events(t, "source=pay", 5)

	// One event, forced: stored once more.
	r := s.do(t, "POST", "/admin/v1/events/"+refunded["replay_of"].(string)+"/replay?force=true", "", "")
	wantStatus(t, r, 200)
	s.events(t, "source=pay&type=invoice.refunded", 2)
	wantStatus(t, s.do(t, "POST", "/admin/v1/events/nope/replay", "", ""), 404)
	wantStatus(t, s.do(t, "POST", "/admin/v1/replays", "application/json", `{"source":"pay","filter":"event."}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/replays", "application/json", `{"source":"nope"}`), 404)
	wantStatus(t, s.do(t, "POST", "/admin/v1/replays", "application/json", `not json`), 400)
}

// A replay never runs again a workflow that ran for the event it replays
// (a second email, a second delivery), unless it asks to; and the
// replay of an anonymous tracker request belongs to the original's
// profile and session instead of making new ones.
func TestReplayDoesNotRunWorkflowsTwice(t *testing.T) {
	t.Parallel()
	dest := testenv.NewArrivals(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: dest.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "notify", Trigger: workflow.Trigger{Source: "web", Types: []string{"buy"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app"}}}}
	})
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"buy","properties":{"sku":"A"}}]}`), 200)
	orig := s.events(t, "source=web&type=buy", 1)[0]
	testenv.Eventually(t, "the first delivery", 10*time.Second, func() bool { return len(dest.Times()) == 1 })

	r := s.do(t, "POST", "/admin/v1/events/"+orig["id"].(string)+"/replay", "", "")
	wantStatus(t, r, 200)
	buys := s.events(t, "source=web&type=buy", 2)
	replayed := buys[0]
	if replayed["replay_of"] != orig["id"] || replayed["profile_id"] != orig["profile_id"] || replayed["session_id"] != orig["session_id"] {
		t.Fatalf("the replay %v does not belong to the original's profile and session %v", replayed, orig)
	}
	s.events(t, "source=web&type=profile-created", 1) // no second profile
	s.events(t, "source=web&type=session-opened", 1)
	s.settle(t)
	runs := s.do(t, "GET", "/admin/v1/runs?workflow=notify", "", "").json(t)["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs after the replay, want the original's alone", len(runs))
	}

	// Asked to, a replay runs the workflow again.
	wantStatus(t, s.do(t, "POST", "/admin/v1/events/"+orig["id"].(string)+"/replay?force=true&rerun_workflows=true", "", ""), 200)
	s.events(t, "source=web&type=buy", 3)
	testenv.Eventually(t, "the second delivery", 10*time.Second, func() bool { return len(dest.Times()) == 2 })
}
