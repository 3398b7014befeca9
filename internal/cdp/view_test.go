package cdp

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// viewByJSON is what View stands for: the event as a store reads it back,
// encoded and decoded into plain values.
func viewByJSON(t *testing.T, e *Event) (map[string]any, bool) {
	data, err := json.Marshal(e.Stored())
	if err != nil {
		return nil, false // not an event any API could show
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		// Valid JSON that plain values cannot hold (a number beyond a
		// float64): View shows that body as null rather than failing.
		return nil, false
	}
	return m, true
}

func TestEventView(t *testing.T) {
	orig := time.Date(2026, 11, 23, 12, 0, 0, 5, time.FixedZone("", 2*3600))
	events := []*Event{
		{ID: "e1", SourceID: "s", Type: "t", Timestamp: orig, ReceivedAt: orig.Add(time.Second)},
		{ID: "e2", SourceID: "s", Type: "purchase", MessageID: "m", ProfileID: "p", SessionID: "x",
			Timestamp: orig, OriginalTimestamp: &orig, ReceivedAt: time.Now(),
			Properties: json.RawMessage(`{"total":12.5,"items":[1,"two",null,{"a":true}],"big":12345678901234567890}`),
			Context:    json.RawMessage(`{"ip":"1.2.3.4","html":"<b>&</b>"}`), Traits: json.RawMessage(`{"plan":"pro"}`),
			Tags: []string{"a", "b\xff"}, UserID: "u", AnonymousID: "a", UserAgent: "UA\xc3(\xff",
			Identifiers: []Identifier{{Kind: "id", Value: "u"}, {Kind: "email", Value: "a@b.c"}},
			Op:          OpIdentify, Error: "boom", RequestID: "r", ReplayOf: "e0", Rerun: true, Ephemeral: true,
			Violations: []Violation{{Plan: "p", Kind: ViolationSchema, Path: "/properties/a", Message: "m"}, {Kind: ViolationTransform, Message: "x\xff"}}},
		{ID: "e3", Properties: json.RawMessage(`null`), Context: json.RawMessage(`[]`), Traits: json.RawMessage(`"x"`)},
	}
	for _, e := range events {
		want, ok := viewByJSON(t, e)
		if !ok {
			t.Fatalf("event %s does not encode", e.ID)
		}
		if got := e.View(); !reflect.DeepEqual(got, want) {
			t.Errorf("event %s:\n view %#v\n json %#v", e.ID, got, want)
		}
	}
}

// A body plain values cannot hold (a number beyond a float64) shows as
// null; the rest of the view is there.
func TestEventViewOutOfRange(t *testing.T) {
	e := &Event{ID: "e", Type: "t", Properties: json.RawMessage(`{"x":1e400}`), Context: json.RawMessage(`{"ok":1}`)}
	v := e.View()
	if v["properties"] != nil || v["id"] != "e" || v["context"].(map[string]any)["ok"] != 1.0 {
		t.Fatalf("view %#v", v)
	}
}

// View equals the JSON round trip for any event that encodes.
func FuzzEventView(f *testing.F) {
	f.Add("e", "purchase", "u\xff", "", int64(1_700_000_000_123_456_789), 3600, []byte(`{"a":[1,2.5,"x"]}`), []byte(`{}`), []byte(nil), "id", "42")
	f.Add("", "", "", "UA", int64(0), -7200, []byte(`null`), []byte(``), []byte(`{"t":true}`), "", "")
	f.Fuzz(func(t *testing.T, id, typ, user, ua string, nanos int64, offset int, props, ctx, traits []byte, kind, value string) {
		at := time.Unix(0, nanos).In(time.FixedZone("", offset%(18*3600)))
		e := &Event{ID: id, SourceID: "s", Type: typ, UserID: user, UserAgent: ua, Timestamp: at, ReceivedAt: at,
			OriginalTimestamp: &at, Properties: props, Context: ctx, Traits: traits, Tags: []string{typ, user}}
		if kind != "" {
			e.Identifiers = []Identifier{{Kind: kind, Value: value}}
		}
		got := e.View() // whatever the event holds, a view
		want, ok := viewByJSON(t, e)
		if !ok {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("view %#v\njson %#v", got, want)
		}
	})
}
