package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// A stand-in for Slack's incoming webhook: it answers as Slack does — 200
// "ok", 429 with Retry-After once, 400 invalid_payload for a message
// without text — and keeps what it accepted.
func TestPost(t *testing.T) {
	var calls atomic.Int32
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte("rate_limited"))
			return
		}
		var msg map[string]any
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil || msg["text"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("invalid_payload"))
			return
		}
		got = msg
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	d := &action.Destination{ID: "ops", Kind: "slack", Settings: map[string]string{"url": srv.URL + "/services/T0/B0/secretpart"},
		AllowPrivateNetwork: true}
	reg := action.NewRegistry(Family)
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*3* runs failed"}}}
	call, err := Post.Build(d, map[string]any{"text": "3 runs failed", "blocks": blocks}, "k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := httpclient.New(nil)
	a, err := client.Do(context.Background(), reg.Client(d), 1, call.Request)
	if err != nil || a.Class != httpclient.Retryable || a.RetryAfter != 7*time.Second {
		t.Fatalf("the 429: %+v %v", a, err)
	}
	if a.Request.URL != "[redacted]" || strings.Contains(a.Error, "secretpart") {
		t.Fatalf("the webhook URL (its credential) reached the attempt record: %q %q", a.Request.URL, a.Error)
	}
	if why := Post.Explain(a.Body); why != "rate_limited" {
		t.Fatalf("explained %q", why)
	}
	a, err = client.Do(context.Background(), reg.Client(d), 2, call.Request)
	if err != nil || a.Class != httpclient.Succeeded {
		t.Fatalf("the retry: %+v %v", a, err)
	}
	out, err := call.Output(a.Response.Status, a.Body)
	if err != nil || out.(map[string]any)["status"] != 200 {
		t.Fatalf("output %v %v", out, err)
	}
	if got["text"] != "3 runs failed" || len(got["blocks"].([]any)) != 1 {
		t.Fatalf("Slack received %v", got)
	}
	for name, in := range map[string]map[string]any{
		"no text":         {"blocks": blocks},
		"blank text":      {"text": "  "},
		"blocks not list": {"text": "x", "blocks": "nope"},
	} {
		if _, err := Post.Build(d, in, "k", time.Now()); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// The incoming webhook URL is required, must be http(s), and is a secret.
func TestDestination(t *testing.T) {
	reg := action.NewRegistry(Family)
	if p := reg.Check(&action.Destination{Kind: "slack"}); p["url"] == "" {
		t.Errorf("no url accepted: %v", p)
	}
	if p := reg.Check(&action.Destination{Kind: "slack", Settings: map[string]string{"url": "hooks.slack.com/x"}}); p["url"] == "" || strings.Contains(p["url"], "hooks.slack") {
		t.Errorf("a relative url: %v (the problem must not quote the secret)", p)
	}
	d := &action.Destination{Kind: "slack", Settings: map[string]string{"url": "https://hooks.slack.com/services/T/B/x"}}
	if p := reg.Check(d); len(p) != 0 {
		t.Errorf("a good one: %v", p)
	}
	if s := reg.Secrets(d); len(s) == 0 || s[0] != d.Get("url") {
		t.Errorf("secrets %v", s)
	}
}
