package workflow

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// frequency reads as once or {once_per: …} in YAML and JSON, writes back
// the same, and refuses anything else.
func TestFrequencyForms(t *testing.T) {
	for _, c := range []struct{ yaml, json string }{
		{"once", `"once"`},
		{"{once_per: 24h}", `{"once_per":"24h0m0s"}`},
	} {
		var f Frequency
		if err := yaml.Unmarshal([]byte(c.yaml), &f); err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		b, _ := json.Marshal(f)
		var back Frequency
		if string(b) != c.json || json.Unmarshal(b, &back) != nil || back != f {
			t.Fatalf("%s: %s, read back %+v", c.yaml, b, back)
		}
	}
	for _, bad := range []string{"twice", "{once_per: soon}", "{once_per: -1h}", "[1]"} {
		var f Frequency
		if err := yaml.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s: accepted as %+v", bad, f)
		}
	}
	if err := json.Unmarshal([]byte(`{"once_per":"0s"}`), new(Frequency)); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("zero period: %v", err)
	}
}

// A trigger's frequency starts one run per person, however many of their
// events match in one transaction or over time: once ever, or once per
// period; another person is not held back, and an event without a
// person is not limited.
func TestTriggerFrequency(t *testing.T) {
	f := newEngineFixture(t, flow)
	reg, err := NewRegistry(f.store, testActions, []Workflow{
		*parse(t, "id: once\ntrigger: { types: [view], frequency: once }\nsteps: [ { id: s, stop: true } ]"),
		*parse(t, "id: daily\ntrigger: { types: [view], frequency: { once_per: 24h } }\nsteps: [ { id: s, stop: true } ]"),
	}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	started := func(at time.Duration, pids ...string) []string {
		var out []string
		now := f.clock.Add(at)
		if err := f.store.Update(t.Context(), func(tx cdp.Tx) error {
			for _, pid := range pids {
				runs, err := reg.Runs(t.Context(), tx, &cdp.Event{ID: cdp.NewID(), Type: "view", ProfileID: pid, ReceivedAt: now}, now)
				if err != nil {
					return err
				}
				for _, r := range runs {
					out = append(out, r.WorkflowID+":"+pid)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := strings.Join(started(0, "p1", "p1", "p2"), " "); got != "once:p1 daily:p1 once:p2 daily:p2" {
		t.Fatalf("first events: %s", got)
	}
	if got := started(time.Hour, "p1"); len(got) != 0 {
		t.Fatalf("an hour later: %v", got)
	}
	if got := strings.Join(started(25*time.Hour, "p1", ""), " "); got != "daily:p1 once: daily:" {
		t.Fatalf("a day later: %s", got)
	}
}
