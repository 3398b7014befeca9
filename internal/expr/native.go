package expr

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"
)

// toJSON is a CEL value as encoding/json would decode its JSON. Strings,
// numbers, bools, null, maps with string keys and lists are walked as
// they are; anything else (a timestamp, a duration, bytes, a map with
// other keys) goes through CEL's own JSON conversion, which says how it
// renders or why it cannot.
func toJSON(val ref.Val) (any, error) {
	switch v := val.(type) {
	case types.String:
		if !utf8.ValidString(string(v)) {
			return nil, errors.New("expression result: a string is not valid UTF-8")
		}
		return string(v), nil
	case types.Bool:
		return bool(v), nil
	case types.Null:
		return nil, nil
	case types.Double:
		return number(float64(v))
	case types.Int:
		if v > maxJSONInt || v < -maxJSONInt {
			return strconv.FormatInt(int64(v), 10), nil // CEL's JSON: beyond a double's exact integers, a string
		}
		return float64(v), nil
	case types.Uint:
		if v > maxJSONInt {
			return strconv.FormatUint(uint64(v), 10), nil
		}
		return float64(v), nil
	case traits.Mapper:
		out := map[string]any{}
		for it := v.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			key, ok := k.(types.String)
			if !ok {
				return viaJSONValue(val)
			}
			x, err := toJSON(v.Get(k))
			if err != nil {
				return nil, err
			}
			if !utf8.ValidString(string(key)) {
				return nil, errors.New("expression result: a key is not valid UTF-8")
			}
			out[string(key)] = x
		}
		return out, nil
	case traits.Lister:
		var out []any
		for it := v.Iterator(); it.HasNext() == types.True; {
			x, err := toJSON(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	return viaJSONValue(val)
}

// maxJSONInt is the largest integer a double holds exactly.
const maxJSONInt = 1<<53 - 1

func number(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("expression result: %v cannot be JSON", f)
	}
	return f, nil
}

// viaJSONValue converts val with CEL's JSON conversion.
func viaJSONValue(val ref.Val) (any, error) {
	j, err := val.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, fmt.Errorf("expression result: %w", err)
	}
	return fromJSONValue(j.(*structpb.Value))
}

// jsonValueType is the protobuf JSON value CEL converts any of its values
// to (its own JSON conversion: timestamps and durations as strings, bytes
// as base64, every number a double).
var jsonValueType = reflect.TypeFor[*structpb.Value]()

// fromJSONValue is v as encoding/json would decode its JSON: maps, slices,
// strings, float64s, bools and nil. Walking values instead of rendering
// and parsing them saved a transform most of its time; what JSON cannot
// carry (a NaN, an infinity, a string that is not UTF-8) is refused, as
// rendering it would be.
func fromJSONValue(v *structpb.Value) (any, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	case *structpb.Value_BoolValue:
		return k.BoolValue, nil
	case *structpb.Value_NumberValue:
		return number(k.NumberValue)
	case *structpb.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return nil, errors.New("expression result: a string is not valid UTF-8")
		}
		return k.StringValue, nil
	case *structpb.Value_ListValue:
		out := make([]any, len(k.ListValue.GetValues()))
		for i, x := range k.ListValue.GetValues() {
			var err error
			if out[i], err = fromJSONValue(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *structpb.Value_StructValue:
		out := make(map[string]any, len(k.StructValue.GetFields()))
		for key, x := range k.StructValue.GetFields() {
			if !utf8.ValidString(key) {
				return nil, errors.New("expression result: a key is not valid UTF-8")
			}
			var err error
			if out[key], err = fromJSONValue(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("expression result: unexpected %T", v.GetKind())
}
