package webhook

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/hooks"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// A delivery carries the step's key as webhook-id and Idempotency-Key and,
// with a signing secret, a signature a receiver verifies; the
// destination's settings are checked.
func TestSend(t *testing.T) {
	now := time.Now()
	d := &action.Destination{ID: "app", Kind: "webhook", Settings: map[string]string{"url": "https://example.com/in", "signing_secret": secret}}
	call, err := build(d, map[string]any{"body": map[string]any{"type": "x"}}, "run:step", now)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header(call.Request.Header)
	if h.Get("Webhook-Id") != "run:step" || h.Get("Idempotency-Key") != "run:step" || call.Request.Method != "POST" {
		t.Fatalf("request %+v", call.Request)
	}
	if err := hooks.VerifyStandard(secret, hooks.DefaultTolerance, h, call.Request.Body, now); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	if _, err := build(&action.Destination{ID: "x", Kind: "webhook"}, nil, "k", now); err == nil {
		t.Fatal("built without a url")
	}
	reg := action.NewRegistry(Family)
	p := reg.Check(&action.Destination{Kind: "webhook", Settings: map[string]string{"url": "ftp://x", "signing_secret": "not base64!"}})
	if p["url"] == "" || p["signing_secret"] == "" {
		t.Fatalf("problems %v", p)
	}
}
