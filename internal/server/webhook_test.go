package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

const (
	cioSigningKey = "cio-test-signing-key-0001"
	swSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func webhookStack(t *testing.T) *stack {
	return newStack(t, func(c *config.Config) {
		c.MaxBodyBytes = 64 << 10
		c.Sources = append(c.Sources,
			config.Source{ID: "cio", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey},
			config.Source{ID: "cio2", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey},
			config.Source{ID: "cio3", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey},
			config.Source{ID: "cio-fresh", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey, TimestampTolerance: 300},
			config.Source{ID: "cio-off", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey, Enabled: new(bool)},
			config.Source{ID: "hooks", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: swSecret}},
			config.Source{ID: "gh", Kind: cdp.SourceWebhook, EventType: "'github.' + headers['x-github-event'][0]", DedupKey: "headers['x-github-delivery'][0]",
				Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyHMACSHA256, Secret: "s3cret", Header: "X-Hub-Signature-256", Prefix: "sha256="}},
			config.Source{ID: "open", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, EventType: "has(body.kind) ? body.kind : 'open'"},
		)
	})
}

// postCIO sends body to /webhooks/{source} signed as Customer.io signs it.
func (s *stack) postCIO(t *testing.T, source, ts, body string, headers ...string) reply {
	t.Helper()
	if ts == "" {
		ts = strconv.FormatInt(time.Now().Unix(), 10)
	}
	sig := hooks.SignCustomerIO(cioSigningKey, ts, []byte(body))
	return s.do(t, "POST", "/webhooks/"+source, "application/json", body,
		append([]string{hooks.HeaderCIOTimestamp, ts, hooks.HeaderCIOSignature, sig}, headers...)...)
}

// TestCustomerIOReportingExamples sends every example body of Customer.io's
// reporting-webhook documentation and checks its type, properties and profile.
func TestCustomerIOReportingExamples(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	files, _ := filepath.Glob("testdata/cio-reports/*.json")
	if len(files) < 20 {
		t.Fatalf("%d example files", len(files))
	}
	// The official examples share one event_id; each goes to a source
	// that has not seen it, so that every example is stored.
	seen := map[string]map[string]bool{"cio": {}, "cio2": {}, "cio3": {}}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			EventID, ObjectType, Metric string
			Data                        map[string]any
		}
		if err := json.Unmarshal(raw, &struct {
			EventID    *string         `json:"event_id"`
			ObjectType *string         `json:"object_type"`
			Metric     *string         `json:"metric"`
			Data       *map[string]any `json:"data"`
		}{&body.EventID, &body.ObjectType, &body.Metric, &body.Data}); err != nil {
			t.Fatal(err)
		}
		source := ""
		for _, id := range []string{"cio", "cio2", "cio3"} {
			if !seen[id][body.EventID] {
				source, seen[id][body.EventID] = id, true
				break
			}
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := s.postCIO(t, source, "", string(raw), hooks.HeaderCIODelivery, "delivery-header-1")
			wantStatus(t, r, 200)
			id := r.json(t)["id"].(string)
			var e map[string]any
			if err := json.Unmarshal(s.waitEvent(t, id).body, &e); err != nil {
				t.Fatal(err)
			}
			wantType := body.ObjectType + "_" + body.Metric
			if e["type"] != wantType || e["message_id"] != body.EventID || e["source_id"] != source {
				t.Fatalf("event %v, want type %s message_id %s", e, wantType, body.EventID)
			}
			props := e["properties"].(map[string]any)
			for k, v := range body.Data {
				if fmt.Sprint(props[k]) != fmt.Sprint(v) {
					t.Errorf("properties.%s = %v, want %v", k, props[k], v)
				}
			}
			if props["event_id"] != body.EventID || props["object_type"] != body.ObjectType || props["metric"] != body.Metric {
				t.Errorf("envelope missing from properties: %v", props)
			}
			if got := e["context"].(map[string]any)["webhook"].(map[string]any)["delivery_id"]; got != "delivery-header-1" {
				t.Errorf("context.webhook.delivery_id = %v", got)
			}
			idents, _ := body.Data["identifiers"].(map[string]any)
			wantID, _ := idents["id"].(string)
			if wantID == "" {
				wantID, _ = body.Data["customer_id"].(string)
			}
			p := s.do(t, "GET", "/admin/v1/profiles?identifier=id:"+wantID, "", "")
			wantStatus(t, p, 200)
			profile := p.json(t)
			if profile["id"] != e["profile_id"] {
				t.Errorf("event profile %v, profile of id:%s is %v", e["profile_id"], wantID, profile["id"])
			}
			if email, _ := idents["email"].(string); email != "" && profile["identifiers"].(map[string]any)["email"] != email {
				t.Errorf("profile identifiers %v, want email %s", profile["identifiers"], email)
			}
			if body.ObjectType == "customer" {
				if got := profile["traits"].(map[string]any)["unsubscribed"]; got != (body.Metric == "unsubscribed") {
					t.Errorf("traits.unsubscribed = %v after %s", got, body.Metric)
				}
			}
		})
	}
}

// waitEvent waits until the event with id is stored.
func (s *stack) waitEvent(t *testing.T, id string) reply {
	t.Helper()
	var r reply
	testenv.Await(t, "event "+id+" stored", 10*time.Second, func() (bool, string) {
		r = s.do(t, "GET", "/admin/v1/events/"+id, "", "")
		return r.status == 200, fmt.Sprintf("%d %s", r.status, r.body)
	})
	return r
}

// Vectors of Customer.io's documentation, sent over HTTP with their own
// (old) timestamps: accepted without a freshness window.
func TestCustomerIOReportingSignatures(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	vector3 := "{ \"event_id\":\"01E4C8BES5XT87ZWRJFTB35YJ3\", \"object_type\":\"email\", \"metric\":\"clicked\", \"timestamp\":1585254348, \"data\":{\"action_id\":36,\"broadcast_id\":9,\"customer_id\":\"0200102\",\"identifiers\":{\"id\":\"0200102\"},\"delivery_id\":\"RPILAgABcRhIBqSp7kiPekGBIeVh\",\"href\":\"http://google.com\",\"link_id\":1,\"recipient\":\"test@example.com\",\"subject\":\"hello \u00e9\"} }\n"
	send := func(source, ts, sig, body string) reply {
		return s.do(t, "POST", "/webhooks/"+source, "application/json", body, hooks.HeaderCIOTimestamp, ts, hooks.HeaderCIOSignature, sig)
	}
	r := send("cio", "1585254348", "bda0964a2c61b58246294958ab4ee52b66be8d9b1bdf74b9dedd145f283c4c88", vector3)
	wantStatus(t, r, 200)
	var e map[string]any
	json.Unmarshal(s.waitEvent(t, r.json(t)["id"].(string)).body, &e)
	if e["type"] != "email_clicked" || e["properties"].(map[string]any)["subject"] != "hello é" || e["timestamp"] != "2020-03-26T20:25:48Z" {
		t.Errorf("vector 3 stored as %v", e)
	}

	unauthorized := func(name string, r reply) {
		t.Helper()
		wantStatus(t, r, 401)
		if code := r.json(t)["error"].(map[string]any)["code"]; code != cdp.EUNAUTHORIZED {
			t.Errorf("%s: error code %v", name, code)
		}
	}
	unauthorized("3-neg", send("cio2", "1585254348", "b1007ba4d2c83433500d5089e9d939c846bde31dd8ac4ee8d5d235cd41c0e25c", vector3))
	unauthorized("altered byte", send("cio2", "1585254348", "bda0964a2c61b58246294958ab4ee52b66be8d9b1bdf74b9dedd145f283c4c88", strings.Replace(vector3, "é", "e", 1)))
	unauthorized("altered timestamp", send("cio2", "1585254349", "bda0964a2c61b58246294958ab4ee52b66be8d9b1bdf74b9dedd145f283c4c88", vector3))
	unauthorized("no signature", s.do(t, "POST", "/webhooks/cio2", "application/json", vector3))
	unauthorized("stale with a window", s.postCIO(t, "cio-fresh", strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10), vector3))
	wantStatus(t, s.postCIO(t, "cio-fresh", "", strings.Replace(vector3, "01E4C8BES5XT87ZWRJFTB35YJ3", "fresh-1", 1)), 200)

	// Wrong source, disabled source, oversized body.
	wantStatus(t, s.postCIO(t, "nope", "", vector3), 404)
	wantStatus(t, s.postCIO(t, "web", "", vector3), 404)
	wantStatus(t, s.postCIO(t, "cio-off", "", vector3), 403)
	wantStatus(t, s.postCIO(t, "cio2", "", `{"data":"`+strings.Repeat("x", 70<<10)+`"}`), 413)
	s.settle(t)
	s.events(t, "source=cio2", 0)
}

func TestCustomerIOReportingDedupAndErrors(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	body := `{"data":{"customer_id":"u1","identifiers":{"id":"u1"},"delivery_id":"D1","recipient":"a@b.c"},"event_id":"EV-DUP","object_type":"email","metric":"opened","timestamp":1700000000}`
	// A retry is a new request (new timestamp, same body); concurrent
	// repeats too: one stored event.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ts := strconv.FormatInt(time.Now().Unix()-int64(i), 10)
			if r := s.postCIO(t, "cio", ts, body); r.status != 200 {
				t.Errorf("status %d: %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	// Same delivery, another metric: a different event (never dedup on
	// the delivery id).
	wantStatus(t, s.postCIO(t, "cio", "", strings.NewReplacer("EV-DUP", "EV-2", "opened", "clicked").Replace(body)), 200)
	// Without event_id, the fallback key still tells repeats apart from
	// other metrics of the message.
	noID := strings.Replace(body, `"event_id":"EV-DUP",`, "", 1)
	wantStatus(t, s.postCIO(t, "cio", "", noID), 200)
	wantStatus(t, s.postCIO(t, "cio", "", noID), 200)
	s.settle(t)
	if got := s.events(t, "source=cio&type=email_opened", 2); got[0]["message_id"] == got[1]["message_id"] {
		t.Errorf("fallback key equals event_id: %v", got)
	}
	s.events(t, "source=cio&type=email_clicked", 1)

	// A correctly signed body that is not JSON, or lacks the envelope: 200,
	// kept as a webhook_error event with the problem and the body.
	for _, bad := range []string{`not json`, `{"metric":"sent"}`, `{"object_type":"email","metric":"sent","data":[1]}`} {
		r := s.postCIO(t, "cio2", "", bad)
		wantStatus(t, r, 200)
		var e map[string]any
		json.Unmarshal(s.waitEvent(t, r.json(t)["id"].(string)).body, &e)
		if e["type"] != "webhook_error" || e["error"] == "" || e["properties"].(map[string]any)["body"] != bad {
			t.Errorf("%s stored as %v", bad, e)
		}
	}
	// A metric never seen before is stored under its own type; a string
	// timestamp is read leniently.
	r := s.postCIO(t, "cio2", "", `{"event_id":"X1","object_type":"hologram","metric":"beamed","timestamp":"1585250199","data":{"identifiers":{"email":"Holo@Example.com"}}}`)
	wantStatus(t, r, 200)
	var e map[string]any
	json.Unmarshal(s.waitEvent(t, r.json(t)["id"].(string)).body, &e)
	if e["type"] != "hologram_beamed" || e["timestamp"] != "2020-03-26T19:16:39Z" || e["profile_id"] == nil {
		t.Errorf("unknown metric stored as %v", e)
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=email:holo@example.com", "", ""), 200)
	metrics := string(s.do(t, "GET", "/metrics", "", "").body)
	if !strings.Contains(metrics, `switchyard_webhook_errors_total{problem="unreadable",source="cio2"} 3`) {
		t.Errorf("webhook error metric missing")
	}
}

func TestGenericWebhooks(t *testing.T) {
	t.Parallel()
	s := webhookStack(t)
	sign := func(id, body string) []string {
		ts := time.Now().Unix()
		sig, err := hooks.SignStandard(swSecret, id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return []string{hooks.HeaderID, id, hooks.HeaderTimestamp, strconv.FormatInt(ts, 10), hooks.HeaderSignature, sig}
	}
	body := `{"type":"invoice.paid","timestamp":"2026-11-23T10:00:00Z","data":{"amount":10}}`
	for range 3 { // a retry carries the same webhook-id: one event
		wantStatus(t, s.do(t, "POST", "/webhooks/hooks", "application/json", body, sign("msg_1", body)...), 200)
	}
	wantStatus(t, s.do(t, "POST", "/webhooks/hooks", "application/json", body, sign("msg_2", body)...), 200)
	bad := sign("msg_3", body)
	bad[5] = "v1,AAAA"
	wantStatus(t, s.do(t, "POST", "/webhooks/hooks", "application/json", body, bad...), 401)
	old := sign("msg_4", body)
	old[3] = strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	wantStatus(t, s.do(t, "POST", "/webhooks/hooks", "application/json", body, old...), 401)
	s.settle(t)
	got := s.events(t, "source=hooks", 2)
	if got[0]["type"] != "invoice.paid" || got[0]["message_id"] != "msg_2" || got[0]["properties"].(map[string]any)["data"] == nil {
		t.Errorf("standard webhook stored as %v", got[0])
	}

	// HMAC (GitHub style) with expressions over headers.
	ghBody := `{"action":"opened","number":7}`
	ghSig := "sha256=" + hmacHex("s3cret", ghBody)
	wantStatus(t, s.do(t, "POST", "/webhooks/gh", "application/json", ghBody, "X-Hub-Signature-256", ghSig,
		"X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "d-1"), 200)
	wantStatus(t, s.do(t, "POST", "/webhooks/gh", "application/json", ghBody, "X-Hub-Signature-256", strings.ToUpper(ghSig[7:]),
		"X-GitHub-Event", "pull_request"), 401)
	// The expression fails (no X-GitHub-Event): stored as "webhook" with
	// the problem, never lost.
	wantStatus(t, s.do(t, "POST", "/webhooks/gh", "application/json", ghBody, "X-Hub-Signature-256", ghSig), 200)
	s.settle(t)
	s.events(t, "source=gh&type=github.pull_request", 1)
	if e := s.events(t, "source=gh&type=webhook", 1)[0]; !strings.Contains(e["error"].(string), "event_type") {
		t.Errorf("failed expression not reported: %v", e)
	}

	// Unsigned source: form, text and JSON bodies.
	wantStatus(t, s.do(t, "POST", "/webhooks/open?x=1", "application/x-www-form-urlencoded", "kind=form.post&a=1"), 200)
	wantStatus(t, s.do(t, "POST", "/webhooks/open", "text/plain", "just text"), 200)
	wantStatus(t, s.do(t, "POST", "/webhooks/open", "application/json", "{broken"), 200)
	s.settle(t)
	if e := s.events(t, "source=open&type=form.post", 1)[0]; e["properties"].(map[string]any)["a"] != "1" {
		t.Errorf("form stored as %v", e)
	}
	texts := s.events(t, "source=open&type=open", 2)
	if texts[0]["properties"].(map[string]any)["body"] != "{broken" || texts[1]["properties"].(map[string]any)["body"] != "just text" {
		t.Errorf("text bodies stored as %v", texts)
	}
}

func hmacHex(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// TestRawCapture: the request that carried an event is shown with it,
// secrets redacted, the body exactly as sent up to the cap.
func TestRawCapture(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) {
		c.RawCapture.MaxBodyBytes = 300
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey})
	})
	body := "{ \"event_id\":\"R1\", \"object_type\":\"email\", \"metric\":\"opened\", \"data\":{\"identifiers\":{\"id\":\"u1\"}} }\n"
	r := s.postCIO(t, "cio", "", body, "Authorization", "Bearer secret-token", "Cookie", "a=b", "X-Trace", "t-1")
	wantStatus(t, r, 200)
	var e struct {
		RequestID string `json:"request_id"`
		Raw       struct {
			Method, Path string
			Headers      map[string][]string
			Body         string
			BodySize     int  `json:"body_size"`
			Truncated    bool `json:"truncated"`
		}
	}
	if err := json.Unmarshal(s.waitEvent(t, r.json(t)["id"].(string)).body, &e); err != nil {
		t.Fatal(err)
	}
	raw := e.Raw
	if raw.Method != "POST" || raw.Path != "/webhooks/cio" || raw.Body != body || raw.BodySize != len(body) || raw.Truncated || e.RequestID == "" {
		t.Fatalf("raw = %+v", e)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Cio-Signature"} {
		if got := raw.Headers[h]; len(got) != 1 || got[0] != "[redacted]" {
			t.Errorf("header %s = %v, want redacted", h, got)
		}
	}
	if raw.Headers["X-Trace"][0] != "t-1" || raw.Headers["X-Cio-Timestamp"][0] == "" || raw.Headers["Host"] == nil {
		t.Errorf("headers = %v", raw.Headers)
	}

	// Over the cap: kept truncated; a Tracardi request with its query.
	long := `{"source":{"id":"web"},"session":{"id":"s-raw"},"events":[{"type":"long","properties":{"x":"` + strings.Repeat("y", 400) + `"}}],"options":{"debugger":true}}`
	r = s.do(t, "POST", "/track?profile_less=true", "application/json", long)
	wantStatus(t, r, 200)
	if err := json.Unmarshal(s.waitEvent(t, r.json(t)["events"].([]any)[0].(string)).body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Raw.Path != "/track?profile_less=true" || e.Raw.Body != long[:300] || !e.Raw.Truncated || e.Raw.BodySize != len(long) {
		t.Errorf("truncated raw = %+v", e.Raw)
	}
}

// TestWebhookSourcesThroughAdminAPI: webhook sources created at run time
// are checked (expressions compiled) and serve at once.
func TestWebhookSourcesThroughAdminAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"h","kind":"webhook","verify":{"scheme":"none"},"event_type":"body.kind +"}`)
	wantStatus(t, r, 400)
	if !strings.Contains(string(r.body), "event_type") {
		t.Errorf("bad expression: %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"c","kind":"customerio_webhook"}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"h","kind":"webhook","verify":{"scheme":"none"},"event_type":"'k.' + body.kind","dedup_key":"body.id"}`), 201)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"c","kind":"customerio_webhook","signing_key":"`+cioSigningKey+`","timestamp_tolerance":300}`), 201)
	for range 2 {
		wantStatus(t, s.do(t, "POST", "/webhooks/h", "application/json", `{"kind":"thing","id":"1"}`), 200)
	}
	wantStatus(t, s.postCIO(t, "c", "", `{"event_id":"A","object_type":"sms","metric":"sent","data":{}}`), 200)
	s.settle(t)
	s.events(t, "source=h&type=k.thing", 1)
	s.events(t, "source=c&type=sms_sent", 1)
	got := s.do(t, "GET", "/admin/v1/sources/c", "", "").json(t)
	if got["signing_key"] != cioSigningKey || got["timestamp_tolerance"] != 300.0 {
		t.Errorf("source = %v", got)
	}
}
