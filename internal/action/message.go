package action

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Payload is a message's body: a string as it is (text/plain), anything
// else as JSON (application/json), as http.call sends its body.
func Payload(v any) (body []byte, contentType string, err error) {
	if s, ok := v.(string); ok {
		return []byte(s), "text/plain; charset=utf-8", nil
	}
	if body, err = json.Marshal(v); err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	return body, "application/json", nil
}

// Message reads a broker message's inputs: the body (see Payload) and
// the object input headersKey (see Headers).
func Message(in map[string]any, headersKey string) (body []byte, contentType string, headers map[string]string, err error) {
	if body, contentType, err = Payload(in["body"]); err != nil {
		return nil, "", nil, err
	}
	headers, err = Headers(in, headersKey)
	return body, contentType, headers, err
}

// Headers returns the object input key as text values, nil if it was not
// given. Names must be printable ASCII without ':' and values one line:
// what every broker's header format can carry.
func Headers(in map[string]any, key string) (map[string]string, error) {
	obj, err := OptionalObject(in, key)
	if err != nil || obj == nil {
		return nil, err
	}
	out := make(map[string]string, len(obj))
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' }) {
			return nil, fmt.Errorf("%s: %q is not a header name (printable ASCII, no spaces or ':')", key, name)
		}
		v := Text(obj[name])
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%s: the value of %s spans lines", key, name)
		}
		out[name] = v
	}
	return out, nil
}

// JSONOutput is the step output of an answer whose body is JSON (a
// broker's acknowledgement as the family wrote it).
func JSONOutput(_ int, body []byte) (any, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return v, nil
}

// JSONArray joins parts whose Data are JSON values into a JSON array.
func JSONArray(parts []Part) []byte {
	n := 2
	for _, p := range parts {
		n += len(p.Data) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, p := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p.Data...)
	}
	return append(out, ']')
}
