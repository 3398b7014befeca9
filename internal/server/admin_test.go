package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/identity"
)

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	t.Run("Tokens", func(t *testing.T) {
		s := newStack(t, func(c *config.Config) { c.Admin.Tokens = config.Tokens("t0k") })
		wantStatus(t, s.do(t, "GET", "/admin/v1/events", "", ""), 401)
		r := s.do(t, "GET", "/admin/v1/events", "", "", "Authorization", "Bearer wrong")
		wantStatus(t, r, 401)
		if r.json(t)["error"].(map[string]any)["code"] != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("401 body %s / headers %v", r.body, r.header)
		}
		wantStatus(t, s.do(t, "GET", "/admin/v1/events", "", "", "Authorization", "Bearer t0k"), 200)
		// Ingest and operations paths need no token.
		wantStatus(t, s.do(t, "GET", "/healthz", "", ""), 200)
	})
	t.Run("LoopbackOnlyWithoutTokens", func(t *testing.T) {
		h := (&auth.Access{}).Wrap(nil, auth.Admin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		for addr, want := range map[string]int{"127.0.0.1:5000": 204, "[::1]:5000": 204, "10.1.2.3:5000": 403, "203.0.113.9:1": 403} {
			req := httptest.NewRequest("GET", "/admin/v1/events", nil)
			req.RemoteAddr = addr
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Errorf("from %s: %d, want %d (%s)", addr, rec.Code, want, rec.Body)
			}
		}
	})
}

func TestAdminEvents(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for i := range 5 {
		typ := []string{"view", "buy"}[i%2]
		wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"ae"},"events":[{"type":"`+typ+`"}]}`), 200)
	}
	all := s.events(t, "session_id=ae", 8) // 5 + profile-created, visit-started, session-opened
	s.events(t, "session_id=ae&type=buy", 2)
	// Page with a cursor.
	var seen []string
	cursor := ""
	for range 10 {
		r := s.do(t, "GET", "/admin/v1/events?session_id=ae&limit=3&cursor="+cursor, "", "")
		wantStatus(t, r, 200)
		var page struct {
			Events     []map[string]any `json:"events"`
			NextCursor string           `json:"next_cursor"`
		}
		_ = json.Unmarshal(r.body, &page)
		for _, e := range page.Events {
			seen = append(seen, e["id"].(string))
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != len(all) || seen[0] != all[0]["id"] {
		t.Fatalf("paged %d events, want %d newest first", len(seen), len(all))
	}
	r := s.do(t, "GET", "/admin/v1/events/"+seen[2], "", "")
	wantStatus(t, r, 200)
	if r.json(t)["id"] != seen[2] {
		t.Fatalf("GET event returned %s", r.body)
	}
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	s.events(t, "since="+future, 0)
	for _, bad := range []string{"limit=0", "limit=5000", "limit=x", "since=yesterday"} {
		r := s.do(t, "GET", "/admin/v1/events?"+bad, "", "")
		wantStatus(t, r, 400)
		if r.json(t)["error"].(map[string]any)["code"] != "invalid" {
			t.Fatalf("%s: %s", bad, r.body)
		}
	}
	r = s.do(t, "GET", "/admin/v1/events/nope", "", "")
	wantStatus(t, r, 404)
	if r.json(t)["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("404 body %s", r.body)
	}
}

func TestAdminProfilesAndErase(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	res, err := s.identity.Identify(t.Context(), identity.IdentifyRequest{Identifiers: []cdp.Identifier{{Kind: "email", Value: "ann@example.com"}, {Kind: "id", Value: "42"}}, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	body := s.track(t, `{"source":{"id":"web"},"session":{"id":"pe"},"profile":{"id":"`+res.ProfileID+`"},"events":[{"type":"view"}]}`).json(t)
	if body["profile"].(map[string]any)["id"] != res.ProfileID {
		t.Fatalf("track did not adopt the profile: %v", body)
	}
	s.events(t, "profile_id="+res.ProfileID, 3)
	for _, q := range []string{"email:Ann@Example.com", "id:42"} {
		r := s.do(t, "GET", "/admin/v1/profiles?identifier="+q, "", "")
		wantStatus(t, r, 200)
		p := r.json(t)
		if p["id"] != res.ProfileID || p["identifiers"].(map[string]any)["email"] != "ann@example.com" {
			t.Fatalf("lookup %s = %s", q, r.body)
		}
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=email:nobody@x.io", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=phone:1", "", ""), 400)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles", "", ""), 400)
	r := s.do(t, "GET", "/admin/v1/profiles/"+res.ProfileID+"/events?type=view", "", "")
	wantStatus(t, r, 200)
	if n := len(r.json(t)["events"].([]any)); n != 1 {
		t.Fatalf("profile events = %d, want 1", n)
	}

	wantStatus(t, s.do(t, "DELETE", "/admin/v1/profiles/"+res.ProfileID, "", ""), 204)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles/"+res.ProfileID, "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=id:42", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/sessions/pe", "", ""), 404)
	s.events(t, "session_id=pe", 0)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/profiles/"+res.ProfileID, "", ""), 404)
}

func TestAdminSources(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"shop","kind":"track","name":"Shop"}`)
	wantStatus(t, r, 201)
	if src := r.json(t); src["origin"] != "api" || src["enabled"] != true {
		t.Fatalf("created %s", r.body)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"shop"},"events":[{"type":"x"}]}`), 200)
	// Credentials the source issues are generated when left out; one
	// another system issues (Customer.io's signing key) is required.
	for body, keys := range map[string][]string{
		`{"id":"t1","kind":"customerio_track"}`:                                                         {"site_id", "api_key"},
		`{"id":"p1","kind":"customerio_pipelines"}`:                                                     {"write_key"},
		`{"id":"w1","kind":"webhook","verify":{"scheme":"standard_webhooks"},"event_type":"body.type"}`: {"verify"},
	} {
		r := s.do(t, "POST", "/admin/v1/sources", "application/json", body)
		wantStatus(t, r, 201)
		src := r.json(t)
		for _, k := range keys {
			if v, _ := src[k].(string); len(v) < 16 && k != "verify" {
				t.Errorf("%s: %s not generated: %s", body, k, r.body)
			}
		}
		if v, ok := src["verify"].(map[string]any); ok && !strings.HasPrefix(v["secret"].(string), "whsec_") {
			t.Errorf("%s: no whsec_ secret: %s", body, r.body)
		}
		wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/"+src["id"].(string), "", ""), 204)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"r1","kind":"customerio_webhook"}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"shop","kind":"track"}`), 409)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"web","kind":"track"}`), 409)
	r = s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"-bad id","kind":"fax"}`)
	wantStatus(t, r, 400)
	if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "id:") || !strings.Contains(msg, "kind:") {
		t.Fatalf("message %q should name both problems", msg)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"x","kind":"track","colour":"red"}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", `{`), 400)
	r = s.do(t, "POST", "/admin/v1/sources", "application/json", `{"id":"big","kind":"track","name":"`+strings.Repeat("x", 2<<20)+`"}`)
	wantStatus(t, r, 413)
	if r.json(t)["error"].(map[string]any)["code"] != "too_large" {
		t.Fatalf("413 body %s", r.body)
	}

	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/shop", "application/json", `{"kind":"track","enabled":false}`), 200)
	wantStatus(t, s.track(t, `{"source":{"id":"shop"},"events":[{"type":"x"}]}`), 401)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/shop", "application/json", `{"id":"other","kind":"track"}`), 400)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/web", "application/json", `{"kind":"track"}`), 403)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/web", "", ""), 403)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/none", "application/json", `{"kind":"track"}`), 404)

	r = s.do(t, "GET", "/admin/v1/sources", "", "")
	wantStatus(t, r, 200)
	var list struct{ Sources []cdp.Source }
	_ = json.Unmarshal(r.body, &list)
	if len(list.Sources) != 3 || list.Sources[0].ID != "off" || list.Sources[1].ID != "shop" || list.Sources[2].ID != "web" {
		t.Fatalf("sources = %+v", list.Sources)
	}
	// The API-created source is stored: a fresh registry over the store sees it.
	stored, err := s.store.FindSources(t.Context())
	if err != nil || len(stored) != 1 || stored[0].ID != "shop" || stored[0].Enabled {
		t.Fatalf("stored sources = %+v, %v", stored, err)
	}
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/sources/shop", "", ""), 204)
	wantStatus(t, s.do(t, "GET", "/admin/v1/sources/shop", "", ""), 404)
}

// openTail opens /admin/v1/tail?query (with headers, name then value)
// and returns its lines, past the opening comment.
func (s *stack) openTail(t *testing.T, query string, headers ...string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/admin/v1/tail?"+query, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("tail answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // the opening comment
	return lines
}

// nextEvents reads n events from a tail, each of which must come with
// its id: line.
func nextEvents(t *testing.T, lines *bufio.Scanner, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	id := ""
	for len(got) < n && lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "id: "); ok {
			id = v
		}
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			var e map[string]any
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatalf("data line %q: %v", data, err)
			}
			if e["id"] != id {
				t.Fatalf("event %v came with id: %q", e["id"], id)
			}
			got = append(got, e)
		}
	}
	return got
}

// A tail reopened with Last-Event-ID first sends the stored events after
// that one (and a few seconds before it, which a client drops by id),
// then the live ones, each once.
func TestTailResumes(t *testing.T) {
	s := newStack(t)
	first := s.openTail(t, "type=order")
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"order","properties":{"n":1}}]}`), 200)
	last := nextEvents(t, first, 1)[0]["id"].(string)
	// Disconnected: two more are stored meanwhile.
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"order","properties":{"n":2}},{"type":"view"},{"type":"order","properties":{"n":3}}]}`), 200)
	s.events(t, "type=order", 3)
	again := s.openTail(t, "type=order", "Last-Event-ID", last)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"order","properties":{"n":4}}]}`), 200)
	var ns []float64
	for _, e := range nextEvents(t, again, 3) {
		if e["id"] == last {
			t.Fatal("the Last-Event-ID event itself was sent again")
		}
		ns = append(ns, e["properties"].(map[string]any)["n"].(float64))
	}
	if fmt.Sprint(ns) != "[2 3 4]" {
		t.Fatalf("resumed with %v, want [2 3 4]", ns)
	}
}

func TestAdminTail(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	bySourceType := s.openTail(t, "source=web&type=purchase")
	byFilter := s.openTail(t, "filter="+url.QueryEscape("event.type == 'purchase' && event.properties.total > 2.0"))
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"tl"},"events":[{"type":"view"},{"type":"purchase","properties":{"total":1}}]}`), 200)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"tl"},"events":[{"type":"purchase","properties":{"total":3}}]}`), 200)
	got := nextEvents(t, bySourceType, 2)
	if len(got) != 2 || got[0]["type"] != "purchase" || got[1]["type"] != "purchase" || got[0]["source_id"] != "web" {
		t.Fatalf("tail delivered %v, want the purchases only", got)
	}
	got = nextEvents(t, byFilter, 1)
	if len(got) != 1 || got[0]["properties"].(map[string]any)["total"] != 3.0 {
		t.Fatalf("filtered tail delivered %v, want the purchase of 3", got)
	}
	for _, bad := range []string{"event.type ==", "1 + 1", "nope"} {
		r := s.do(t, "GET", "/admin/v1/tail?filter="+url.QueryEscape(bad), "", "")
		wantStatus(t, r, 400)
		if !strings.Contains(string(r.body), "filter:") {
			t.Errorf("%q: %s", bad, r.body)
		}
	}
}

func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.do(t, "GET", "/readyz", "", "")
	wantStatus(t, r, 200)
	if r.json(t)["status"] != "ready" {
		t.Fatalf("readyz %s", r.body)
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"x"}]}`), 200)
	wantStatus(t, s.track(t, `{"source":{"id":"nope"},"events":[{"type":"x"}]}`), 401)
	m := string(s.do(t, "GET", "/metrics", "", "").body)
	for _, want := range []string{
		`switchyard_ingested_events_total{outcome="accepted",source="web"} 4`,
		`switchyard_ingested_events_total{outcome="rejected",source="unknown"} 1`,
		"switchyard_publish_ack_seconds_bucket", "switchyard_store_batch_size_bucket", "switchyard_processor_lag_messages",
		`switchyard_http_requests_total{code="200",route="POST /track"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for path, code := range map[string]int{"/nope": 404, "/admin/v1/nothing": 404} {
		r := s.do(t, "GET", path, "", "")
		wantStatus(t, r, code)
		r.json(t)
	}
	r = s.do(t, "DELETE", "/track", "", "")
	wantStatus(t, r, 405)
	if r.header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
}
