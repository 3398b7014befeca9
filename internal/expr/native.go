package expr

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// jsonValueType is the protobuf JSON value CEL converts any of its values
// to (its own JSON conversion: timestamps and durations as strings, bytes
// as base64, every number a double).
var jsonValueType = reflect.TypeFor[*structpb.Value]()

// fromJSONValue is v as encoding/json would decode its JSON: maps, slices,
// strings, float64s, bools and nil. It walks the value instead of
// rendering and parsing it, which cost a transform most of its time; what
// JSON cannot carry (a NaN, an infinity, a string that is not UTF-8) is
// refused, as rendering it would be.
func fromJSONValue(v *structpb.Value) (any, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	case *structpb.Value_BoolValue:
		return k.BoolValue, nil
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			return nil, fmt.Errorf("expression result: %v cannot be JSON", k.NumberValue)
		}
		return k.NumberValue, nil
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
