package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	customerio "github.com/customerio/go-customerio/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// Credentials whose base64 differs between the standard and URL-safe
// alphabets, as go-customerio encodes them (Customer.io's documentation).
const cioSite, cioKey = "site_id_1", "api~key?>"

func newCIOStack(t *testing.T, mutate ...func(*config.Config)) (*stack, *customerio.CustomerIO) {
	t.Helper()
	s := newStack(t, append([]func(*config.Config){func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: cioSite, APIKey: cioKey})
	}}, mutate...)...)
	return s, customerio.NewTrackClient(cioSite, cioKey, customerio.WithURL(s.url))
}

// profileOf waits until a profile with ident exists and returns it.
func (s *stack) profileOf(t *testing.T, ident string) map[string]any {
	t.Helper()
	var r reply
	testenv.Await(t, "a profile for "+ident, 10*time.Second, func() (bool, string) {
		r = s.do(t, "GET", "/admin/v1/profiles?identifier="+url.QueryEscape(ident), "", "")
		return r.status == 200, fmt.Sprintf("%d %s", r.status, r.body)
	})
	return r.json(t)
}

func TestCustomerIOIdentifyOneProfile(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	// By email, then by id carrying the same email: one person.
	if err := c.Identify("Ann@Example.com", map[string]any{"plan": "trial", "created_at": 1700000000}); err != nil {
		t.Fatal(err)
	}
	if err := c.Identify("42", map[string]any{"email": "ann@example.com", "plan": "pro"}); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:42")
	if p["id"] != s.profileOf(t, "email:ann@example.com")["id"] {
		t.Fatalf("two profiles for one person")
	}
	traits := p["traits"].(map[string]any)
	if traits["plan"] != "pro" || traits["created_at"] != 1700000000.0 {
		t.Fatalf("traits = %v", traits)
	}
	ids := p["identifiers"].(map[string]any)
	if ids["id"] != "42" || ids["email"] != "ann@example.com" {
		t.Fatalf("identifiers = %v", ids)
	}
	ev := s.events(t, "type=identify&profile_id="+p["id"].(string), 2)[0]
	if ev["op"] != "identify" || ev["user_id"] != "42" || !strings.HasPrefix(ev["user_agent"].(string), "Customer.io Go Client") {
		t.Fatalf("identify event = %v", ev)
	}
	// Escaped path identifiers arrive unescaped.
	if err := c.Identify("user/1 a", map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	s.profileOf(t, "id:user/1 a")
}

func TestCustomerIOEvents(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	for range 2 { // the event id deduplicates
		err := c.Track("u1", "purchase", map[string]any{"price": 23.45},
			customerio.WithEventID("01HXYZ"), customerio.WithEventTimestamp(time.Unix(1700000001, 0)))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Track("u1", "https://shop.example/p/1", nil, customerio.WithEventType(customerio.TrackTypePage)); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:u1")
	ev := s.events(t, "type=purchase", 1)[0]
	if ev["message_id"] != "01HXYZ" || ev["timestamp"] != "2023-11-14T22:13:21Z" || ev["user_id"] != "u1" ||
		ev["profile_id"] != p["id"] || ev["properties"].(map[string]any)["price"] != 23.45 {
		t.Fatalf("purchase event = %v", ev)
	}
	page := s.events(t, "type=page", 1)[0]
	if page["properties"].(map[string]any)["name"] != "https://shop.example/p/1" {
		t.Fatalf("page event = %v", page)
	}
	if p["stats"].(map[string]any)["events"] != 2.0 {
		t.Fatalf("profile stats = %v", p["stats"])
	}
}

func TestCustomerIOAnonymousEventsJoinOnIdentify(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	for _, name := range []string{"viewed", "added_to_cart"} {
		if err := c.TrackAnonymous("anon-7", name, map[string]any{"a": 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.TrackAnonymous("", "invite", nil); err != nil { // sends "data": null
		t.Fatal(err)
	}
	s.settle(t)
	for _, e := range s.events(t, "source=cio", 3) {
		if e["profile_id"] != nil {
			t.Fatalf("anonymous event has a profile before identify: %v", e)
		}
	}
	if err := c.Identify("ann", map[string]any{"anonymous_id": "anon-7"}); err != nil {
		t.Fatal(err)
	}
	if err := c.TrackAnonymous("anon-7", "after", nil); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:ann")
	s.events(t, "profile_id="+p["id"].(string), 4) // viewed, added_to_cart, identify, after
	if s.profileOf(t, "anonymous_id:anon-7")["id"] != p["id"] {
		t.Fatal("the anonymous id does not resolve to the identified profile")
	}
	if n := s.profileOf(t, "id:ann")["stats"].(map[string]any)["events"]; n != 4.0 {
		t.Fatalf("profile counts %v events, want 4", n)
	}
}

func TestCustomerIODeleteErases(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	if err := c.Identify("gone@example.com", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Track("gone@example.com", "clicked", nil); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	pid := s.profileOf(t, "email:gone@example.com")["id"].(string)
	if err := c.Delete("gone@example.com"); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles/"+pid, "", ""), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=email:gone@example.com", "", ""), 404)
	s.events(t, "source=cio", 0)
	if err := c.Delete("nobody"); err != nil { // deleting an unknown person is fine
		t.Fatal(err)
	}
}

func TestCustomerIOConcurrentIdentifyOneProfile(t *testing.T) {
	s, c := newCIOStack(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := c.Identify("race@example.com", map[string]any{"n": i}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.settle(t)
	p := s.profileOf(t, "email:race@example.com")
	s.events(t, "type=identify&profile_id="+p["id"].(string), 50)
	s.events(t, "type=identify", 50) // all 50 on that one profile
}

func TestCustomerIOBadInput(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t, func(cfg *config.Config) { cfg.MaxBodyBytes = 200_000 })
	t.Run("WrongCredentials", func(t *testing.T) {
		bad := customerio.NewTrackClient(cioSite, "wrong", customerio.WithURL(s.url))
		err := bad.Identify("x", map[string]any{"a": 1})
		var cerr *customerio.CustomerIOError
		if !errors.As(err, &cerr) || cerr.StatusCode() != 401 || !strings.Contains(string(cerr.Body()), `"Unauthorized request"`) {
			t.Fatalf("err = %v", err)
		}
		wantStatus(t, s.do(t, "PUT", "/api/v1/customers/x", "application/json", `{}`), 401)
		s.settle(t)
		wantStatus(t, s.do(t, "GET", "/admin/v1/profiles?identifier=id:x", "", ""), 404)
	})
	auth := "Basic " + basic(cioSite, cioKey)
	long := strings.Repeat("n", 101)
	manyAttrs := map[string]any{}
	for i := range 301 {
		manyAttrs[fmt.Sprint("a", i)] = i
	}
	for _, tc := range []struct {
		name, method, path, body, want string
		status                         int
	}{
		{"BlankName", "POST", "/api/v1/customers/u1/events", `{"name":"  "}`, "event name must not be blank", 400},
		{"MissingName", "POST", "/api/v1/events", `{"data":{}}`, "event name must not be blank", 400},
		{"LongName", "POST", "/api/v1/customers/u1/events", `{"name":"` + long + `"}`, "event name cannot be longer than 100 bytes", 400},
		{"DataNotHash", "POST", "/api/v1/customers/u1/events", `{"name":"x","data":""}`, "event data must be a hash", 400},
		{"DataTooLong", "POST", "/api/v1/customers/u1/events", `{"name":"x","data":{"p":"` + strings.Repeat("x", 100001) + `"}}`, "event data cannot be longer than 100000 bytes", 400},
		{"IDNotString", "PUT", "/api/v1/customers/u1", `{"id":5}`, "id attribute must be a string value", 400},
		{"IDEmpty", "PUT", "/api/v1/customers/u1", `{"id":""}`, "id attribute cannot be an empty string", 400},
		{"ValueTooLong", "PUT", "/api/v1/customers/u1", `{"bio":"` + strings.Repeat("b", 1001) + `"}`, "value for attribute 'bio' cannot be longer than 1000 bytes", 400},
		{"NameTooLong", "PUT", "/api/v1/customers/u1", `{"` + strings.Repeat("k", 151) + `":1}`, "attribute name cannot be longer than 150 bytes", 400},
		{"TooManyAttributes", "PUT", "/api/v1/customers/u1", jsonBody(manyAttrs), "cannot identify more than 300 attributes in one request", 400},
		{"IdentifierTooLong", "PUT", "/api/v1/customers/" + strings.Repeat("i", 151), `{}`, "customer identifier cannot be longer than 150 bytes", 400},
		{"Malformed", "PUT", "/api/v1/customers/u1", `{"a":`, "request body must be a JSON object", 400},
		{"TooLarge", "PUT", "/api/v1/customers/u1", `{"a":"` + strings.Repeat("x", 300_000) + `"}`, "exceeds the limit", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, "application/json", tc.body, "Authorization", auth)
			wantStatus(t, r, tc.status)
			if got := r.json(t)["meta"].(map[string]any)["error"].(string); !strings.Contains(got, tc.want) {
				t.Fatalf("error %q, want %q", got, tc.want)
			}
		})
	}
	s.settle(t)
	s.events(t, "source=cio", 0)
	if err := c.Identify("fine", nil); err != nil {
		t.Fatal(err)
	}
}

func TestCustomerIORateLimitAndRegion(t *testing.T) {
	s, c := newCIOStack(t, func(cfg *config.Config) {
		cfg.Sources[len(cfg.Sources)-1].RateLimit = 2
	})
	var limited *customerio.CustomerIOError
	for i := range 10 {
		err := c.TrackCtx(context.Background(), "u1", "tick", map[string]any{"i": i})
		if errors.As(err, &limited) {
			break
		}
	}
	if limited == nil || limited.StatusCode() != 429 {
		t.Fatalf("no 429 within 10 quick requests at 2/s: %v", limited)
	}
	r := s.do(t, "GET", "/api/v1/accounts/region", "", "", "Authorization", "Basic "+basic(cioSite, cioKey))
	if r.status == 429 {
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 {
			t.Fatalf("429 with Retry-After %q", r.header.Get("Retry-After"))
		}
		time.Sleep(time.Duration(wait) * time.Second) // as the header asks
		r = s.do(t, "GET", "/api/v1/accounts/region", "", "", "Authorization", "Basic "+basic(cioSite, cioKey))
	}
	wantStatus(t, r, 200)
	if body := r.json(t); body["region"] != "us" || !strings.HasPrefix(body["url"].(string), "http://127.0.0.1") {
		t.Fatalf("region = %v", body)
	}
}

func TestCustomerIOSubscriptionAttributes(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	for i := range 5 { // map order varies: dotted and nested forms must merge either way
		id := fmt.Sprint("sub", i)
		err := c.Identify(id, map[string]any{"unsubscribed": "1", "cio_subscription_preferences.topics.topic_1": true,
			"cio_subscription_preferences": map[string]any{"topics": map[string]any{"topic_2": false}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Identify("sub-no", map[string]any{"unsubscribed": "no"}); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	for i := range 5 {
		traits := s.profileOf(t, fmt.Sprint("id:sub", i))["traits"].(map[string]any)
		want := map[string]any{"topics": map[string]any{"topic_1": true, "topic_2": false}}
		if traits["unsubscribed"] != true || !cmp.Equal(traits["cio_subscription_preferences"], want) {
			t.Fatalf("traits = %v", traits)
		}
	}
	if traits := s.profileOf(t, "id:sub-no")["traits"].(map[string]any); traits["unsubscribed"] != false {
		t.Fatalf("unsubscribed \"no\" = %v", traits["unsubscribed"])
	}
}
