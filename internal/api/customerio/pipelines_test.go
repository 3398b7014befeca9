package customerio

import (
	"encoding/json"
	"testing"
)

// A call's context is its own over the batch's, key by key, with the
// integrations of both merged; a call without one gets the batch's as it
// was encoded once for the whole request.
func TestCallContext(t *testing.T) {
	const batch = `{"batch":[],"context":{"library":{"name":"analytics-go"},"ip":"1.2.3.4"},"integrations":{"A":true,"B":false}}`
	tests := []struct {
		name, call, want string
	}{
		{"none", `{}`, `{"integrations":{"A":true,"B":false},"ip":"1.2.3.4","library":{"name":"analytics-go"}}`},
		{"null", `{"context":null}`, `{"integrations":{"A":true,"B":false},"ip":"1.2.3.4","library":{"name":"analytics-go"}}`},
		{"empty", `{"context":{}}`, `{"integrations":{"A":true,"B":false},"ip":"1.2.3.4","library":{"name":"analytics-go"}}`},
		{"own over batch", `{"context":{"ip":"5.6.7.8","locale":"fr"}}`, `{"integrations":{"A":true,"B":false},"ip":"5.6.7.8","library":{"name":"analytics-go"},"locale":"fr"}`},
		{"integrations merged", `{"integrations":{"B":true,"C":true}}`, `{"integrations":{"A":true,"B":true,"C":true},"ip":"1.2.3.4","library":{"name":"analytics-go"}}`},
	}
	_, bc, _, err := splitMessages("batch", []byte(batch))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		var m message
		if err := json.Unmarshal([]byte(tt.call), &m); err != nil {
			t.Fatal(err)
		}
		got, msg := callContext(m, bc)
		if msg != "" || string(got) != tt.want {
			t.Errorf("%s: got %s (%q), want %s", tt.name, got, msg, tt.want)
		}
	}

	// Without a batch context, a call's own is kept as sent (compacted).
	var m message
	_ = json.Unmarshal([]byte(`{"context":{ "z":1, "a":2 }}`), &m)
	if got, _ := callContext(m, batchContext{}); string(got) != `{"z":1,"a":2}` {
		t.Errorf("own context: got %s", got)
	}
	_ = json.Unmarshal([]byte(`{"context":"text"}`), &m)
	if _, msg := callContext(m, bc); msg == "" {
		t.Error("a context that is not an object was accepted")
	}
}
