package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// Replay decodes a captured request with the decoder that served it: one
// request on every ingest route that appends events (each API, its
// gzip, form and browser variants), replayed, gives back events of the
// same types and properties, each linked to its original, with no
// request refused on the way (none is authenticated again).
func TestReplayEveryIngestRoute(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site-1", APIKey: "key-1"},
			config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: "wk-1"})
	})
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json",
		`{"id":"pay","kind":"webhook","verify":{"scheme":"standard_webhooks","secret":"`+replaySecret+`"},"event_type":"body.type"}`), 201)
	cio := []string{"Authorization", "Basic " + basic("site-1", "key-1")}
	cdpAuth := []string{"Authorization", "Basic " + basic("wk-1", "")}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(`{"type":"track","userId":"u-9","event":"Zipped","properties":{"z":1}}`))
	zw.Close()
	form := url.Values{"plan": {"pro"}, "tags": {"a", "b"}}.Encode()
	for _, c := range []struct {
		method, path, contentType, body string
		headers                         []string
		status                          int
	}{
		{"POST", "/track", "application/json", `{"source":{"id":"web"},"profile":{"id":"p-1"},"events":[{"type":"purchase","properties":{"total":3}}]}`, nil, 200},
		{"GET", "/collect/page-view/web?page=home", "", "", nil, 200},
		{"POST", "/collect/signed-up/web/s-1", "application/x-www-form-urlencoded", form, nil, 200},
		{"PUT", "/api/v1/customers/u-1", "application/json", `{"email":"u1@example.com","plan":"pro"}`, cio, 200},
		{"POST", "/api/v1/customers/u-1/events", "application/json", `{"name":"bought","data":{"sku":"A"}}`, cio, 200},
		{"POST", "/api/v1/events", "application/json", `{"name":"browsed","anonymous_id":"anon-1","data":{"page":"/"}}`, cio, 200},
		{"PUT", "/api/v1/customers/u-1/devices", "application/json", `{"device":{"id":"tok-1","platform":"ios"}}`, cio, 200},
		{"DELETE", "/api/v1/customers/u-1/devices/tok-1", "", "", cio, 200},
		{"POST", "/api/v1/customers/u-1/suppress", "", "", cio, 200},
		{"POST", "/api/v1/customers/u-1/unsuppress", "", "", cio, 200},
		{"POST", "/api/v1/merge_customers", "application/json", `{"primary":{"id":"u-1"},"secondary":{"email":"x@example.com"}}`, cio, 200},
		{"POST", "/api/v1/segments/7/add_customers", "application/json", `{"ids":["u-1"]}`, cio, 200},
		{"POST", "/api/v1/metrics", "application/json", `{"delivery_id":"d-1","metric":"opened"}`, cio, 200},
		{"POST", "/api/v1/push/events", "application/json", `{"delivery_id":"d-2","event":"opened"}`, cio, 200},
		{"POST", "/api/v1/forms/f-1/submit", "application/json", `{"data":{"email":"form@example.com","name":"Ann"}}`, cio, 204},
		{"POST", "/unsubscribe/d-3", "application/json", `{"unsubscribe":true}`, nil, 200},
		{"POST", "/api/v2/entity", "application/json", `{"type":"person","action":"event","identifiers":{"id":"u-2"},"name":"v2_event","attributes":{"k":"v"}}`, cio, 200},
		{"POST", "/api/v2/batch", "application/json", `{"batch":[{"type":"person","action":"identify","identifiers":{"id":"u-3"},"attributes":{"a":1}},{"type":"nope"}]}`, cio, 207},
		{"POST", "/v1/track", "application/json", zipped.String(), append([]string{"Content-Encoding", "gzip"}, cdpAuth...), 200},
		{"POST", "/v1/batch", "application/json", `{"batch":[{"type":"identify","userId":"u-9","traits":{"t":1}},{"type":"page","userId":"u-9","name":"Home"}]}`, cdpAuth, 200},
		{"POST", "/v1/t", "text/plain", `{"writeKey":"wk-1","type":"track","anonymousId":"b-1","event":"Clicked"}`, nil, 200},
	} {
		wantStatus(t, s.do(t, c.method, c.path, c.contentType, c.body, c.headers...), c.status)
	}
	wantStatus(t, s.postStandard(t, "pay", "msg_1", `{"type":"invoice.paid","n":1}`), 200)
	// The originals as stored (tracker requests also open a session and a
	// profile: those events make no event of their own when replayed).
	want := map[string]int{"web": 3, "cio": 16, "cdp": 4, "pay": 1}
	originals := map[string][]map[string]any{}
	for src, n := range want {
		originals[src] = s.events(t, "source="+src, n+map[string]int{"web": 6}[src])
	}
	for src, n := range want {
		sum := s.replay(t, `{"source":"`+src+`","force":true}`)
		if len(sum.Failed) != 0 || len(sum.Missing) != 0 || sum.Replayed != sum.Requests || sum.Events != n {
			t.Fatalf("%s: replay %+v, want %d events", src, sum, n)
		}
		got := s.events(t, "source="+src, len(originals[src])+n)
		byID := map[string]map[string]any{}
		for _, e := range originals[src] {
			byID[e["id"].(string)] = e
		}
		for _, e := range got {
			of, _ := e["replay_of"].(string)
			if of == "" {
				continue
			}
			o := byID[of]
			if o == nil || o["type"] != e["type"] || !cmp.Equal(o["properties"], e["properties"]) || o["profile_id"] != e["profile_id"] {
				t.Errorf("%s: replay %s of %s differs:\n%s\n%s", src, e["id"], of, dump(e), dump(o))
			}
		}
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
