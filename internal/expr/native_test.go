package expr

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
		`[9007199254740991, 9007199254740992, -9007199254740991, -9007199254740992, 9007199254740991u, 9007199254740992u, 0, -0.0]`,
		`[[], {}, [[]], {"a": []}]`,
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
		want, err := roundTrip(val)
		if err != nil {
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

// roundTrip is what native used to do: render CEL's JSON value and parse
// it back.
func roundTrip(val ref.Val) (any, error) {
	switch v := val.(type) { // native's own answers for a bare value
	case types.String:
		return string(v), nil
	case types.Bool:
		return bool(v), nil
	case types.Int:
		return int64(v), nil
	case types.Null:
		return nil, nil
	}
	j, err := val.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, err
	}
	data, err := protojson.Marshal(j.(*structpb.Value))
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(data, &out)
}

// Whatever an expression returns, native gives what the JSON round trip
// gave, or refuses what the round trip could not render.
func FuzzNative(f *testing.F) {
	for _, seed := range []string{`{'a': [1, 2u, 3.5, null, true], 'b': {'c': 'd'}}`, `event.properties.with({'t': timestamp('2026-01-01T00:00:00Z')})`,
		`[9007199254740993, -1, duration('90s'), b'ab']`, `{1: 2}`, `[0.0/0.0]`, `event.properties.l.map(x, {'x': x})`} {
		f.Add(seed)
	}
	env := MustEnv(Var{Name: "event", Type: Object})
	vars := map[string]any{"event": map[string]any{"properties": map[string]any{"n": 12.5, "s": "ü", "l": []any{1.0, "x", nil, true, map[string]any{}}}}}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := env.Compile(src, Any)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		val, err := p.eval(ctx, vars)
		if err != nil || types.IsError(val) {
			return
		}
		got, err := native(val)
		want, werr := roundTrip(val)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: native %v (%v), round trip %v (%v)", src, got, err, want, werr)
		}
		if err == nil && !cmp.Equal(want, got, cmpopts.EquateNaNs()) {
			t.Fatalf("%s: native %#v, round trip %#v", src, got, want)
		}
	})
}
