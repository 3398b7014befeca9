package workflow

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestBuildCalls(t *testing.T) {
	var last *http.Request
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last, lastBody = r, nil
		lastBody, _ = io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/send/email":
			w.Write([]byte(`{"delivery_id":"d-1","queued_at":1700000000}`))
		case "/api/thing":
			w.WriteHeader(201)
			w.Write([]byte(`{"ok":true}`))
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	cio := &Destination{ID: "cio", Kind: "customerio", AllowPrivateNetwork: true,
		Settings: map[string]string{"site_id": "s", "api_key": "k", "app_api_key": "a", "track_url": srv.URL, "app_url": srv.URL}}
	hook := &Destination{ID: "app", Kind: "webhook", Settings: map[string]string{"url": srv.URL + "/hooks", "signing_secret": secret}, AllowPrivateNetwork: true}
	api := &Destination{ID: "api", Kind: "http", Settings: map[string]string{"url": srv.URL + "/api"}, AllowPrivateNetwork: true}
	client := httpclient.New(nil)
	now := time.Now()
	run := func(action string, d *Destination, in map[string]any) (any, *httpclient.Attempt) {
		t.Helper()
		call, err := buildCall(action, d, in, "run1:step1", now)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		a, err := client.Do(context.Background(), testActions.Client(d), 1, call.Request)
		if err != nil || a.Class != httpclient.Succeeded {
			t.Fatalf("%s: %+v %v", action, a, err)
		}
		out, err := call.Output(a.Response.Status, a.Body)
		if err != nil {
			t.Fatalf("%s output: %v", action, err)
		}
		return out, a
	}

	out, _ := run("customerio.track_event", cio, map[string]any{"identifier": 42.0, "name": "email_seen", "data": map[string]any{"a": 1.0}})
	var body map[string]any
	json.Unmarshal(lastBody, &body)
	if last.URL.Path != "/api/v1/customers/42/events" || body["id"] != "run1:step1" || body["name"] != "email_seen" || out.(map[string]any)["success"] != true {
		t.Errorf("track_event: %s %v → %v", last.URL.Path, body, out)
	}
	out, _ = run("customerio.send_email", cio, map[string]any{"transactional_message_id": 3.0, "to": "a@b.c",
		"identifiers": map[string]any{"id": "u1"}, "message_data": map[string]any{"n": 1.0}, "subject": "Hi"})
	json.Unmarshal(lastBody, &body)
	if last.Header.Get("Authorization") != "Bearer a" || body["subject"] != "Hi" || out.(map[string]any)["delivery_id"] != "d-1" {
		t.Errorf("send_email: %v → %v", body, out)
	}

	run("webhook.send", hook, map[string]any{"body": map[string]any{"type": "email_delivered"}})
	if err := hooks.VerifyStandard(secret, hooks.DefaultTolerance, last.Header, lastBody, time.Now()); err != nil ||
		last.Header.Get("Webhook-Id") != "run1:step1" || string(lastBody) != `{"type":"email_delivered"}` {
		t.Errorf("webhook.send: %v %v %s", err, last.Header, lastBody)
	}
	if ua := last.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Switchyard/") {
		t.Errorf("outbound User-Agent %q", ua)
	}
	// Without a signing secret the request still names the step, for the
	// receiver's deduplication.
	unsigned := &Destination{ID: "plain", Kind: "webhook", Settings: map[string]string{"url": srv.URL + "/hooks"}, AllowPrivateNetwork: true}
	run("webhook.send", unsigned, map[string]any{"body": map[string]any{"type": "x"}})
	if last.Header.Get("Idempotency-Key") != "run1:step1" || last.Header.Get("Webhook-Id") != "run1:step1" || last.Header.Get("Webhook-Signature") != "" {
		t.Errorf("unsigned webhook.send headers: %v", last.Header)
	}

	out, a := run("http.call", api, map[string]any{"url": "/thing", "method": "put", "body": map[string]any{"x": 1.0},
		"headers": map[string]any{"X-Token": "t0ken-value"}, "expected_statuses": []any{201.0}})
	if last.Method != "PUT" || last.Header.Get("Idempotency-Key") != "run1:step1" || last.Header.Get("Content-Type") != "application/json" ||
		out.(map[string]any)["status"] != 201 || out.(map[string]any)["body"].(map[string]any)["ok"] != true {
		t.Errorf("http.call: %s %v → %v", last.Method, last.Header, out)
	}
	if a.Request.Headers["X-Token"][0] != "[redacted]" {
		t.Errorf("a token header reached the run log: %v", a.Request.Headers)
	}
	call, _ := buildCall("http.call", api, map[string]any{"url": "thing", "expected_statuses": []any{200.0}}, "k", now)
	a, _ = client.Do(context.Background(), testActions.Client(api), 1, call.Request)
	if _, err := call.Output(a.Response.Status, a.Body); err == nil || !strings.Contains(err.Error(), "not one of the expected") {
		t.Errorf("unexpected status accepted: %v", err)
	}
}

func TestBuildCallInputErrors(t *testing.T) {
	cio := &Destination{ID: "cio", Kind: "customerio", Settings: map[string]string{"site_id": "s", "api_key": "k", "app_api_key": "a"}}
	for name, tc := range map[string]struct {
		action string
		in     map[string]any
	}{
		"data not a map":      {"customerio.track_event", map[string]any{"name": "x", "data": "nope"}},
		"bad timestamp":       {"customerio.track_event", map[string]any{"name": "x", "timestamp": "yesterday"}},
		"identifiers not map": {"customerio.send_email", map[string]any{"transactional_message_id": 1.0, "identifiers": "u1"}},
		"no url":              {"http.call", map[string]any{"url": "ftp://x"}},
		"bad expected status": {"http.call", map[string]any{"url": "https://x", "expected_statuses": []any{"ok"}}},
		"webhook without url": {"webhook.send", map[string]any{}},
		"unknown action":      {"fax.send", nil},
		"empty identifier":    {"customerio.identify", map[string]any{"identifier": nil}},
	} {
		if _, err := buildCall(tc.action, cio, tc.in, "k", time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
