package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// TestSendWebhook signs and sends a body to every kind of webhook source;
// each is verified and stored.
func TestSendWebhook(t *testing.T) {
	a := openApp(t,
		config.Source{ID: "cio", Kind: cdp.SourceCustomerIOWebhook, SigningKey: "k1", TimestampTolerance: 60},
		config.Source{ID: "std", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		config.Source{ID: "gh", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyHMACSHA256, Secret: "s", Header: "X-Sig",
			Prefix: "sha256=", TimestampHeader: "X-Ts", Content: "{timestamp}.{body}", Tolerance: 60}},
	)
	addr, _ := serveApp(t, a, "")
	url := "http://" + addr
	body := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(body, []byte(`{"event_id":"E1","object_type":"email","metric":"opened","type":"thing.done","data":{"identifiers":{"id":"7"}}}`), 0o600)
	want := map[string]string{"cio": "email_opened", "std": "thing.done", "gh": "thing.done"}
	for source, typ := range want {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), []string{"send", "webhook", "--url", url, "--source", source, "--file", body}, os.Getenv, &out, &errOut); err != nil {
			t.Fatalf("%s: %v %s", source, err, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "200 ") {
			t.Fatalf("%s: %s", source, out.String())
		}
		waitFor(t, source+" event", func() bool {
			events, _, _ := a.Store.FindEvents(t.Context(), cdp.EventFilter{SourceID: source, Type: typ})
			return len(events) == 1
		})
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"send", "webhook", "--url", url, "--source", "web", "--file", body}, os.Getenv, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "does not receive webhooks") {
		t.Errorf("send to a track source: %v", err)
	}
	if err := run(t.Context(), []string{"send", "webhook", "--url", url, "--source", "nope", "--file", body}, os.Getenv, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("send to a missing source: %v", err)
	}
}
