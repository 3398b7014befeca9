package hooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
)

// Env declares what a webhook source's expressions see: the decoded body
// (a JSON value, a form as a map, or the raw text), and the headers (names
// in lower case) and query parameters, each a map to lists of values.
var Env = expr.MustEnv(expr.Var{Name: "body", Type: expr.Dyn}, expr.Var{Name: "headers", Type: expr.StringLists},
	expr.Var{Name: "query", Type: expr.StringLists})

// Receiver is a webhook source compiled for receiving: its verifier and
// its expressions, built once when the source is loaded.
type Receiver struct {
	Source    *cdp.Source
	verify    func(h http.Header, body []byte, now time.Time) error
	eventType *expr.Program
	dedupKey  *expr.Program
}

// Compile builds the receiver of a customerio_webhook or webhook source,
// or returns its problems keyed by field (as cdp.Source.Validate does).
func Compile(src *cdp.Source) (*Receiver, map[string]string) {
	problems := map[string]string{}
	r := &Receiver{Source: src}
	switch src.Kind {
	case cdp.SourceCustomerIOWebhook:
		key, tolerance := src.SigningKey, time.Duration(src.TimestampTolerance)*time.Second
		r.verify = func(h http.Header, body []byte, now time.Time) error {
			return VerifyCustomerIO(key, tolerance, h, body, now)
		}
	case cdp.SourceWebhook:
		r.verify = verifier(src.Verify, problems)
		compile := func(field, src string) *expr.Program {
			if src == "" {
				return nil
			}
			p, err := Env.Compile(src, expr.String)
			if err != nil {
				problems[field] = err.Error()
			}
			return p
		}
		r.eventType, r.dedupKey = compile("event_type", src.EventType), compile("dedup_key", src.DedupKey)
	default:
		problems["kind"] = "is not a webhook source kind"
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return r, nil
}

// Check returns the problems Compile would report, or nil; sources with
// other kinds have none.
func Check(src *cdp.Source) map[string]string {
	if src.Kind != cdp.SourceCustomerIOWebhook && src.Kind != cdp.SourceWebhook {
		return nil
	}
	if len(src.Validate()) > 0 {
		return nil // the structural problems are reported first
	}
	_, problems := Compile(src)
	return problems
}

func verifier(v *cdp.WebhookVerify, problems map[string]string) func(http.Header, []byte, time.Time) error {
	if v == nil {
		problems["verify"] = "is required"
		return nil
	}
	switch v.Scheme {
	case cdp.VerifyStandardWebhooks:
		if !ValidStandardSecret(v.Secret) {
			problems["verify.secret"] = "must be whsec_ followed by the base64 of the key"
		}
		tolerance := DefaultTolerance
		if v.Tolerance > 0 {
			tolerance = time.Duration(v.Tolerance) * time.Second
		}
		return func(h http.Header, body []byte, now time.Time) error {
			return VerifyStandard(v.Secret, tolerance, h, body, now)
		}
	case cdp.VerifyHMACSHA256:
		return HMAC{v: v}.Verify
	}
	return func(http.Header, []byte, time.Time) error { return nil }
}

// Verify authenticates a request by its headers and raw body; the error
// has code EUNAUTHORIZED.
func (r *Receiver) Verify(h http.Header, body []byte, now time.Time) error {
	return r.verify(h, body, now)
}

// Input is a received request as the expressions see it.
type Input struct {
	Body    any
	Headers map[string][]string
	Query   map[string][]string
	// Properties is what the event stores: the body if it is a JSON
	// object, else {"body": value} (the text, the form fields, or
	// {"body_base64": …} for bytes that are not UTF-8).
	Properties json.RawMessage
}

// Decode decodes a request for the expressions: JSON when it parses as
// JSON, form fields for application/x-www-form-urlencoded, else the text.
func Decode(h http.Header, query url.Values, body []byte) Input {
	in := Input{Headers: map[string][]string{}, Query: map[string][]string(query)}
	if in.Query == nil {
		in.Query = map[string][]string{}
	}
	for k, v := range h {
		in.Headers[strings.ToLower(k)] = v
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	switch {
	case mt == "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(body)); err == nil {
			fields := map[string]any{}
			for k, v := range form {
				if len(v) == 1 {
					fields[k] = v[0]
				} else {
					fields[k] = anySlice(v)
				}
			}
			in.Body = fields
			in.Properties, _ = json.Marshal(fields)
			return in
		}
	case len(trimmed) > 0 && utf8.Valid(trimmed) && json.Valid(trimmed):
		// JSON with bytes that are not UTF-8 inside its strings is kept
		// whole as body_base64 below: stored as is, it would make every
		// answer that shows the event invalid JSON.
		_ = json.Unmarshal(trimmed, &in.Body)
		if _, ok := in.Body.(map[string]any); ok {
			in.Properties = json.RawMessage(trimmed)
		} else {
			in.Properties, _ = json.Marshal(map[string]json.RawMessage{"body": trimmed})
		}
		return in
	}
	if !utf8.Valid(body) {
		in.Body = base64.StdEncoding.EncodeToString(body)
		in.Properties, _ = json.Marshal(map[string]string{"body_base64": in.Body.(string)})
		return in
	}
	in.Body = string(body)
	in.Properties, _ = json.Marshal(map[string]string{"body": string(body)})
	return in
}

func anySlice(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// Describe derives an event's type and dedup key from in. Without an
// event_type expression the type is the body's string "type" field, if
// any (the Standard Webhooks payload convention), else "webhook"; without
// a dedup_key expression a Standard Webhooks source dedups on webhook-id.
// An expression that fails leaves the default and is reported in problem,
// so that the event is stored and the mistake visible, never lost.
func (r *Receiver) Describe(ctx context.Context, in Input) (typ, dedup, problem string) {
	typ = cdp.EventWebhook
	if obj, ok := in.Body.(map[string]any); ok {
		if t, ok := obj["type"].(string); ok && strings.TrimSpace(t) != "" {
			typ = strings.TrimSpace(t)
		}
	}
	if r.Source.Verify != nil && r.Source.Verify.Scheme == cdp.VerifyStandardWebhooks {
		if v := in.Headers["webhook-id"]; len(v) > 0 {
			dedup = v[0]
		}
	}
	vars := map[string]any{"body": in.Body, "headers": in.Headers, "query": in.Query}
	var problems []string
	if r.eventType != nil {
		t, err := r.eventType.EvalString(ctx, vars)
		if err == nil && strings.TrimSpace(t) != "" {
			typ = strings.TrimSpace(t)
		} else {
			problems = append(problems, "event_type: "+errText(err, "produced an empty string"))
		}
	}
	if r.dedupKey != nil {
		k, err := r.dedupKey.EvalString(ctx, vars)
		if err == nil {
			dedup = k
		} else {
			problems = append(problems, "dedup_key: "+errText(err, ""))
		}
	}
	return typ, dedup, strings.Join(problems, "; ")
}

func errText(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}
