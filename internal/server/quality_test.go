package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// qualitySources are one source of each ingest API, all checked by the
// tracking plan of the quality tests ("web", which settle uses, is not).
func qualitySources(c *config.Config) {
	c.Sources = append(c.Sources,
		config.Source{ID: "shop", Kind: cdp.SourceTrack},
		config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"},
		config.Source{ID: "cdp", Kind: cdp.SourceCustomerIOPipelines, WriteKey: writeKey},
		config.Source{ID: "hook", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, EventType: "body.type"})
}

// purchasePlan requires a numeric revenue on every purchase.
func purchasePlan(mode string) quality.Plan {
	return quality.Plan{ID: "orders", Mode: mode, Sources: []string{"shop", "cio", "cdp", "hook"},
		Events: map[string]quality.PlanEvent{"purchase": {Properties: map[string]any{
			"type": "object", "required": []any{"revenue"}, "properties": map[string]any{"revenue": map[string]any{"type": "number"}}}}}}
}

// sender sends one purchase with the given revenue (a JSON value) and
// message id through one API.
type sender struct {
	source, dialect string
	send            func(t *testing.T, s *stack, id, revenue string) reply
}

var qualitySenders = []sender{
	{"shop", "tracardi", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.track(t, `{"source":{"id":"shop"},"session":{"id":"s-`+id+`"},"events":[{"id":"`+id+`","type":"purchase","properties":{"revenue":`+revenue+`}}]}`)
	}},
	{"shop", "tracardi", func(t *testing.T, s *stack, id, revenue string) reply { // collect: one event, no message id
		return s.do(t, "POST", "/collect/purchase/shop", "application/json", `{"revenue":`+revenue+`,"n":"`+id+`"}`)
	}},
	{"cio", "track v1", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/api/v1/customers/u1/events", "application/json", `{"name":"purchase","id":"`+id+`","data":{"revenue":`+revenue+`}}`,
			"Authorization", "Basic "+basic("site", "key"))
	}},
	{"cio", "track v2", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/api/v2/entity", "application/json",
			`{"type":"person","identifiers":{"id":"u1"},"action":"event","id":"`+id+`","name":"purchase","attributes":{"revenue":`+revenue+`}}`,
			"Authorization", "Basic "+basic("site", "key"))
	}},
	{"cio", "track v2", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/api/v2/batch", "application/json",
			`{"batch":[{"type":"person","identifiers":{"id":"u1"},"action":"event","id":"`+id+`","name":"purchase","attributes":{"revenue":`+revenue+`}}]}`,
			"Authorization", "Basic "+basic("site", "key"))
	}},
	{"cdp", "pipelines", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/v1/track", "application/json", `{"userId":"u1","messageId":"`+id+`","event":"purchase","properties":{"revenue":`+revenue+`}}`,
			"Authorization", "Basic "+basic(writeKey, ""))
	}},
	{"cdp", "pipelines", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/v1/batch", "application/json", `{"batch":[{"type":"track","userId":"u1","messageId":"`+id+`","event":"purchase","properties":{"revenue":`+revenue+`}}]}`,
			"Authorization", "Basic "+basic(writeKey, ""))
	}},
	{"hook", "webhook", func(t *testing.T, s *stack, id, revenue string) reply {
		return s.do(t, "POST", "/webhooks/hook", "application/json", `{"type":"purchase","revenue":`+revenue+`,"n":"`+id+`"}`)
	}},
}

// TestTrackingPlanModes sends a valid and a violating purchase through
// every ingest API in each mode: flag stores both (the violating one with
// its violation), drop stores the valid one and answers both 2xx, block
// refuses the violating request in the API's own dialect.
func TestTrackingPlanModes(t *testing.T) {
	t.Parallel()
	for _, mode := range cdp.PlanModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, qualitySources, func(c *config.Config) { c.TrackingPlans = []quality.Plan{purchasePlan(mode)} })
			for i, snd := range qualitySenders {
				good := snd.send(t, s, fmt.Sprintf("good-%d", i), "12.5")
				if good.status/100 != 2 {
					t.Fatalf("sender %d: valid purchase answered %d %s", i, good.status, good.body)
				}
				bad := snd.send(t, s, fmt.Sprintf("bad-%d", i), `"12.5"`)
				if mode == cdp.PlanBlock {
					checkBlocked(t, snd.dialect, bad)
				} else if bad.status/100 != 2 {
					t.Fatalf("sender %d in %s mode: violating purchase answered %d %s", i, mode, bad.status, bad.body)
				}
			}
			s.settle(t)
			want := map[string]int{"shop": 2, "cio": 3, "cdp": 2, "hook": 1} // senders per source
			for source, n := range want {
				stored := n // the valid ones
				if mode == cdp.PlanFlag {
					stored = 2 * n
				}
				events := s.events(t, "source="+source+"&type=purchase", stored)
				flagged := 0
				for _, e := range events {
					vs, _ := e["violations"].([]any)
					if revenue := e["properties"].(map[string]any)["revenue"]; revenue == "12.5" {
						flagged++
						v := vs[0].(map[string]any)
						if len(vs) != 1 || v["plan"] != "orders" || v["kind"] != "schema" || v["path"] != "/properties/revenue" || v["message"] != "got string, want number" {
							t.Errorf("%s: violations %v", source, vs)
						}
					} else if len(vs) > 0 {
						t.Errorf("%s: a valid purchase has violations %v", source, vs)
					}
				}
				if wantFlagged := stored - n; flagged != wantFlagged {
					t.Errorf("%s: %d flagged events stored, want %d", source, flagged, wantFlagged)
				}
			}
			outcome := map[string]string{cdp.PlanFlag: "flagged", cdp.PlanDrop: "dropped", cdp.PlanBlock: "blocked"}[mode]
			metrics := string(s.do(t, "GET", "/metrics", "", "").body)
			for source, n := range want {
				line := fmt.Sprintf(`switchyard_plan_violations_total{outcome=%q,plan="orders",source=%q,type="purchase"} %d`, outcome, source, n)
				if !strings.Contains(metrics, line) {
					t.Errorf("metrics lack %s", line)
				}
			}
		})
	}
}

// checkBlocked checks a refusal in an API's dialect.
func checkBlocked(t *testing.T, dialect string, r reply) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%s: refusal %q is not JSON", dialect, r.body)
	}
	const msg = `event "purchase" breaks tracking plan orders: got string, want number`
	var ok bool
	switch dialect {
	case "tracardi": // FastAPI's 422 detail list, located in the body
		d, _ := body["detail"].([]any)
		p, _ := d[0].(map[string]any)
		loc, _ := json.Marshal(p["loc"])
		want := `["body","events",0,"properties","revenue"]`
		ok = r.status == 422 && len(d) == 1 && string(loc) == want && p["msg"] == msg
	case "track v1": // {"meta":{"error":…}}
		m, _ := body["meta"].(map[string]any)
		ok = r.status == 400 && strings.Contains(fmt.Sprint(m["error"]), "tracking plan orders: /properties/revenue: got string, want number")
	case "track v2": // {"errors":[{reason, field, message}]}
		errs, _ := body["errors"].([]any)
		e, _ := errs[0].(map[string]any)
		ok = r.status == 400 && len(errs) == 1 && e["reason"] == "invalid" && e["field"] == "properties.revenue" && e["message"] == msg
	case "pipelines": // the strict answer, {"meta":{"errors":[…]}}
		m, _ := body["meta"].(map[string]any)
		errs, _ := m["errors"].([]any)
		ok = r.status == 400 && len(errs) == 1 && errs[0] == "events[0] (purchase): tracking plan orders: /properties/revenue: got string, want number"
	case "webhook": // the management API's error shape
		e, _ := body["error"].(map[string]any)
		ok = r.status == 400 && e["code"] == cdp.EINVALID && strings.Contains(fmt.Sprint(e["message"]), "/properties/revenue")
	}
	if !ok {
		t.Errorf("%s: blocked with %d %s", dialect, r.status, r.body)
	}
}

// TestBlockedWithAnalyticsNode sends a valid and a violating track with
// Segment's analytics-node in block mode: the valid one is delivered, the
// violating one fails with the 400 the client treats as final (it does
// not retry it), and only the valid one is stored.
func TestBlockedWithAnalyticsNode(t *testing.T) {
	t.Parallel()
	modules := os.Getenv("SWITCHYARD_TEST_NODE_MODULES")
	if _, err := os.Stat(filepath.Join(modules, "@segment", "analytics-node")); modules == "" || err != nil {
		t.Skip("SWITCHYARD_TEST_NODE_MODULES has no @segment/analytics-node (.ci/run installs it)")
	}
	s := newStack(t, qualitySources, func(c *config.Config) { c.TrackingPlans = []quality.Plan{purchasePlan(cdp.PlanBlock)} })
	calls := `[{"userId":"u1","event":"purchase","properties":{"revenue":12.5}},{"userId":"u2","event":"purchase","properties":{"revenue":"12.5"}}]`
	cmd := exec.Command("node", filepath.Join("testdata", "analytics_node.mjs"), s.url, writeKey, calls)
	cmd.Env = append(os.Environ(), "NODE_MODULES_DIR="+modules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("analytics-node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{`{"event":"purchase"}`, `{"event":"purchase","error":"[400] Bad Request"}`, `{"statuses":[200,400]}`}
	if !slices.Equal(lines, want) {
		t.Fatalf("analytics-node reported\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	s.settle(t)
	if e := s.events(t, "source=cdp&type=purchase", 1)[0]; e["user_id"] != "u1" {
		t.Fatalf("stored %v", e)
	}
}

// TestTransformAtTheSource reshapes a source's events at ingest (rename
// the type, drop a PII field, drop heartbeats), tries a fixed transform on
// the captured requests without storing anything, and, once the fix is
// saved, replays history through it.
func TestTransformAtTheSource(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) {
		c.TrackingPlans = []quality.Plan{{ID: "orders", Sources: []string{"tx"}, Events: map[string]quality.PlanEvent{"purchase": {Properties: map[string]any{
			"type": "object", "required": []any{"currency"}}}}}}
	})
	source := func(transform string) string {
		return jsonBody(map[string]any{"id": "tx", "kind": "track", "transform": transform})
	}
	v1 := `{'drop': event.type == 'heartbeat', 'type': event.type == 'order' ? 'purchase' : event.type, 'properties': event.properties.without(['email'])}`
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources", "application/json", source(v1)), 201)
	bad := s.do(t, "POST", "/admin/v1/sources", "application/json", jsonBody(map[string]any{"id": "tx2", "kind": "track", "transform": "event.properties."}))
	wantStatus(t, bad, 400)
	if !strings.Contains(string(bad.body), "transform") {
		t.Fatalf("a transform that does not compile: %s", bad.body)
	}
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	for i, typ := range []string{"order", "heartbeat", "order"} {
		wantStatus(t, s.track(t, fmt.Sprintf(`{"source":{"id":"tx"},"session":{"id":"s%d"},"events":[{"id":"m%d","type":%q,"properties":{"total":%d,"email":"a@b.c"}}]}`, i, i, typ, 10+i)), 200)
	}
	s.settle(t)
	purchases := s.events(t, "source=tx&type=purchase", 2)
	for _, e := range purchases {
		p := e["properties"].(map[string]any)
		if _, ok := p["email"]; ok || p["total"] == nil {
			t.Fatalf("transformed %v", p)
		}
		if vs, _ := e["violations"].([]any); len(vs) != 1 || vs[0].(map[string]any)["path"] != "/properties" {
			t.Fatalf("violations %v", e["violations"])
		}
	}
	s.events(t, "source=tx&type=heartbeat", 0)
	s.events(t, "source=tx&type=order", 0)

	// The fix adds the currency the plan requires; tried first.
	v2 := `{'drop': event.type == 'heartbeat', 'type': event.type == 'order' ? 'purchase' : event.type, 'properties': event.properties.without(['email']).with({'currency': 'EUR'})}`
	r := s.do(t, "POST", "/admin/v1/sources/tx/transform/trial", "application/json", jsonBody(map[string]any{"transform": v2}))
	wantStatus(t, r, 200)
	var trial struct {
		Trials []struct {
			RequestID string `json:"request_id"`
			Error     string
			Events    []struct {
				Before, After *struct {
					Type       string
					Properties map[string]any
				}
				Outcome    string
				Violations []any
			}
		}
	}
	if err := json.Unmarshal(r.body, &trial); err != nil {
		t.Fatal(err)
	}
	// Three requests were captured (the heartbeat's stored its session's
	// events), newest first; the heartbeat is dropped.
	if len(trial.Trials) != 3 || len(trial.Trials[1].Events) != 1 || trial.Trials[1].Events[0].Outcome != "dropped" || trial.Trials[1].Events[0].After != nil {
		t.Fatalf("trials of the 3 captured requests: %s", r.body)
	}
	for _, tr := range []int{0, 2} {
		tr := trial.Trials[tr]
		ev := tr.Events[0]
		if tr.Error != "" || len(tr.Events) != 1 || ev.Before.Type != "order" || ev.Before.Properties["email"] != "a@b.c" ||
			ev.After.Type != "purchase" || ev.After.Properties["currency"] != "EUR" || ev.After.Properties["email"] != nil ||
			ev.Outcome != "stored" || len(ev.Violations) != 0 {
			t.Fatalf("trial %s", r.body)
		}
	}
	// Without a transform of its own, the trial uses the source's (v1):
	// flagged by the plan.
	r = s.do(t, "POST", "/admin/v1/sources/tx/transform/trial", "application/json", `{}`)
	if !strings.Contains(string(r.body), `"outcome":"flagged"`) {
		t.Fatalf("trial with the source's transform: %s", r.body)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources/tx/transform/trial", "application/json", `{"transform":"event."}`), 400)
	wantStatus(t, s.do(t, "POST", "/admin/v1/sources/nope/transform/trial", "application/json", `{}`), 404)
	s.settle(t)
	s.events(t, "source=tx&type=purchase", 2) // the trial stored nothing

	// Saved, then replayed: history repaired.
	wantStatus(t, s.do(t, "PUT", "/admin/v1/sources/tx", "application/json", source(v2)), 200)
	if sum := s.replay(t, `{"source":"tx","since":"`+since+`"}`); sum.Replayed != 3 {
		t.Fatalf("replay %+v", sum)
	}
	s.settle(t)
	s.events(t, "source=tx&type=heartbeat", 0)
	for _, e := range s.events(t, "source=tx&type=purchase", 4) {
		p := e["properties"].(map[string]any)
		if e["replay_of"] != nil && (p["currency"] != "EUR" || e["violations"] != nil) {
			t.Fatalf("replayed %v", e)
		}
	}
}

// TestCatalogAfterMixedEvents sends 100,000 events of five types with
// varying properties through the Data Pipelines API (10,000 under the race
// detector or -short) and checks the catalog against what the test knows
// it sent: every type's count and violating count, and every property
// path's count by JSON type.
func TestCatalogAfterMixedEvents(t *testing.T) {
	t.Parallel()
	n := 100_000
	if testenv.Race || testing.Short() {
		n = 10_000
	}
	s := newStack(t, qualitySources, func(c *config.Config) {
		c.RawCapture.Enabled = false // volume, not replay, is under test
		c.TrackingPlans = []quality.Plan{{ID: "orders", Sources: []string{"cdp"}, Events: map[string]quality.PlanEvent{"Order Completed": {Properties: map[string]any{
			"type": "object", "properties": map[string]any{"revenue": map[string]any{"type": "number"}}}}}}}
	})
	type want struct {
		events, violating int64
		paths             map[string]map[string]int64
	}
	expect := map[string]*want{}
	count := func(typ string, violating bool, paths ...string) {
		w := expect[typ]
		if w == nil {
			w = &want{paths: map[string]map[string]int64{}}
			expect[typ] = w
		}
		w.events++
		if violating {
			w.violating++
		}
		for i := 0; i < len(paths); i += 2 {
			if w.paths[paths[i]] == nil {
				w.paths[paths[i]] = map[string]int64{}
			}
			w.paths[paths[i]][paths[i+1]]++
		}
	}
	messages := make([]string, 0, n)
	for i := range n {
		id := fmt.Sprintf("m%d", i)
		switch i % 5 {
		case 0, 1: // orders: revenue a number, every 7th a string (flagged); coupon on every 3rd; items on every 4th
			props := map[string]any{"revenue": 10.5, "currency": "EUR"}
			paths := []string{"currency", "string"}
			if i%7 == 0 {
				props["revenue"] = "10.5"
				paths = append(paths, "revenue", "string")
			} else {
				paths = append(paths, "revenue", "number")
			}
			if i%3 == 0 {
				props["coupon"] = nil
				paths = append(paths, "coupon", "null")
			}
			if i%4 == 0 {
				props["items"] = []any{map[string]any{"sku": "a", "qty": 1}, map[string]any{"sku": "b"}}
				paths = append(paths, "items", "array", "items[]", "object", "items[].sku", "string", "items[].qty", "integer")
			}
			messages = append(messages, jsonBody(map[string]any{"type": "track", "messageId": id, "userId": "u" + id, "event": "Order Completed", "properties": props}))
			count("Order Completed", i%7 == 0, paths...)
		case 2:
			props := map[string]any{"sku": "p" + id, "price": 3, "address": map[string]any{"city": "Oslo", "geo": map[string]any{"lat": 59.9}}}
			messages = append(messages, jsonBody(map[string]any{"type": "track", "messageId": id, "anonymousId": "a" + id, "event": "Product Viewed", "properties": props}))
			count("Product Viewed", false, "sku", "string", "price", "integer", "address", "object", "address.city", "string", "address.geo", "object", "address.geo.lat", "number")
		case 3:
			messages = append(messages, jsonBody(map[string]any{"type": "track", "messageId": id, "userId": "u" + id, "event": "Signed Up", "properties": map[string]any{"plan": []any{"pro", 2, true}}}))
			count("Signed Up", false, "plan", "array", "plan[]", "string", "plan[]", "integer", "plan[]", "boolean")
		case 4:
			messages = append(messages, jsonBody(map[string]any{"type": "identify", "messageId": id, "userId": "u" + id, "traits": map[string]any{"email": id + "@example.com"}}))
			count("identify", false)
		}
	}
	// Four clients, 500 messages a batch.
	var wg sync.WaitGroup
	batches := make(chan []string)
	for range 4 {
		wg.Go(func() {
			for b := range batches {
				r := s.do(t, "POST", "/v1/batch", "application/json", `{"batch":[`+strings.Join(b, ",")+`]}`, "Authorization", "Basic "+basic(writeKey, ""))
				if r.status != 200 {
					t.Errorf("batch answered %d %s", r.status, r.body)
				}
			}
		})
	}
	for i := 0; i < len(messages); i += 500 {
		batches <- messages[i:min(i+500, len(messages))]
	}
	close(batches)
	wg.Wait()

	var got struct {
		Types []struct {
			Type              string
			Events, Violating int64
			ViolationRate     float64 `json:"violation_rate"`
			Declared          []any
			Properties        []cdp.CatalogProperty
			FirstSeen         time.Time `json:"first_seen"`
		}
	}
	testenv.Await(t, "the catalog to count every event", 2*time.Minute, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/catalog?source=cdp", "", "")
		wantStatus(t, r, 200)
		got.Types = nil
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, ty := range got.Types {
			total += ty.Events
		}
		return total == int64(n), fmt.Sprintf("%d of %d events counted", total, n)
	})
	if len(got.Types) != len(expect) {
		t.Fatalf("%d types in the catalog, want %d", len(got.Types), len(expect))
	}
	for _, ty := range got.Types {
		w := expect[ty.Type]
		if w == nil {
			t.Fatalf("type %q was never sent", ty.Type)
		}
		paths := map[string]map[string]int64{}
		for _, p := range ty.Properties {
			paths[p.Path] = p.Types
		}
		if ty.Events != w.events || ty.Violating != w.violating || ty.FirstSeen.IsZero() {
			t.Errorf("%s: %d events, %d violating, want %d, %d", ty.Type, ty.Events, ty.Violating, w.events, w.violating)
		}
		if diff := cmp.Diff(w.paths, paths, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s properties (-want +got):\n%s", ty.Type, diff)
		}
		if wantDeclared := ty.Type == "Order Completed"; (len(ty.Declared) == 1) != wantDeclared {
			t.Errorf("%s declared %v", ty.Type, ty.Declared)
		}
		if rate := float64(w.violating) / float64(w.events); ty.ViolationRate != rate {
			t.Errorf("%s violation rate %v, want %v", ty.Type, ty.ViolationRate, rate)
		}
	}
	// The inferred schema of orders: revenue was a number or a string.
	r := s.do(t, "GET", "/admin/v1/catalog/schema?source=cdp&type=Order%20Completed", "", "")
	wantStatus(t, r, 200)
	var schema map[string]any
	json.Unmarshal(r.body, &schema)
	rev := schema["properties"].(map[string]any)["revenue"].(map[string]any)["type"]
	if !cmp.Equal(rev, []any{"number", "string"}) || !cmp.Equal(schema["required"], []any{"currency", "revenue"}) {
		t.Errorf("inferred %s", r.body)
	}
	wantStatus(t, s.do(t, "GET", "/admin/v1/catalog/schema?source=cdp&type=nope", "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/catalog/schema?source=cdp", "", ""), 400)
}

// A live tail follows what a plan flags: its filter sees the event's
// violations.
func TestTailFollowsViolations(t *testing.T) {
	t.Parallel()
	s := newStack(t, qualitySources, func(c *config.Config) { c.TrackingPlans = []quality.Plan{purchasePlan(cdp.PlanFlag)} })
	lines := s.openTail(t, "filter="+url.QueryEscape(`violations.exists(v, v.plan == 'orders' && v.path == '/properties/revenue')`))
	all := s.openTail(t, "source=shop&filter="+url.QueryEscape(`violations.size() == 0 && event.type == 'purchase'`))
	for i, revenue := range []string{"1", `"1"`, "2"} {
		wantStatus(t, qualitySenders[0].send(t, s, fmt.Sprintf("t%d", i), revenue), 200)
	}
	flagged := nextEvents(t, lines, 1)[0]
	if flagged["properties"].(map[string]any)["revenue"] != "1" {
		t.Fatalf("the violations tail sent %v", flagged)
	}
	for _, e := range nextEvents(t, all, 2) {
		if _, bad := e["properties"].(map[string]any)["revenue"].(string); bad {
			t.Fatalf("the clean tail sent %v", e)
		}
	}
}

// The AsyncAPI document describes each type a plan in force declares
// with the declared schema.
func TestAsyncAPICarriesDeclaredSchemas(t *testing.T) {
	t.Parallel()
	s := newStack(t, qualitySources, func(c *config.Config) { c.TrackingPlans = []quality.Plan{purchasePlan(cdp.PlanDrop)} })
	r := s.do(t, "GET", "/asyncapi.json", "", "")
	wantStatus(t, r, 200)
	var doc struct {
		Components struct {
			Messages map[string]struct{ Name, Summary string }
			Schemas  map[string]map[string]any
		}
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	msg := doc.Components.Messages["planned_orders_purchase"]
	schema := doc.Components.Schemas["planned_orders_purchase"]
	if msg.Name != "purchase" || !strings.Contains(msg.Summary, "tracking plan orders (mode drop)") || !cmp.Equal(schema["required"], []any{"revenue"}) {
		t.Fatalf("message %+v, schema %v", msg, schema)
	}
}

// Tracking plans through the management API: a plan created there is in
// force at once on the node that saved it (blocking here), versioned, and
// deleted; a plan that does not compile, that reaches outside its schema,
// that is not YAML or JSON, too large or a second of its id is refused
// naming the problem; the file's plans are read-only; a viewer cannot
// change one and a caller without a token cannot read them.
func TestTrackingPlansThroughTheAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, qualitySources, func(c *config.Config) {
		c.TrackingPlans = []quality.Plan{{ID: "filed", Sources: []string{"hook"}, Events: map[string]quality.PlanEvent{"x": {}}}}
	})
	plan := "id: orders\nsources: [shop]\nmode: block\nevents:\n  purchase:\n    properties: {type: object, required: [revenue], properties: {revenue: {type: number}}}\n"
	r := s.do(t, "POST", "/admin/v1/tracking-plans", "application/yaml", plan)
	wantStatus(t, r, 201)
	if r.header.Get("ETag") != `"1"` || r.json(t)["definition"].(map[string]any)["mode"] != "block" {
		t.Fatalf("created %s", r.body)
	}
	wantStatus(t, qualitySenders[0].send(t, s, "p1", `"1"`), 422)
	wantStatus(t, qualitySenders[0].send(t, s, "p2", "1"), 200)

	for _, bad := range []struct{ body, want string }{
		{"id: orders\nevents: {purchase: {}}\n", "conflict"},
		{"id: p2\nmode: sometimes\nevents: {purchase: {}}\n", "mode: must be one of flag, drop, block"},
		{"id: p3\nevents: {purchase: {properties: {type: numbr}}}\n", "events.purchase.properties: is not a valid JSON Schema"},
		{"id: p4\nevents: {purchase: {properties: {$ref: 'file:///etc/passwd'}}}\n", "may not load file:///etc/passwd"},
		{"id: p5\nevents: [\n", "yaml"},
		{"id: p6\nevents: {purchase: {}}\nextra: 1\n", "extra"},
	} {
		r := s.do(t, "POST", "/admin/v1/tracking-plans", "application/yaml", bad.body)
		if r.status/100 != 4 || !strings.Contains(string(r.body), bad.want) {
			t.Errorf("POST %q: %d %s, want a 4xx naming %q", bad.body, r.status, r.body, bad.want)
		}
	}
	big := "id: big\nevents: {purchase: {description: '" + strings.Repeat("x", 2<<20) + "'}}\n"
	wantStatus(t, s.do(t, "POST", "/admin/v1/tracking-plans", "application/yaml", big), 413)
	wantStatus(t, s.do(t, "PUT", "/admin/v1/tracking-plans/filed", "application/yaml", "id: filed\nevents: {y: {}}\n"), 403)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/tracking-plans/filed", "", ""), 403)

	// The next version lets strings through; then the plan is deleted.
	r = s.do(t, "PUT", "/admin/v1/tracking-plans/orders", "application/yaml", strings.Replace(plan, "mode: block", "mode: flag", 1), "If-Match", `"1"`)
	wantStatus(t, r, 200)
	wantStatus(t, qualitySenders[0].send(t, s, "p3", `"1"`), 200)
	versions := s.do(t, "GET", "/admin/v1/tracking-plans/orders/versions", "", "")
	wantStatus(t, versions, 200)
	if n := len(versions.json(t)["versions"].([]any)); n != 2 {
		t.Fatalf("%d versions: %s", n, versions.body)
	}
	list := s.do(t, "GET", "/admin/v1/tracking-plans", "", "")
	if !strings.Contains(string(list.body), `"origin":"config"`) || !strings.Contains(string(list.body), `"id":"orders"`) {
		t.Fatalf("list %s", list.body)
	}
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/tracking-plans/orders", "", ""), 204)
	wantStatus(t, s.do(t, "GET", "/admin/v1/tracking-plans/orders", "", ""), 404)

	// What is false or empty in a plan is kept as written: a type listed
	// without schemas, allow_unplanned: false, a schema's false.
	strict := `{"allow_unplanned":false,"events":{"page":{},"purchase":{"properties":{"additionalProperties":false}}},"id":"strict","sources":["shop"]}`
	r = s.do(t, "POST", "/admin/v1/tracking-plans", "application/json", strict)
	wantStatus(t, r, 201)
	if def, _ := json.Marshal(r.json(t)["definition"]); string(def) != strict {
		t.Fatalf("stored %s, want %s", def, strict)
	}
	wantStatus(t, qualitySenders[0].send(t, s, "p4", "1"), 200)
	s.settle(t)
	e := s.events(t, "source=shop&type=purchase", 3)[0] // newest first
	if vs, _ := e["violations"].([]any); len(vs) != 1 || !strings.Contains(fmt.Sprint(vs[0]), "additional properties 'revenue' not allowed") {
		t.Fatalf("violations %v", e["violations"])
	}
}
