package expr

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// An expression's result reads as its JSON would decode: the walk gives
// what rendering CEL's JSON value and parsing it back gave, and refuses
// what JSON cannot carry.
func TestNativeIsTheJSONRoundTrip(t *testing.T) {
	env := MustEnv(Var{Name: "event", Type: Object})
	vars := map[string]any{"event": map[string]any{"properties": map[string]any{"n": 12.5, "s": "ü", "l": []any{1.0, "x", nil, true}, "bad": "\xff"}}}
	for _, src := range []string{
		`{'a': 1, 'b': [1u, 2.5, -3], 'c': {'d': null, 'e': true}}`,
		`event.properties.without(['bad']).with({'t': timestamp('2026-12-07T10:00:00.5Z'), 'd': duration('1.5s'), 'b': b'\x00\xff'})`,
		`[9007199254740993, -9223372036854775808, 18446744073709551615u, 1e300]`,
		`event.properties.l.map(x, [x, x])`,
		`{'': 'empty key', 'ünï': '😀'}`,
		`event.properties.without(['bad'])`,
		`1.0/3.0`,
	} {
		prg, err := env.Compile(src, Any)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		val, err := prg.eval(t.Context(), vars)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := native(val)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		j, _ := val.ConvertToNative(jsonValueType)
		data, err := protojson.Marshal(j.(*structpb.Value))
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-round trip +walk):\n%s", src, diff)
		}
	}
	for _, src := range []string{`{'x': 0.0/0.0}`, `[1.0/0.0]`, `{'s': event.properties.bad}`} {
		prg, err := env.Compile(src, Any)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if val, err := prg.eval(t.Context(), vars); err == nil {
			if got, err := native(val); err == nil {
				t.Errorf("%s gave %v, want an error (JSON cannot carry it)", src, got)
			}
		}
	}
}
