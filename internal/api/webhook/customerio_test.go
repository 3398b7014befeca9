package webhook

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithEnvelope(t *testing.T) {
	rep := report{EventID: "E", ObjectType: "email", Metric: "sent"}
	for data, want := range map[string]map[string]any{
		`{}`:                         {"event_id": "E", "object_type": "email", "metric": "sent"},
		"{ \"a\": 1 \n}":             {"a": 1.0, "event_id": "E", "object_type": "email", "metric": "sent"},
		`{"metric":"x","b":[1,2]}`:   {"b": []any{1.0, 2.0}, "event_id": "E", "object_type": "email", "metric": "sent"},
		`{"n":{"event_id":"inner"}}`: {"n": map[string]any{"event_id": "inner"}, "event_id": "E", "object_type": "email", "metric": "sent"},
	} {
		out := withEnvelope([]byte(data), rep)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s → %s: %v", data, out, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s → %s (-want +got):\n%s", data, out, diff)
		}
	}
}
