package server_test

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

const writeKey = "wk_test_123"

func newPipelinesStack(t *testing.T) *stack {
	t.Helper()
	return newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey})
	})
}

// TestPipelinesWithAnalyticsGo drives /v1/batch with segmentio/analytics-go
// v3.3.0, wire-identical to Customer.io's cdp-analytics-go.
func TestPipelinesWithAnalyticsGo(t *testing.T) {
	t.Parallel()
	s := newPipelinesStack(t)
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{Endpoint: s.url, Interval: 20 * time.Millisecond, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	msgs := []analytics.Message{
		analytics.Track{MessageId: "m-1", AnonymousId: "a1", Event: "Order Completed", Timestamp: ts,
			Context: &analytics.Context{UserAgent: "UA/1.0"}, Properties: analytics.NewProperties().Set("total", 9.99)},
		analytics.Identify{MessageId: "m-2", UserId: "u1", Traits: analytics.NewTraits().SetEmail("A@Example.com").Set("plan", "pro")},
		analytics.Page{MessageId: "m-3", UserId: "u1", Name: "Home"},
		analytics.Screen{MessageId: "m-4", UserId: "u1", Name: "Settings"},
		analytics.Group{MessageId: "m-5", UserId: "u1", GroupId: "acme", Traits: analytics.NewTraits().SetName("Acme")},
		analytics.Alias{MessageId: "m-6", PreviousId: "a1", UserId: "u1"},
		analytics.Track{MessageId: "m-1", AnonymousId: "a1", Event: "Order Completed", Timestamp: ts}, // a retry
	}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:u1")
	if p["traits"].(map[string]any)["plan"] != "pro" || p["identifiers"].(map[string]any)["email"] != "a@example.com" {
		t.Fatalf("profile = %v", p)
	}
	// alias joined the anonymous visitor: a1 now resolves to u1's profile,
	// and the anonymous order is on u1's timeline.
	if s.profileOf(t, "anonymous_id:a1")["id"] != p["id"] {
		t.Fatal("alias did not join a1 to u1")
	}
	order := s.events(t, "source=cdp&type=Order%20Completed", 1)[0]
	if order["profile_id"] != p["id"] || order["message_id"] != "m-1" || order["timestamp"] != "2023-11-14T22:13:20Z" ||
		order["user_agent"] != "UA/1.0" || order["anonymous_id"] != "a1" || order["properties"].(map[string]any)["total"] != 9.99 {
		t.Fatalf("order = %v", order)
	}
	if lib := order["context"].(map[string]any)["library"].(map[string]any)["name"]; lib != "analytics-go" {
		t.Fatalf("batch context not applied: %v", order["context"])
	}
	for typ, name := range map[string]string{"page": "Home", "screen": "Settings"} {
		if ev := s.events(t, "source=cdp&type="+typ, 1)[0]; ev["properties"].(map[string]any)["name"] != name {
			t.Fatalf("%s = %v", typ, ev)
		}
	}
	if g := s.events(t, "source=cdp&type=group", 1)[0]; g["properties"].(map[string]any)["group_id"] != "acme" {
		t.Fatalf("group = %v", g)
	}
}

func TestPipelinesSemanticEvents(t *testing.T) {
	t.Parallel()
	s := newPipelinesStack(t)
	post := func(path, body string) {
		t.Helper()
		wantStatus(t, s.do(t, "POST", path, "application/json", body, "Authorization", "Basic "+basic(writeKey, "")), 200)
	}
	post("/v1/identify", `{"userId":"u9","traits":{"email":"u9@example.com"}}`)
	post("/v1/track", `{"userId":"u9","event":"Device Created or Updated","context":{"device":{"token":"tok9","type":"ios"}},"properties":{"app_version":"2.0"}}`)
	post("/v1/track", `{"userId":"u9","event":"User Suppressed"}`)
	s.settle(t)
	p := s.profileOf(t, "id:u9")
	if p["suppressed"] != true || len(p["devices"].([]any)) != 1 || p["devices"].([]any)[0].(map[string]any)["id"] != "tok9" {
		t.Fatalf("profile = %v", p)
	}
	post("/v1/track", `{"userId":"u9","event":"User Deleted"}`)
	s.settle(t)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=id:u9", "", ""), 404)
	s.events(t, "source=cdp", 0)
}

func TestPipelinesBrowserGzipStrictAndLimits(t *testing.T) {
	t.Parallel()
	s := newPipelinesStack(t)
	// Browser paths: writeKey in a text/plain body, CORS.
	r := s.do(t, "POST", "/v1/t", "text/plain", `{"writeKey":"`+writeKey+`","anonymousId":"b1","event":"Clicked","messageId":"ajs-1"}`)
	wantStatus(t, r, 200)
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS on a browser path")
	}
	wantStatus(t, s.do(t, "POST", "/v1/b", "text/plain", `{"writeKey":"`+writeKey+`","batch":[{"type":"page","anonymousId":"b1","name":"Pricing"}]}`), 200)
	wantStatus(t, s.do(t, "POST", "/v1/t", "text/plain", `{"writeKey":"wrong","anonymousId":"b1","event":"X"}`), 401)
	wantStatus(t, s.do(t, "POST", "/v1/track", "application/json", `{"userId":"x","event":"X"}`, "Authorization", "Basic "+basic("wrong", "")), 401)

	// gzip bodies.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(`{"batch":[{"type":"track","userId":"gz","event":"Zipped","messageId":"gz-1"}]}`))
	_ = zw.Close()
	wantStatus(t, s.do(t, "POST", "/v1/batch", "application/json", zb.String(), "Authorization", "Basic "+basic(writeKey, ""), "Content-Encoding", "gzip"), 200)

	auth := []string{"Authorization", "Basic " + basic(writeKey, "")}
	strict := append([]string{"X-Strict-Mode", "1"}, auth...)
	big := `{"userId":"u","event":"Big","properties":{"p":"` + strings.Repeat("x", 33<<10) + `"}}`
	for _, tc := range []struct{ name, path, body, want string }{
		{"NoIdentity", "/v1/track", `{"event":"X"}`, "userId or anonymousId is required"},
		{"NoEvent", "/v1/track", `{"userId":"u"}`, "event is required"},
		{"BadTimestamp", "/v1/track", `{"userId":"u","event":"X","timestamp":"yesterday"}`, "timestamp must be an ISO-8601 date-time"},
		{"MessageTooLarge", "/v1/track", big, "request exceeds 32KB"},
		{"BatchItemInvalid", "/v1/batch", `{"batch":[{"type":"track","userId":"ok","event":"Fine"},{"type":"nope","userId":"u"}]}`, "batch[1]: type must be one of"},
		{"AliasWithoutPrevious", "/v1/alias", `{"userId":"u"}`, "previousId and userId are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, s.do(t, "POST", tc.path, "application/json", tc.body, auth...), 200) // accepted and dropped
			r := s.do(t, "POST", tc.path, "application/json", tc.body, strict...)
			wantStatus(t, r, 400)
			if !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("strict body %s lacks %q", r.body, tc.want)
			}
		})
	}
	s.settle(t)
	s.events(t, "source=cdp&type=Clicked", 1)
	s.events(t, "source=cdp&type=page", 1)
	s.events(t, "source=cdp&type=Zipped", 1)
	s.events(t, "source=cdp&type=Fine", 1) // the valid item of the non-strict batch
	s.events(t, "source=cdp&type=Big", 0)
}
