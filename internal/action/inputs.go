package action

import (
	"fmt"
	"strconv"
	"time"
)

// Text renders an input as a string: strings as they are, numbers without
// a needless fraction.
func Text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(v)
}

// OptionalObject returns the object input key, nil if it was not given.
func OptionalObject(in map[string]any, key string) (map[string]any, error) {
	switch v := in[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("%s: must be a map, not %T", key, in[key])
}

// OptionalTime returns the time input key as Unix seconds, 0 if it was not
// given.
func OptionalTime(in map[string]any, key string) (int64, error) {
	switch v := in[key].(type) {
	case nil:
		return 0, nil
	case float64:
		return int64(v), nil
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("%s: must be Unix seconds or an RFC 3339 time", key)
}
