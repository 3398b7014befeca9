package server_test

import (
	"encoding/json"
	"testing"

	customerio "github.com/customerio/go-customerio/v3"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
)

// After a merge or an alias the old identifiers keep resolving to the
// survivor, so a later event sent with one joins it instead of starting
// a new profile; the survivor keeps its own id and email. Both stores.
func TestMergedIdentifiersKeepResolving(t *testing.T) {
	t.Parallel()
	onBothStores(t, checkMergedIdentifiers)
}

func checkMergedIdentifiers(t *testing.T, engine func(*config.Config)) {
	s, cio := newCIOStack(t, engine, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey})
	})
	pipe := func(path, body string) {
		t.Helper()
		wantStatus(t, s.do(t, "POST", path, "application/json", body, "Authorization", "Basic "+basic(writeKey, "")), 200)
	}
	ident := func(p map[string]any, kind string) any { return p["identifiers"].(map[string]any)[kind] }

	// Track API merge: the secondary's id and email become the survivor's
	// aliases; the survivor's own email stays.
	must(t, cio.Identify("p1", map[string]any{"email": "p1@example.com"}))
	must(t, cio.Identify("s1", map[string]any{"email": "s1@example.com"}))
	s.settle(t)
	must(t, cio.MergeCustomers(customerio.Identifier{Type: customerio.IdentifierTypeID, Value: "p1"},
		customerio.Identifier{Type: customerio.IdentifierTypeID, Value: "s1"}))
	s.settle(t)
	survivor := s.profileOf(t, "id:p1")
	for _, old := range []string{"id:s1", "email:s1@example.com"} {
		if got := s.profileOf(t, old)["id"]; got != survivor["id"] {
			t.Errorf("%s resolves to %v, not the survivor %v", old, got, survivor["id"])
		}
	}
	must(t, cio.Track("s1", "late_event", nil))
	must(t, cio.Identify("s1", map[string]any{"seen": true}))
	s.settle(t)
	s.events(t, "type=late_event&profile_id="+survivor["id"].(string), 1)
	p := s.profileOf(t, "id:p1")
	if p["id"] != survivor["id"] || ident(p, "id") != "p1" || ident(p, "email") != "p1@example.com" || p["traits"].(map[string]any)["seen"] != true {
		t.Errorf("after events sent with the old id the survivor is %v", p)
	}

	// Data Pipelines alias: a previous user id with a profile of its own
	// is merged into the new one and keeps resolving to it.
	pipe("/v1/identify", `{"userId":"old-u","traits":{"email":"old@example.com"}}`)
	pipe("/v1/identify", `{"userId":"new-u","traits":{"email":"new@example.com"}}`)
	s.settle(t)
	pipe("/v1/alias", `{"userId":"new-u","previousId":"old-u"}`)
	s.settle(t)
	pipe("/v1/track", `{"userId":"old-u","event":"After Alias","messageId":"aa-1"}`)
	s.settle(t)
	p = s.profileOf(t, "id:new-u")
	if s.profileOf(t, "id:old-u")["id"] != p["id"] || ident(p, "email") != "new@example.com" || ident(p, "id") != "new-u" {
		t.Errorf("after alias: old-u → %v, survivor %v", s.profileOf(t, "id:old-u")["id"], p)
	}
	s.events(t, "type=After+Alias&profile_id="+p["id"].(string), 1)

	// A previous user id known only by its own profile: that profile
	// takes the new id, and the old one still names it.
	pipe("/v1/identify", `{"userId":"first-id","traits":{"plan":"pro"}}`)
	s.settle(t)
	pipe("/v1/alias", `{"userId":"second-id","previousId":"first-id"}`)
	s.settle(t)
	p = s.profileOf(t, "id:second-id")
	if s.profileOf(t, "id:first-id")["id"] != p["id"] || ident(p, "id") != "second-id" || p["traits"].(map[string]any)["plan"] != "pro" {
		t.Errorf("adopted: %v", p)
	}

	// An anonymous visitor aliased to a user: later events under either
	// id join the user.
	pipe("/v1/track", `{"anonymousId":"anon-9","event":"Browsed","messageId":"b-1"}`)
	s.settle(t)
	pipe("/v1/alias", `{"userId":"u9","previousId":"anon-9"}`)
	pipe("/v1/track", `{"userId":"anon-9","event":"Later","messageId":"l-1"}`)
	s.settle(t)
	p = s.profileOf(t, "id:u9")
	s.events(t, "type=Browsed&profile_id="+p["id"].(string), 1)
	s.events(t, "type=Later&profile_id="+p["id"].(string), 1)

	// cio_id lookups take Customer.io's prefixed form too.
	pipe("/v1/identify", `{"userId":"c1","traits":{}}`)
	must(t, cio.Identify("cio_abc123", map[string]any{"x": 1}))
	s.settle(t)
	if a, b := s.profileOf(t, "cio_id:abc123")["id"], s.profileOf(t, "cio_id:cio_abc123")["id"]; a != b {
		t.Errorf("cio_id:abc123 → %v, cio_id:cio_abc123 → %v", a, b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Tracardi's /track records the request's User-Agent on its events, and
// a Data Pipelines device event keeps the client's properties beside the
// device it registers.
func TestUserAgentAndDeviceProperties(t *testing.T) {
	t.Parallel()
	s := newPipelinesStack(t)
	r := s.do(t, "POST", "/track", "application/json", `{"source":{"id":"web"},"events":[{"type":"ua-check"}]}`, "User-Agent", "Mozilla/5.0 (X11) Tracker")
	wantStatus(t, r, 200)
	wantStatus(t, s.do(t, "POST", "/v1/track", "application/json",
		`{"userId":"d1","event":"Device Created or Updated","context":{"device":{"token":"tok-d1","type":"android"}},"properties":{"app_version":"3.1","push_enabled":true}}`,
		"Authorization", "Basic "+basic(writeKey, "")), 200)
	s.settle(t)
	if e := s.events(t, "type=ua-check", 1)[0]; e["user_agent"] != "Mozilla/5.0 (X11) Tracker" {
		t.Errorf("tracardi event user_agent = %v", e["user_agent"])
	}
	e := s.events(t, "type=Device+Created+or+Updated", 1)[0]
	props := e["properties"].(map[string]any)
	if props["app_version"] != "3.1" || props["push_enabled"] != true || props["device"].(map[string]any)["id"] != "tok-d1" {
		t.Errorf("device event properties = %v", props)
	}
	dev := s.profileOf(t, "id:d1")["devices"].([]any)[0].(map[string]any)
	attrs, _ := json.Marshal(dev["attributes"])
	if dev["id"] != "tok-d1" || dev["platform"] != "android" || string(attrs) != `{"app_version":"3.1","push_enabled":true}` {
		t.Errorf("device = %v", dev)
	}
}
