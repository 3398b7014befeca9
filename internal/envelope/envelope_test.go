package envelope

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

func fullBatch() *cdp.Batch {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	orig := time.Date(2026, 12, 2, 11, 0, 0, 5, time.FixedZone("", 3600))
	return &cdp.Batch{ID: "b1", SourceID: "web", ReceivedAt: at,
		Events: []*cdp.Event{{ID: "e1", SourceID: "web", Type: "purchase", MessageID: "m1", ProfileID: "p1", SessionID: "s1",
			Timestamp: at, OriginalTimestamp: &orig, ReceivedAt: at, Properties: json.RawMessage(`{"a":"é"}`), Context: json.RawMessage(`{}`),
			Traits: json.RawMessage(`{"plan":"pro"}`), Tags: []string{"x", "y"}, UserID: "u1", AnonymousID: "a1", UserAgent: "UA/1",
			Identifiers: []cdp.Identifier{{Kind: "id", Value: "u1"}, {Kind: "email", Value: "a@b.c"}}, Op: cdp.OpIdentify,
			Error: "bad", RequestID: "b1", ReplayOf: "e0", Ephemeral: true,
			Violations: []cdp.Violation{{Plan: "p", Kind: cdp.ViolationSchema, Path: "/properties/x", Message: "got string, want number"}}},
			{ID: "e2", Type: "view", Timestamp: at, ReceivedAt: at, Properties: json.RawMessage(``)}},
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		Session:     &cdp.SessionUpdate{ID: "s1", ProfileID: "p1", Context: json.RawMessage(`{"c":1}`), Properties: json.RawMessage(`{"p":2}`)},
		Raw: &cdp.RawRequest{Method: "POST", Path: "/track?x=1", RemoteAddr: "127.0.0.1:1", Header: "Host: a\nX: y", Body: []byte{0, 1, 0xff},
			BodySize: 3, Truncated: true, ReceivedAt: at},
	}
}

func TestRoundTrip(t *testing.T) {
	b := fullBatch()
	env, err := Decode(Join([][]byte{Encode(b), Encode(&cdp.Batch{ID: "b2", SourceID: "app"})}))
	if err != nil {
		t.Fatal(err)
	}
	want := cdp.Envelope{b, {ID: "b2", SourceID: "app"}}
	if env[0].Raw.Packed == nil {
		t.Error("the raw request did not travel packed")
	}
	if diff := cmp.Diff(want, env, cmpopts.IgnoreFields(cdp.RawRequest{}, "Packed")); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	if got := env[0].Events[0].OriginalTimestamp; got.Format(time.RFC3339Nano) != "2026-12-02T11:00:00.000000005+01:00" {
		t.Errorf("original timestamp lost its offset: %s", got.Format(time.RFC3339Nano))
	}
}

// Messages appended by earlier releases are JSON arrays.
func TestDecodesJSON(t *testing.T) {
	b := fullBatch()
	b.Events = b.Events[:1] // an empty RawMessage is not JSON
	data, err := json.Marshal(cdp.Envelope{b})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(data)
	if err != nil || len(env) != 1 || env[0].Events[0].MessageID != "m1" {
		t.Fatalf("Decode(JSON) = %+v, %v", env, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, bad := range []string{"", "x", "[]", "[null]", "\x01", "\x01\x0a\x05ab", "\x01\x0a\x02\x1a\x01"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

// FuzzDecode: no message, however corrupt, makes Decode panic, and what
// it accepts encodes and decodes back to itself.
func FuzzDecode(f *testing.F) {
	f.Add(Join([][]byte{Encode(fullBatch())}))
	f.Add([]byte(`[{"id":"b","source_id":"web","events":[{"id":"e","type":"x","properties":{}}]}]`))
	f.Add([]byte("\x01\x0a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data)
		if err != nil {
			return
		}
		if len(env) == 0 {
			t.Fatal("accepted a message without batches")
		}
		var parts [][]byte
		for _, b := range env {
			if b == nil {
				t.Fatal("nil batch")
			}
			parts = append(parts, Encode(b))
		}
		again, err := Decode(Join(parts))
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if len(again) != len(env) {
			t.Fatalf("re-decoded %d batches, want %d", len(again), len(env))
		}
	})
}
