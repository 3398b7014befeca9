package tracardi

import (
	"fmt"
	"testing"
)

// The tracker payload is validated as Tracardi's model validates it: a
// valid payload decodes to its source, session, profile and events, and an
// invalid one reports every problem, each with its location, at once.
func TestDecodePayload(t *testing.T) {
	p, problems := decodePayload([]byte(`{"source":{"id":"web"},"session":{"id":"s1"},"profile":{"id":"p1"},
		"context":{"page":{"url":"https://x"}},"events":[{"type":"Page View","id":"e1","properties":{"a":1},"options":{"save":false}},{"type":"purchase"}]}`))
	if len(problems) > 0 {
		t.Fatalf("problems %+v", problems)
	}
	if p.sourceID != "web" || p.sessionID != "s1" || p.profileID != "p1" || len(p.events) != 2 {
		t.Fatalf("payload %+v", p)
	}
	if e := p.events[0]; e.Type != "page-view" || e.MessageID != "e1" || !e.Ephemeral || string(e.Properties) != `{"a":1}` {
		t.Errorf("first event %+v", e)
	}
	if e := p.events[1]; e.Type != "purchase" || e.Ephemeral {
		t.Errorf("second event %+v", e)
	}

	_, problems = decodePayload([]byte(`{"source":{},"context":[],"events":[{"properties":5},{"type":7},"x"]}`))
	got := map[string]bool{}
	for _, pr := range problems {
		got[fmt.Sprintf("%s %v", pr.Type, pr.Loc)] = true
	}
	for _, want := range []string{
		"missing [body source id]", "dict_type [body context]", "missing [body events 0 type]",
		"dict_type [body events 0 properties]", "string_type [body events 1 type]", "model_attributes_type [body events 2]",
	} {
		if !got[want] {
			t.Errorf("no %q among %v", want, got)
		}
	}
	for _, body := range []string{`[]`, `"x"`, `{"source":`, ``} {
		if _, problems := decodePayload([]byte(body)); len(problems) != 1 {
			t.Errorf("%q: %d problems, want one", body, len(problems))
		}
	}
}
