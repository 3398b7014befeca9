package tracardi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"math"
	"strconv"
	"strings"
	"time"
)

// problem is one entry of FastAPI's 422 body: {"detail":[problem...]}.
type problem struct {
	Type  string            `json:"type"`
	Loc   []any             `json:"loc"`
	Msg   string            `json:"msg"`
	Input json.RawMessage   `json:"input"`
	Ctx   map[string]string `json:"ctx,omitempty"`
}

// validator collects problems the way pydantic does: every field is
// checked and all problems are reported together.
type validator struct{ problems []problem }

func (v *validator) add(typ string, loc []any, msg string, input json.RawMessage) {
	if input == nil {
		input = json.RawMessage(`{}`)
	}
	v.problems = append(v.problems, problem{Type: typ, Loc: append([]any{"body"}, loc...), Msg: msg, Input: input})
}

func at(loc []any, more ...any) []any { return append(append([]any(nil), loc...), more...) }

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// str decodes an optional string field; ok is false if it is absent or null.
func (v *validator) str(raw json.RawMessage, loc []any) (s string, ok bool) {
	if isNull(raw) {
		return "", false
	}
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		v.add("string_type", loc, "Input should be a valid string", raw)
		return "", false
	}
	return s, true
}

// object checks an optional JSON object field and returns it (nil if absent).
func (v *validator) object(raw json.RawMessage, loc []any) json.RawMessage {
	if isNull(raw) {
		return nil
	}
	if kind(raw) != '{' {
		v.add("dict_type", loc, "Input should be a valid dictionary", raw)
		return nil
	}
	return raw
}

// entity decodes {"id": "<string>"}; an absent or null entity returns "".
func (v *validator) entity(raw json.RawMessage, loc []any, parent json.RawMessage, required bool) string {
	if raw == nil && required {
		v.add("missing", loc, "Field required", parent)
		return ""
	}
	if isNull(raw) {
		if required {
			v.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", raw)
		}
		return ""
	}
	if kind(raw) != '{' {
		v.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", raw)
		return ""
	}
	var e struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(raw, &e)
	if e.ID == nil {
		v.add("missing", at(loc, "id"), "Field required", raw)
		return ""
	}
	id, _ := v.str(e.ID, at(loc, "id"))
	if string(e.ID) == "null" {
		v.add("string_type", at(loc, "id"), "Input should be a valid string", e.ID)
	}
	return strings.TrimSpace(id)
}

// options reads Tracardi options: only JSON booleans count, anything else
// leaves the default (Tracardi's code).
type options map[string]json.RawMessage

func (o options) on(key string, def bool) bool {
	switch string(o[key]) {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}

func (v *validator) options(raw json.RawMessage, loc []any) options {
	if v.object(raw, loc) == nil {
		return options{}
	}
	var o options
	_ = json.Unmarshal(raw, &o)
	return o
}

// eventTime is Tracardi's Time: insert (when the event counts), create
// (the client's clock) and update.
type eventTime struct{ insert, create *time.Time }

func (v *validator) eventTime(raw json.RawMessage, loc []any) eventTime {
	var t eventTime
	if v.object(raw, loc) == nil {
		return t
	}
	var fields struct{ Insert, Create, Update json.RawMessage }
	_ = json.Unmarshal(raw, &fields)
	t.insert = v.datetime(fields.Insert, at(loc, "insert"))
	t.create = v.datetime(fields.Create, at(loc, "create"))
	v.datetime(fields.Update, at(loc, "update"))
	return t
}

// datetime parses what pydantic accepts for a datetime: ISO 8601 with 'T'
// or ' ' between date and time, a date alone, or a Unix timestamp in
// seconds (milliseconds when larger than 2e10). Naive times are UTC.
func (v *validator) datetime(raw json.RawMessage, loc []any) *time.Time {
	if isNull(raw) {
		return nil
	}
	var t time.Time
	var err error
	switch kind(raw) {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		t, err = parseTime(s)
	default:
		var f float64
		if err = json.Unmarshal(raw, &f); err == nil {
			if math.Abs(f) > 2e10 {
				f /= 1000
			}
			t, err = unixTime(f)
		}
	}
	if err != nil {
		v.add("datetime_from_date_parsing", loc, "Input should be a valid datetime or date", raw)
		return nil
	}
	if !cdp.ValidTime(t) {
		// pydantic's own words for a time it cannot represent.
		v.add("datetime_from_date_parsing", loc, "Input should be a valid datetime or date, dates after 9999 are not supported as unix timestamps", raw)
		return nil
	}
	return &t
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && (s[10] == ' ' || s[10] == 't') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return unixTime(math.Trunc(f))
	}
	return time.Time{}, fmt.Errorf("invalid datetime %q", s)
}

// unixTime converts Unix seconds, refusing what no time.Time can hold (a
// float beyond int64 would wrap around to some other time).
func unixTime(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.Abs(f) >= 1<<62/1e9 {
		return time.Time{}, fmt.Errorf("unix time %g is out of range", f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// eventType normalises a Tracardi event type: trimmed, lower-cased, spaces
// turned into '-' ("Sign Up" → "sign-up"). Blank types are refused.
func (v *validator) eventType(raw json.RawMessage, loc []any, parent json.RawMessage) string {
	if raw == nil {
		v.add("missing", loc, "Field required", parent)
		return ""
	}
	s, ok := v.str(raw, loc)
	if string(raw) == "null" {
		v.add("string_type", loc, "Input should be a valid string", raw)
	}
	if !ok {
		return ""
	}
	t, err := NormalizeType(s)
	if err != nil {
		v.problems = append(v.problems, problem{Type: "value_error", Loc: append([]any{"body"}, loc...),
			Msg: "Value error, " + err.Error(), Input: raw, Ctx: map[string]string{"error": err.Error()}})
	}
	return t
}

// NormalizeType applies Tracardi's event type rule.
func NormalizeType(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("Event type can not be empty")
	}
	return strings.ReplaceAll(strings.ToLower(s), " ", "-"), nil
}

// jsonError converts a JSON syntax error into FastAPI's json_invalid problem.
func jsonError(err error) problem {
	var syn *json.SyntaxError
	pos := 0
	if errors.As(err, &syn) {
		pos = int(syn.Offset)
	}
	return problem{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error",
		Input: json.RawMessage(`{}`), Ctx: map[string]string{"error": err.Error()}}
}
