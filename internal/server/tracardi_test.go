package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/switchyardhq/switchyard/internal/config"
)

func TestTrackResponseAndStoredEvents(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.track(t, `{"source":{"id":" web "},"session":{"id":"sess-1"},"profile":null,
		"context":{"browser":{"local":{"browser":{"language":"en-US"}}}},"properties":{"plan":"trial"},
		"device":{"id":"ignored-extra-key"},
		"events":[{"id":"client-ev-1","type":"  Sign Up ","properties":{"email":"a@b.c"},
		           "time":{"insert":"2023-01-01 00:00:01","create":"2023-01-01T00:00:00Z"},"context":{"page":{"url":"https://x"}},"tags":["t1"]}],
		"options":{"debugger":true}}`)
	wantStatus(t, r, 200)
	body := r.json(t)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range body {
			if !yield(k) {
				return
			}
		}
	})
	if diff := cmp.Diff([]string{"errors", "events", "profile", "response", "session", "source", "task", "ux", "warnings"}, keys); diff != "" {
		t.Fatalf("response keys (-want +got):\n%s", diff)
	}
	profileID := body["profile"].(map[string]any)["id"].(string)
	if got := body["session"].(map[string]any)["id"]; got != "sess-1" {
		t.Fatalf("session.id=%v, want the client's sess-1", got)
	}
	if got := body["source"]; !cmp.Equal(got, map[string]any{"consent": false}) {
		t.Fatalf("source=%v", got)
	}
	if n := len(body["events"].([]any)); n != 4 {
		t.Fatalf("debugger listed %d event ids, want 4 (the event, profile-created, visit-started, session-opened)", n)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header on /track")
	}

	events := s.events(t, "source=web&profile_id="+profileID, 4)
	byType := map[string]map[string]any{}
	for _, e := range events {
		byType[e["type"].(string)] = e
	}
	for _, typ := range []string{"sign-up", "profile-created", "session-opened", "visit-started"} {
		if byType[typ] == nil {
			t.Fatalf("no %s event among %v", typ, events)
		}
	}
	ev := byType["sign-up"]
	for k, want := range map[string]any{"message_id": "client-ev-1", "session_id": "sess-1",
		"timestamp": "2023-01-01T00:00:01Z", "original_timestamp": "2023-01-01T00:00:00Z"} {
		if ev[k] != want {
			t.Errorf("event %s=%v, want %v", k, ev[k], want)
		}
	}
	if !cmp.Equal(ev["properties"], map[string]any{"email": "a@b.c"}) || !cmp.Equal(ev["tags"], []any{"t1"}) {
		t.Errorf("event properties/tags = %v / %v", ev["properties"], ev["tags"])
	}
	sess := s.do(t, "GET", "/admin/v1/sessions/sess-1", "", "").json(t)
	if sess["profile_id"] != profileID || sess["properties"].(map[string]any)["plan"] != "trial" ||
		sess["context"].(map[string]any)["browser"] == nil {
		t.Fatalf("session = %v", sess)
	}
	prof := s.do(t, "GET", "/admin/v1/profiles/"+profileID, "", "").json(t)
	if stats := prof["stats"].(map[string]any); stats["visits"] != 1.0 || stats["events"] != 4.0 {
		t.Fatalf("profile stats = %v, want 1 visit and 4 events", stats)
	}
}

func TestTrackSessionAndProfileResolution(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	first := s.track(t, `{"source":{"id":"web"},"session":{"id":"v1"},"events":[{"type":"page-view"}]}`).json(t)
	pid := first["profile"].(map[string]any)["id"].(string)
	if first["events"] == nil || len(first["events"].([]any)) != 0 {
		t.Fatalf("events without debugger = %v, want []", first["events"])
	}
	t.Run("SessionsProfileWins", func(t *testing.T) {
		got := s.track(t, `{"source":{"id":"web"},"session":{"id":"v1"},"profile":{"id":"other"},"events":[{"type":"page-view"}]}`).json(t)
		if got["profile"].(map[string]any)["id"] != pid {
			t.Fatalf("profile %v, want %s", got["profile"], pid)
		}
	})
	t.Run("NewVisitOfKnownProfile", func(t *testing.T) {
		got := s.track(t, `{"source":{"id":"web"},"session":{"id":"v2"},"profile":{"id":"`+pid+`"},"events":[{"type":"page-view"}]}`).json(t)
		if got["profile"].(map[string]any)["id"] != pid {
			t.Fatalf("profile %v, want %s", got["profile"], pid)
		}
		s.events(t, "type=visit-started&profile_id="+pid, 2)
		s.events(t, "type=profile-created&profile_id="+pid, 1)
		prof := s.do(t, "GET", "/admin/v1/profiles/"+pid, "", "").json(t)
		if prof["stats"].(map[string]any)["visits"] != 2.0 {
			t.Fatalf("visits = %v, want 2", prof["stats"])
		}
	})
	t.Run("UnknownProfileIDGetsFreshID", func(t *testing.T) {
		got := s.track(t, `{"source":{"id":"web"},"session":{"id":"v3"},"profile":{"id":"made-up"},"events":[{"type":"page-view"}]}`).json(t)
		if id := got["profile"].(map[string]any)["id"]; id == "made-up" || id == pid {
			t.Fatalf("profile %v, want a fresh id", id)
		}
	})
	t.Run("MergedIDResolvesToSurvivor", func(t *testing.T) {
		other := s.track(t, `{"source":{"id":"web"},"session":{"id":"v4"},"events":[{"type":"page-view"}]}`).json(t)
		oid := other["profile"].(map[string]any)["id"].(string)
		if _, err := s.identity.Merge(t.Context(), pid, oid); err != nil {
			t.Fatal(err)
		}
		got := s.track(t, `{"source":{"id":"web"},"session":{"id":"v5"},"profile":{"id":"`+oid+`"},"events":[{"type":"page-view"}]}`).json(t)
		if got["profile"].(map[string]any)["id"] != pid {
			t.Fatalf("profile %v, want survivor %s", got["profile"], pid)
		}
		if p := s.do(t, "GET", "/admin/v1/profiles/"+oid, "", "").json(t); p["id"] != pid {
			t.Fatalf("GET merged id returned %v, want %s", p["id"], pid)
		}
	})
	t.Run("NoSessionOpensOne", func(t *testing.T) {
		got := s.track(t, `{"source":{"id":"web"},"events":[{"type":"page-view"}]}`).json(t)
		if got["session"].(map[string]any)["id"] == nil || got["profile"].(map[string]any)["id"] == nil {
			t.Fatalf("got %v, want a new session and profile", got)
		}
	})
	t.Run("ProfileLess", func(t *testing.T) {
		got := s.do(t, "POST", "/track?profile_less=true", "application/json",
			`{"source":{"id":"web"},"session":{"id":"pl-1"},"events":[{"type":"page-view"}]}`).json(t)
		if got["profile"].(map[string]any)["id"] != nil || got["session"].(map[string]any)["id"] != "pl-1" {
			t.Fatalf("got %v, want profile null and session pl-1", got)
		}
		for _, e := range s.events(t, "session_id=pl-1", 3) {
			if e["profile_id"] != nil {
				t.Fatalf("profile-less event has profile %v", e["profile_id"])
			}
		}
	})
}

func TestTrackConcurrentFirstHitsMakeOneProfile(t *testing.T) {
	s := newStack(t)
	const n = 60
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := http.Post(s.url+"/track", "application/json",
				strings.NewReader(`{"source":{"id":"web"},"session":{"id":"race"},"events":[{"type":"page-view"}]}`))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Profile struct{ ID string } }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			ids[i] = body.Profile.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("profile ids %q and %q for one session", id, ids[0])
		}
	}
	s.events(t, "type=profile-created", 1)
	s.events(t, "type=page-view&profile_id="+ids[0], n)
}

func TestTrackOptions(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"o1"},"events":[{"type":"ephemeral-a"}],"options":{"saveEvents":false}}`), 200)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"o1"},"events":[{"type":"ephemeral-b","options":{"save":false}},{"type":"kept"}]}`), 200)
	// Options count only as JSON booleans: the string "false" is ignored.
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"o1"},"events":[{"type":"string-option"}],"options":{"saveEvents":"false"}}`), 200)
	nosave := s.track(t, `{"source":{"id":"web"},"session":{"id":"o2"},"events":[{"type":"no-session"}],"options":{"saveSession":false}}`).json(t)
	s.settle(t)
	s.events(t, "type=ephemeral-a", 0)
	s.events(t, "type=ephemeral-b", 0)
	s.events(t, "type=kept", 1)
	s.events(t, "type=string-option", 1)
	ev := s.events(t, "type=no-session", 1)[0]
	if ev["session_id"] != nil {
		t.Fatalf("event of an unsaved session points at session %v", ev["session_id"])
	}
	if r := s.do(t, "GET", "/admin/v1/sessions/o2", "", ""); r.status != 404 {
		t.Fatalf("unsaved session stored: %d %s", r.status, r.body)
	}
	if nosave["session"].(map[string]any)["id"] != "o2" {
		t.Fatalf("session.id = %v, want o2", nosave["session"])
	}
}

func TestTrackEmptyEventsIsNull(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.track(t, `{"source":{"id":"web"},"events":[]}`)
	wantStatus(t, r, 200)
	if string(r.body) != "null" {
		t.Fatalf("body %s, want null", r.body)
	}
}

func TestTrackDuplicateStoredOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	body := `{"source":{"id":"web"},"session":{"id":"d1"},"events":[{"id":"dup-1","type":"purchase"}]}`
	for range 3 {
		wantStatus(t, s.track(t, body), 200)
	}
	// The same client id in a different batch shape passes the log's
	// window but is caught by the store.
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"session":{"id":"d1"},"events":[{"id":"dup-1","type":"purchase"},{"type":"other"}]}`), 200)
	s.settle(t)
	s.events(t, "type=purchase", 1)
	m := s.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{`switchyard_dedup_hits_total{layer="log"} 2`, `switchyard_dedup_hits_total{layer="store"} 1`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTrackBadInput(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.MaxBodyBytes = 4096 })
	for _, tc := range []struct {
		name, query, body string
		status            int
		want              string // substring of the body
	}{
		{"MalformedJSON", "", `{"source":`, 422, `"type":"json_invalid"`},
		{"NotAnObject", "", `[1,2]`, 422, `"type":"model_attributes_type","loc":["body"]`},
		{"MissingSource", "", `{"events":[]}`, 422, `"type":"missing","loc":["body","source"],"msg":"Field required"`},
		{"NumericSessionID", "", `{"source":{"id":"web"},"session":{"id":123},"events":[{"type":"x"}]}`, 422,
			`{"type":"string_type","loc":["body","session","id"],"msg":"Input should be a valid string","input":123}`},
		{"NumericSourceID", "", `{"source":{"id":7}}`, 422, `"loc":["body","source","id"]`},
		{"BlankType", "", `{"source":{"id":"web"},"events":[{"type":"  "}]}`, 422,
			`"type":"value_error","loc":["body","events",0,"type"],"msg":"Value error, Event type can not be empty"`},
		{"MissingType", "", `{"source":{"id":"web"},"events":[{}]}`, 422, `"type":"missing","loc":["body","events",0,"type"]`},
		{"EventsNotList", "", `{"source":{"id":"web"},"events":{}}`, 422, `"type":"list_type","loc":["body","events"]`},
		{"BadTime", "", `{"source":{"id":"web"},"events":[{"type":"x","time":{"insert":"yesterday"}}]}`, 422, `"loc":["body","events",0,"time","insert"]`},
		{"BadQueryBool", "?profile_less=maybe", `{"source":{"id":"web"},"events":[]}`, 422, `"loc":["query","profile_less"]`},
		{"UnknownSource", "", `{"source":{"id":"nope"},"events":[{"type":"x"}]}`, 401, "Invalid event source `nope`."},
		{"DisabledSource", "", `{"source":{"id":"off"},"events":[{"type":"x"}]}`, 401, "Event source disabled."},
		{"InternalSource", "", `{"source":{"id":"@internal-x"},"events":[{"type":"x"}]}`, 401, "Internal event sources are not allowed via API."},
		{"TooLarge", "", `{"source":{"id":"web"},"events":[{"type":"x","properties":{"pad":"` + strings.Repeat("x", 5000) + `"}}]}`, 413, "exceeds the limit of 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "POST", "/track"+tc.query, "application/json", tc.body)
			wantStatus(t, r, tc.status)
			if !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("body %s lacks %s", r.body, tc.want)
			}
			if _, ok := r.json(t)["detail"]; !ok {
				t.Fatalf("body %s has no detail", r.body)
			}
		})
	}
	t.Run("AllProblemsAtOnce", func(t *testing.T) {
		r := s.track(t, `{"source":{"id":1},"session":{"id":2},"events":[{"type":""},{}]}`)
		wantStatus(t, r, 422)
		if n := len(r.json(t)["detail"].([]any)); n != 4 {
			t.Fatalf("%d problems, want 4: %s", n, r.body)
		}
	})
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, path := range []string{"/track", "/collect/page-view/web", "/collect/page-view/web/s1"} {
		r := s.do(t, "OPTIONS", path, "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type,x-timestamp")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "x-timestamp") {
			t.Fatalf("preflight %s: %d %v", path, r.status, r.header)
		}
	}
}

func TestCollect(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	t.Run("GetQueryIsProperties", func(t *testing.T) {
		r := s.do(t, "GET", "/collect/Form%20Sent/web?a=1&b=2&b=3", "", "")
		wantStatus(t, r, 200)
		body := r.json(t)
		if body["profile"].(map[string]any)["id"] != nil || body["session"].(map[string]any)["id"] != nil {
			t.Fatalf("sessionless collect returned %v", body)
		}
		ev := s.events(t, "type=form-sent", 1)[0]
		if !cmp.Equal(ev["properties"], map[string]any{"a": "1", "b": []any{"2", "3"}}) || ev["profile_id"] != nil {
			t.Fatalf("event = %v", ev)
		}
	})
	t.Run("PostJSON", func(t *testing.T) {
		wantStatus(t, s.do(t, "POST", "/collect/order/web", "application/json; charset=utf-8", `{"total":12.5}`), 200)
		ev := s.events(t, "type=order", 1)[0]
		if !cmp.Equal(ev["properties"], map[string]any{"total": 12.5}) {
			t.Fatalf("properties = %v", ev["properties"])
		}
	})
	t.Run("PostForm", func(t *testing.T) {
		form := url.Values{"name": {"Ann"}, "tag": {"x", "y"}}
		wantStatus(t, s.do(t, "POST", "/collect/signup/web", "application/x-www-form-urlencoded", form.Encode()), 200)
		ev := s.events(t, "type=signup", 1)[0]
		if !cmp.Equal(ev["properties"], map[string]any{"name": "Ann", "tag": []any{"x", "y"}}) {
			t.Fatalf("properties = %v", ev["properties"])
		}
	})
	t.Run("WithSessionResolvesProfile", func(t *testing.T) {
		body := s.do(t, "POST", "/collect/hook/web/cs-1", "application/json", `{"k":"v"}`).json(t)
		pid := body["profile"].(map[string]any)["id"]
		if pid == nil || body["session"].(map[string]any)["id"] != "cs-1" {
			t.Fatalf("collect with session returned %v", body)
		}
		s.events(t, fmt.Sprintf("session_id=cs-1&profile_id=%s", pid), 4)
	})
	t.Run("BadInput", func(t *testing.T) {
		wantStatus(t, s.do(t, "POST", "/collect/x/web", "text/plain", "hello"), 422)
		wantStatus(t, s.do(t, "POST", "/collect/x/web", "application/json", `[1]`), 422)
		wantStatus(t, s.do(t, "GET", "/collect/%20/web", "", ""), 422)
		wantStatus(t, s.do(t, "GET", "/collect/x/nope", "", ""), 401)
		wantStatus(t, s.do(t, "POST", "/collect/x/web", "application/json", strings.Repeat("x", 2<<20)), 413)
	})
	t.Run("InvalidJSONCountsAsEmpty", func(t *testing.T) {
		wantStatus(t, s.do(t, "POST", "/collect/broken/web", "application/json", `{"x":`), 200)
		if ev := s.events(t, "type=broken", 1)[0]; !cmp.Equal(ev["properties"], map[string]any{}) {
			t.Fatalf("properties = %v, want {}", ev["properties"])
		}
	})
}

func TestTrackPutIsValidatedNoOp(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.do(t, "PUT", "/track", "application/json", `{"source":{"id":"web"},"session":{"id":"put-1"},"events":[{"type":"x"}]}`)
	wantStatus(t, r, 200)
	if string(r.body) != "null" {
		t.Fatalf("body %s, want null", r.body)
	}
	wantStatus(t, s.do(t, "PUT", "/track", "application/json", `{"session":{"id":1}}`), 422)
	s.settle(t)
	if r := s.do(t, "GET", "/admin/v1/sessions/put-1", "", ""); r.status != 404 {
		t.Fatalf("PUT /track stored a session: %d", r.status)
	}
}

// The events a first visit implies (profile-created, session-opened,
// visit-started) carry the time of the event that caused them.
func TestFirstVisitEventsTakeTheTriggersTime(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[{"type":"page-view"}]}`), 200)
	events := s.events(t, "source=web", 4)
	var view string
	for _, e := range events {
		if e["type"] == "page-view" {
			view = e["timestamp"].(string)
		}
	}
	for _, e := range events {
		if e["timestamp"] != view {
			t.Errorf("%s at %v, the page view at %s", e["type"], e["timestamp"], view)
		}
	}
}
