package workflow

import (
	"encoding/json"
	"fmt"
	"github.com/switchyardhq/switchyard/internal/redact"
	"net/http"
	neturl "net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/customerio"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Destination is a configured destination (docs/workflows.md): where an action
// sends and with which credentials and pacing.
type Destination struct {
	ID   string
	Kind string // customerio | webhook | http
	// customerio
	CustomerIO customerio.Destination
	// webhook: the URL and the Standard Webhooks secret (whsec_…)
	URL           string
	SigningSecret string
	// pacing and reach of every kind
	RateLimit           float64
	Concurrency         int
	AllowPrivateNetwork bool
	Timeout             time.Duration
	Retry               *RetryPolicy
}

// Client is the httpclient.Destination of d.
func (d *Destination) Client() httpclient.Destination {
	secrets := append([]string{d.SigningSecret}, redact.URLSecrets(d.URL)...)
	if d.Kind == "customerio" {
		secrets = append(secrets, d.CustomerIO.Secrets()...)
	}
	return httpclient.Destination{ID: d.ID, RateLimit: d.RateLimit, Concurrency: d.Concurrency,
		AllowPrivateNetwork: d.AllowPrivateNetwork, Timeout: d.Timeout, Secrets: secrets}
}

// Call is an action ready to send: the request and how to read a success.
type Call struct {
	Request httpclient.Request
	// Output turns a successful attempt's response into the step output.
	Output func(status int, body []byte) (any, error)
	// Explain, if set, reads the destination's reason from a failed
	// attempt's response, for the run log.
	Explain func(body []byte) string
}

// BuildCall builds the request of an action from its evaluated inputs.
// key is the attempt-independent idempotency key of this step of this run:
// Customer.io's event id, the webhook-id of webhook.send, the
// Idempotency-Key header of http.call, so that a retried attempt (or a
// step resumed after a crash) cannot act twice where the receiver honours
// it. now signs webhooks.
func BuildCall(action string, d *Destination, in map[string]any, key string, now time.Time) (Call, error) {
	call, err := buildCall(action, d, in, key, now)
	if strings.HasPrefix(action, "customerio.") {
		call.Explain = customerio.ErrorMessage
	}
	return call, err
}

func buildCall(action string, d *Destination, in map[string]any, key string, now time.Time) (Call, error) {
	trackOutput := func(int, []byte) (any, error) { return customerio.TrackOutput(), nil }
	switch action {
	case "customerio.track_event":
		data, err := optionalObject(in, "data")
		if err != nil {
			return Call{}, err
		}
		ts, err := optionalInt(in, "timestamp")
		if err != nil {
			return Call{}, err
		}
		req, err := customerio.TrackEvent(d.CustomerIO, customerio.Event{Identifier: text(in["identifier"]),
			AnonymousID: text(in["anonymous_id"]), Name: text(in["name"]), Data: data, ID: key, Timestamp: ts})
		return Call{Request: req, Output: trackOutput}, err
	case "customerio.identify":
		attrs, err := optionalObject(in, "attributes")
		if err != nil {
			return Call{}, err
		}
		req, err := customerio.Identify(d.CustomerIO, text(in["identifier"]), attrs)
		return Call{Request: req, Output: trackOutput}, err
	case "customerio.delete_person":
		req, err := customerio.DeletePerson(d.CustomerIO, text(in["identifier"]))
		return Call{Request: req, Output: trackOutput}, err
	case "customerio.send_email":
		return sendEmail(d, in)
	case "webhook.send":
		return webhookSend(d, in, key, now)
	case "http.call":
		return httpCall(d, in, key)
	}
	return Call{}, fmt.Errorf("unknown action %q", action)
}

func sendEmail(d *Destination, in map[string]any) (Call, error) {
	idents := map[string]string{}
	raw, ok := in["identifiers"].(map[string]any)
	if !ok {
		return Call{}, fmt.Errorf("identifiers: must be a map such as {'id': profile.identifiers.id}")
	}
	for k, v := range raw {
		idents[k] = text(v)
	}
	data, err := optionalObject(in, "message_data")
	if err != nil {
		return Call{}, err
	}
	fields := map[string]any{}
	for k, v := range in {
		if !slices.Contains([]string{"identifiers", "message_data", "transactional_message_id", "to"}, k) {
			fields[k] = v
		}
	}
	req, err := customerio.SendEmail(d.CustomerIO, customerio.Email{TransactionalMessageID: in["transactional_message_id"],
		To: text(in["to"]), Identifiers: idents, MessageData: data, Fields: fields})
	return Call{Request: req, Output: func(_ int, body []byte) (any, error) { return customerio.SendEmailOutput(body) }}, err
}

// webhookSend posts the body (default: the triggering event, set by the
// runner) to the destination's URL with a Standard Webhooks signature whose
// webhook-id is the step's idempotency key.
func webhookSend(d *Destination, in map[string]any, key string, now time.Time) (Call, error) {
	if d.URL == "" {
		return Call{}, fmt.Errorf("destination %s has no url", d.ID)
	}
	body, err := json.Marshal(in["body"])
	if err != nil {
		return Call{}, fmt.Errorf("body: %w", err)
	}
	// Signed or not, the request carries the step's key, so that a
	// receiver can drop a retried delivery.
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}
	h.Set(hooks.HeaderID, key)
	h.Set(hooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if d.SigningSecret != "" {
		sig, err := hooks.SignStandard(d.SigningSecret, key, now.Unix(), body)
		if err != nil {
			return Call{}, err
		}
		h.Set(hooks.HeaderSignature, sig)
	}
	return Call{Request: httpclient.Request{Method: http.MethodPost, URL: d.URL, Header: h, Body: body},
		Output: func(status int, _ []byte) (any, error) { return map[string]any{"status": status}, nil }}, nil
}

// underBase resolves a step's url (a path and query) under its
// destination's base URL. It refuses anything that leaves the base: an
// absolute URL, a scheme-relative //host, or ".." out of the base path. A
// destination is what an operator opened (allow_private_network is set
// per destination), so a workflow must not use it to reach another host.
func underBase(base, ref string) (string, error) {
	b, err := neturl.Parse(base)
	if err != nil {
		return "", fmt.Errorf("destination url %q: %w", base, err)
	}
	r, err := neturl.Parse(ref)
	if err != nil || r.Scheme != "" || r.Host != "" || r.User != nil || strings.HasPrefix(ref, "//") {
		return "", fmt.Errorf("url: %q must be a path (and query) under the destination's base URL %s, not another URL", ref, redactURL(b))
	}
	prefix := strings.TrimSuffix(b.Path, "/")
	joined := prefix + "/" + strings.TrimPrefix(r.Path, "/")
	if clean := path.Clean(joined); clean != prefix && !strings.HasPrefix(clean, prefix+"/") {
		return "", fmt.Errorf("url: %q leaves the destination's base path %q", ref, b.Path)
	}
	out := *b
	out.Path, out.RawPath, out.RawQuery, out.Fragment = joined, "", r.RawQuery, ""
	if b.RawQuery != "" && r.RawQuery != "" {
		out.RawQuery = b.RawQuery + "&" + r.RawQuery
	} else if r.RawQuery == "" {
		out.RawQuery = b.RawQuery
	}
	return out.String(), nil
}

// redactURL shows u without its password.
func redactURL(u *neturl.URL) string { return u.Redacted() }

// httpCall sends any request; its output is the status and the JSON body
// (or the text).
func httpCall(d *Destination, in map[string]any, key string) (Call, error) {
	url := text(in["url"])
	if d != nil && d.URL != "" {
		var err error
		if url, err = underBase(d.URL, url); err != nil {
			return Call{}, err
		}
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return Call{}, fmt.Errorf("url: %q is not an http(s) URL", url)
	}
	method := strings.ToUpper(text(in["method"]))
	if method == "" {
		method = http.MethodPost
	}
	h := http.Header{"Idempotency-Key": {key}}
	if hs, ok := in["headers"].(map[string]any); ok {
		for k, v := range hs {
			h.Set(k, text(v))
		}
	}
	var body []byte
	switch b := in["body"].(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			return Call{}, fmt.Errorf("body: %w", err)
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	expected, err := statuses(in["expected_statuses"])
	if err != nil {
		return Call{}, err
	}
	return Call{Request: httpclient.Request{Method: method, URL: url, Header: h, Body: body},
		Output: func(status int, respBody []byte) (any, error) {
			if expected != nil && !slices.Contains(expected, status) {
				return nil, fmt.Errorf("status %d is not one of the expected %v", status, expected)
			}
			var v any
			if json.Unmarshal(respBody, &v) != nil {
				v = string(respBody)
			}
			return map[string]any{"status": status, "body": v}, nil
		}}, nil
}

func statuses(v any) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected_statuses: must be a list of status codes")
	}
	var out []int
	for _, s := range list {
		n, err := strconv.Atoi(text(s))
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("expected_statuses: %v is not a status code", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// text renders an input as a string: strings as they are, numbers
// without a needless fraction.
func text(v any) string {
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

func optionalObject(in map[string]any, key string) (map[string]any, error) {
	switch v := in[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("%s: must be a map, not %T", key, in[key])
}

func optionalInt(in map[string]any, key string) (int64, error) {
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
