package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// Times no JSON can carry (milliseconds or microseconds where seconds are
// expected, offsets past the year 9999) and NUL characters in ids and
// types are the client's mistake: a 4xx in each API's dialect, or for a
// verified webhook a stored webhook_error, never a 500 or an event that
// is acknowledged and then fails to store. The answer is the same on both
// stores.
func TestClientDataNeverServerError(t *testing.T) {
	t.Parallel()
	onBothStores(t, checkBadClientData)
}

func checkBadClientData(t *testing.T, engine func(*config.Config)) {
	s := newStack(t, engine, func(c *config.Config) {
		c.Sources = append(c.Sources,
			config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: cioSite, APIKey: cioKey},
			config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey},
			config.Source{ID: "reports", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey},
			config.Source{ID: "open", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}})
	})
	cio := []string{"Authorization", "Basic " + basic(cioSite, cioKey)}
	// Data Pipelines drops a bad message with a 200, as Customer.io does;
	// strict mode (X-Strict-Mode: 1) makes it a 400.
	pipes := []string{"Authorization", "Basic " + basic(writeKey, ""), "X-Strict-Mode", "1"}
	for _, c := range []struct {
		name, path, body string
		auth             []string
		status           int
		method           string // POST when empty
	}{
		{"v1 event in milliseconds", "/api/v1/customers/42/events", `{"name":"bought","timestamp":1733120000000}`, cio, 400, ""},
		{"v1 identify _timestamp in ms", "/api/v1/customers/42", `{"email":"a@example.com","_timestamp":1733120000000}`, cio, 400, "PUT"},
		{"v1 anonymous event 1e300", "/api/v1/events", `{"name":"x","anonymous_id":"a","timestamp":1e300}`, cio, 400, ""},
		{"v1 metrics", "/api/v1/metrics", `{"delivery_id":"d1","metric":"opened","timestamp":"1733120000000"}`, cio, 400, ""},
		{"v1 device last_used", "/api/v1/customers/42/devices", `{"device":{"id":"tok","platform":"ios","last_used":1733120000000}}`, cio, 400, "PUT"},
		{"v2 entity", "/api/v2/entity", `{"type":"person","identifiers":{"id":"42"},"action":"event","name":"x","timestamp":1733120000000}`, cio, 400, ""},
		{"v1 NUL in id", "/api/v1/customers/a%00b", `{"email":"b@example.com"}`, cio, 400, "PUT"},
		{"v1 NUL in event name", "/api/v1/customers/42/events", `{"name":"bou\u0000ght"}`, cio, 400, ""},
		{"pipelines offset past 9999", "/v1/track", `{"userId":"u","event":"e","timestamp":"9999-12-31T23:59:59-23:00"}`, pipes, 400, ""},
		{"pipelines NUL in userId", "/v1/track", `{"userId":"u\u0000","event":"e"}`, pipes, 400, ""},
		{"pipelines NUL in event", "/v1/track", `{"userId":"u","event":"e\u0000","messageId":"m-nul"}`, pipes, 400, ""},
		{"tracardi insert in microseconds", "/track", `{"source":{"id":"web"},"events":[{"type":"view","time":{"insert":1733120000000000}}]}`, nil, 422, ""},
		{"tracardi huge float", "/track", `{"source":{"id":"web"},"events":[{"type":"view","time":{"insert":1e300}}]}`, nil, 422, ""},
		{"tracardi string insert past 9999", "/track", `{"source":{"id":"web"},"events":[{"type":"view","time":{"insert":"9999-12-31T23:00:00-05:00"}}]}`, nil, 422, ""},
		{"tracardi NUL in session id", "/track", `{"source":{"id":"web"},"session":{"id":"s\u0000"},"events":[{"type":"view"}]}`, nil, 422, ""},
		{"tracardi NUL in profile id", "/track", `{"source":{"id":"web"},"profile":{"id":"p\u0000"},"events":[{"type":"view"}]}`, nil, 422, ""},
		{"tracardi NUL in type", "/track", `{"source":{"id":"web"},"events":[{"type":"vi\u0000ew"}]}`, nil, 422, ""},
		{"tracardi NUL in event id", "/track", `{"source":{"id":"web"},"events":[{"id":"e\u0000","type":"view"}]}`, nil, 422, ""},
	} {
		method := c.method
		if method == "" {
			method = "POST"
		}
		r := s.do(t, method, c.path, "application/json", c.body, c.auth...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		if !json.Valid(r.body) {
			t.Errorf("%s: the answer is not JSON: %s", c.name, r.body)
		}
	}

	// A v2 batch marks only the bad items (207) and stores the rest.
	r := s.do(t, "POST", "/api/v2/batch", "application/json", `{"batch":[
		{"type":"person","identifiers":{"id":"v2ok"},"action":"event","name":"fine","id":"01HV2OK"},
		{"type":"person","identifiers":{"id":"42"},"action":"event","name":"late","timestamp":1733120000000},
		{"type":"person","identifiers":{"id":"4\u00002"},"action":"event","name":"nul"}]}`, cio...)
	wantStatus(t, r, 207)
	var marked struct {
		Errors []struct {
			BatchIndex int    `json:"batch_index"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(r.body, &marked)
	if len(marked.Errors) != 2 || marked.Errors[0].BatchIndex != 1 || marked.Errors[1].BatchIndex != 2 {
		t.Fatalf("v2 batch errors %s, want items 1 and 2", r.body)
	}
	s.events(t, "source=cio&type=fine", 1)

	// A verified Customer.io report with an impossible timestamp or a NUL in
	// its ids is kept as a webhook_error (Customer.io pauses a webhook that
	// answers 4xx), and a generic webhook whose type has a NUL likewise.
	wantStatus(t, s.postCIO(t, "reports", "", `{"event_id":"01HBAD","object_type":"email","metric":"sent","timestamp":1e15,"data":{"identifiers":{"id":"42"}}}`), 200)
	wantStatus(t, s.postCIO(t, "reports", "", `{"event_id":"01H\u0000","object_type":"email","metric":"sent","timestamp":1613063089,"data":{"identifiers":{"id":"4\u00002"}}}`), 200)
	wantStatus(t, s.do(t, "POST", "/webhooks/open", "application/json", `{"type":"a\u0000b"}`), 200)
	errs := s.events(t, "type=webhook_error", 3)
	for _, e := range errs {
		if e["error"] == "" || e["message_id"] != nil {
			t.Errorf("webhook_error %v: want an error and no message id", e)
		}
	}

	// Without strict mode the bad message is dropped, not stored.
	wantStatus(t, s.do(t, "POST", "/v1/track", "application/json", `{"userId":"u\u0000","event":"dropped"}`, pipes[:2]...), 200)

	// Nothing turned into a poison event, and the store still answers.
	s.settle(t)
	s.events(t, "source=cdp", 0)
	s.events(t, "type="+cdp.EventPoison, 0)
}

// Bytes that are not UTF-8 inside JSON strings (which Go's decoder lets
// through) never reach an answer: a verified webhook's body is kept as
// body_base64, any other API's JSON has them replaced with U+FFFD, and
// the management API and the tail emit valid JSON.
func TestStoredJSONIsUTF8(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "open", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}})
	})
	tail := s.openTail(t, "")
	wantStatus(t, s.do(t, "POST", "/webhooks/open", "application/json", "{\"type\":\"bin\",\"name\":\"\xff\xfe\"}"), 200)
	wantStatus(t, s.track(t, "{\"source\":{\"id\":\"web\"},\"session\":{\"id\":\"utf\"},\"context\":{\"c\":\"\xc3\"},\"events\":[{\"type\":\"latin1\",\"properties\":{\"name\":\"caf\xe9\"},\"context\":{\"x\":\"\xff\"}}]}"), 200)
	hook := s.events(t, "source=open", 1)[0]
	if props := hook["properties"].(map[string]any); props["body_base64"] == nil {
		t.Errorf("non-UTF-8 webhook body stored as %v, want body_base64", props)
	}
	ev := s.events(t, "type=latin1", 1)[0]
	if name := ev["properties"].(map[string]any)["name"]; name != "caf\uFFFD" {
		t.Errorf("name stored as %q", name)
	}
	for _, path := range []string{"/admin/v1/events?limit=100", "/admin/v1/events/" + ev["id"].(string), "/admin/v1/sessions/utf"} {
		if r := s.do(t, "GET", path, "", ""); !json.Valid(r.body) || !utf8.Valid(r.body) {
			t.Errorf("%s answered invalid JSON: %q", path, r.body)
		}
	}
	for n := 0; n < 5 && tail.Scan(); n++ {
		if data, ok := strings.CutPrefix(tail.Text(), "data: "); ok && (!json.Valid([]byte(data)) || !utf8.ValidString(data)) {
			t.Errorf("tail sent invalid JSON: %q", data)
		}
	}
}
