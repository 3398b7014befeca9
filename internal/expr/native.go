package expr

import (
	"fmt"
	"reflect"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// jsonValueType is the protobuf JSON value CEL converts any of its values
// to; protojson then renders it.
var jsonValueType = reflect.TypeFor[*structpb.Value]()

func protojsonMarshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("expression result: unexpected %T", v)
	}
	return protojson.Marshal(m)
}
