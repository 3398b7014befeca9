package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
)

// The ingest fuzz targets drive every compatible API's parsers through the
// real stack (handlers, ingest, event log) with whatever the fuzzer makes,
// and assert what a client is promised: never a 5xx (a malformed request
// is the client's 4xx), and an answer that is valid UTF-8 JSON. .ci/run
// runs each for a while; `go test` runs their seeds.

// fuzzHandler is one whole Switchyard for a fuzz target, with a source of
// every kind.
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	return openApp(f, func(c *config.Config) {
		c.Sources = append(c.Sources,
			config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: cioSite, APIKey: cioKey},
			config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey},
			config.Source{ID: "reports", Kind: cdp.SourceCustomerIOWebhook, SigningKey: cioSigningKey},
			config.Source{ID: "open", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, EventType: "has(body.kind) ? string(body.kind) : 'open'"})
	}).Handler()
}

// serveFuzz sends one request and checks the promise.
func serveFuzz(t *testing.T, h http.Handler, method, path, contentType string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+path, bytes.NewReader(body))
	req.RemoteAddr = "127.0.0.1:1234"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
	}
	if out := rec.Body.Bytes(); len(out) > 0 && (!json.Valid(out) || !utf8.Valid(out)) {
		t.Fatalf("%s %s %q: the answer is not valid JSON: %q", method, path, body, out)
	}
	return rec
}

func FuzzTracardi(f *testing.F) {
	for _, seed := range []string{
		`{"source":{"id":"web"},"session":{"id":"s"},"events":[{"type":"page-view","properties":{"a":1}}]}`,
		`{"source":{"id":"web"},"events":[{"type":"view","time":{"insert":1733120000000000,"create":"2023-01-01 00:00:00"}}]}`,
		`{"source":{"id":"web"},"profile":{"id":"p\u0000"},"events":[{"type":"x"}]}`,
		`{"source":{"id":"web"},"events":[{"type":"x","time":{"insert":"9999-12-31T23:59:59-23:00"}}],"options":{"debugger":true}}`,
		`{"source":{"id":"web"},"events":[]}`, `[]`, `{"source":{"id":"nope"}}`, "{\"source\":{\"id\":\"web\"},\"events\":[{\"type\":\"\xff\"}]}",
	} {
		f.Add([]byte(seed), false)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, collect bool) {
		if collect {
			serveFuzz(t, h, "POST", "/collect/page-view/web", "application/json", body)
			return
		}
		serveFuzz(t, h, "POST", "/track", "application/json", body)
	})
}

func FuzzCustomerIOTrack(f *testing.F) {
	paths := []string{"PUT /api/v1/customers/42", "POST /api/v1/customers/42/events", "POST /api/v1/events",
		"PUT /api/v1/customers/42/devices", "POST /api/v1/merge_customers", "POST /api/v1/metrics",
		"POST /api/v1/segments/1/add_customers", "POST /api/v2/entity", "POST /api/v2/batch", "POST /api/v1/forms/f1/submit"}
	for i, seed := range []string{
		`{"email":"a@example.com","created_at":1700000000,"_timestamp":1733120000000}`,
		`{"name":"bought","data":{"price":9.5},"timestamp":1e300}`,
		`{"name":"anon","anonymous_id":"a1","id":"01HX"}`,
		`{"device":{"id":"tok","platform":"ios","last_used":"1733120000000"}}`,
		`{"primary":{"id":"1"},"secondary":{"email":"x@example.com"}}`,
		`{"delivery_id":"d","metric":"opened","timestamp":"abc"}`,
		`{"ids":["1","2",3]}`,
		`{"type":"person","identifiers":{"id":"4\u00002"},"action":"event","name":"x"}`,
		`{"batch":[{"type":"person","identifiers":{"email":"a@b.c"},"action":"identify","attributes":{"x":1}},{"type":"object"},7]}`,
		`{"data":{"email":"a@example.com"}}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	h := fuzzHandler(f)
	auth := "Basic " + basic(cioSite, cioKey)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		method, path, _ := bytes.Cut([]byte(paths[int(route)%len(paths)]), []byte(" "))
		serveFuzz(t, h, string(method), string(path), "application/json", body, "Authorization", auth)
	})
}

func FuzzPipelines(f *testing.F) {
	for _, seed := range []string{
		`{"userId":"u","event":"Order","properties":{"total":1},"timestamp":"2023-11-14T22:13:20Z","messageId":"m"}`,
		`{"batch":[{"type":"identify","userId":"u","traits":{"email":"A@b.c"}},{"type":"alias","previousId":"a","userId":"u"},{"type":"nope"}]}`,
		`{"writeKey":"` + writeKey + `","anonymousId":"a","event":"x","timestamp":"9999-12-31T23:59:59-23:00"}`,
		`{"userId":"u\u0000","event":"e"}`, `[1,2]`, `{"batch":7}`,
	} {
		f.Add([]byte(seed), uint8(0), false)
		f.Add([]byte(seed), uint8(6), true)
	}
	h := fuzzHandler(f)
	types := []string{"identify", "track", "page", "screen", "group", "alias", "batch"}
	auth := "Basic " + basic(writeKey, "")
	f.Fuzz(func(t *testing.T, body []byte, typ uint8, gz bool) {
		path := "/v1/" + types[int(typ)%len(types)]
		headers := []string{"Authorization", auth, "X-Strict-Mode", strconv.Itoa(int(typ) % 2)}
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			_, _ = w.Write(body)
			_ = w.Close()
			body = b.Bytes()
			headers = append(headers, "Content-Encoding", "gzip")
		}
		serveFuzz(t, h, "POST", path, "application/json", body, headers...)
		serveFuzz(t, h, "POST", "/v1/t", "text/plain", body) // the browser path: writeKey in the body
	})
}

// FuzzWebhooks sends signed Customer.io reports and unsigned generic
// webhooks: a verified request is always accepted (200, an unreadable body
// kept as a webhook_error), and a tampered signature is always refused.
func FuzzWebhooks(f *testing.F) {
	for _, seed := range []string{
		`{"event_id":"01E4","object_type":"email","metric":"sent","timestamp":1613063089,"data":{"identifiers":{"id":"42"},"recipient":"a@b.c"}}`,
		`{"event_id":"01E5","object_type":"customer","metric":"subscribed","timestamp":1e15,"data":{"customer_id":"7"}}`,
		`{"object_type":"email","metric":"clicked","data":{"delivery_id":"d","href":"x","link_id":1}}`,
		`{"kind":"a\u0000b"}`, "{\"x\":\"\xff\"}", `not json`, `[]`, ``,
	} {
		f.Add([]byte(seed), "application/json")
		f.Add([]byte(seed), "application/x-www-form-urlencoded")
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig := hooks.SignCustomerIO(cioSigningKey, ts, body)
		if rec := serveFuzz(t, h, "POST", "/webhooks/reports", contentType, body, hooks.HeaderCIOTimestamp, ts, hooks.HeaderCIOSignature, sig); rec.Code != 200 && rec.Code != 413 {
			t.Fatalf("a verified report answered %d %s", rec.Code, rec.Body)
		}
		bad := []byte(sig)
		bad[len(bad)/2] ^= 1
		if rec := serveFuzz(t, h, "POST", "/webhooks/reports", contentType, body, hooks.HeaderCIOTimestamp, ts, hooks.HeaderCIOSignature, string(bad)); rec.Code != 401 && rec.Code != 413 {
			t.Fatalf("a tampered signature answered %d", rec.Code)
		}
		if rec := serveFuzz(t, h, "POST", "/webhooks/open", contentType, body); rec.Code != 200 && rec.Code != 413 {
			t.Fatalf("an unsigned webhook answered %d %s", rec.Code, rec.Body)
		}
	})
}
