package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// inbox is a stand-in webhook destination that keeps each body's "says".
type inbox struct {
	URL  string
	mu   sync.Mutex
	says []string
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct{ Says string }
		_ = json.Unmarshal(b, &m)
		in.mu.Lock()
		in.says = append(in.says, m.Says)
		in.mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	in.URL = srv.URL
	return in
}

func (in *inbox) got() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.says)
}

// abandonedCart is the journey of docs/workflows.md: when a cart is
// updated, wait up to a while for the same person's order of that cart;
// thank them if it comes, remind them if not; an unsubscribe ends it.
const abandonedCart = `
id: abandoned_cart
trigger: { source: web, types: [cart_updated] }
exit_when: "event.type == 'unsubscribed'"
steps:
  - id: ordered
    wait_for:
      event: "event.type == 'order_completed'"
      match: "event.properties.cart_id == trigger.properties.cart_id"
      timeout: "duration('TIMEOUT')"
  - id: follow_up
    branch:
      if: "steps.ordered.output.matched"
      then: [ { id: thank, action: webhook.send, destination: app, with: { body: "{'says': 'thanks ' + steps.ordered.output.event.properties.cart_id}" } } ]
      else: [ { id: remind, action: webhook.send, destination: app, with: { body: "{'says': 'reminder ' + trigger.properties.cart_id}" } } ]
`

func journeyStack(t *testing.T, timeout string) (*stack, *inbox) {
	in := newInbox(t)
	var wf workflow.Workflow
	if err := yaml.Unmarshal([]byte(strings.Replace(abandonedCart, "TIMEOUT", timeout, 1)), &wf); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{wf}
	})
	return s, in
}

// cart sends a tracker event of profile ("" for a new visitor) and
// returns the profile id the server answered, as the tracker keeps it.
func (s *stack) cart(t *testing.T, profile, typ, cart string) string {
	t.Helper()
	who := ""
	if profile != "" {
		who = `"profile":{"id":"` + profile + `"},`
	}
	r := s.track(t, `{"source":{"id":"web"},`+who+`"events":[{"type":"`+typ+`","properties":{"cart_id":"`+cart+`"}}]}`)
	wantStatus(t, r, 200)
	return r.json(t)["profile"].(map[string]any)["id"].(string)
}

// Through the real stack: a cart updated parks a run; an order of another
// cart does not end it, the order of that cart does, once, and the
// person is thanked; a second person who orders nothing is reminded at
// the timeout; a third who unsubscribes while waiting hears nothing.
func TestAbandonedCartJourney(t *testing.T) {
	t.Parallel()
	s, in := journeyStack(t, "3s")
	who := map[string]string{}
	for _, p := range []string{"p-buys", "p-idle", "p-leaves"} {
		who[p] = s.cart(t, "", "cart_updated", "c-"+p)
	}
	s.events(t, "type=cart_updated", 3)
	testenv.Eventually(t, "three runs waiting", 10*time.Second, func() bool {
		r := s.do(t, "GET", "/admin/v1/runs?workflow=abandoned_cart&status=waiting", "", "").json(t)
		return len(r["runs"].([]any)) == 3
	})
	s.cart(t, who["p-buys"], "order_completed", "another")
	s.cart(t, who["p-leaves"], "unsubscribed", "")
	s.cart(t, who["p-buys"], "order_completed", "c-p-buys")
	s.cart(t, who["p-buys"], "order_completed", "c-p-buys") // once is enough
	testenv.Eventually(t, "the thanks", 10*time.Second, func() bool { return slices.Contains(in.got(), "thanks c-p-buys") })
	testenv.Eventually(t, "the reminder at the timeout", 15*time.Second, func() bool { return slices.Contains(in.got(), "reminder c-p-idle") })
	s.settle(t)
	if got := in.got(); len(got) != 2 {
		t.Fatalf("sent %v", got)
	}
	runs := s.do(t, "GET", "/admin/v1/runs?workflow=abandoned_cart", "", "").json(t)["runs"].([]any)
	status := map[string]int{}
	for _, r := range runs {
		status[r.(map[string]any)["status"].(string)]++
	}
	if status["succeeded"] != 2 || status["exited"] != 1 || len(runs) != 3 {
		t.Fatalf("runs %v", status)
	}
}

// order_by: profile delivers one person's runs one at a time, in the
// order their events were stored, while other people's runs go on beside
// them.
func TestOrderByProfile(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	inFlight, most := 0, 0
	byPerson := map[string][]float64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Who string
			N   float64
		}
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		byPerson[m.Who] = append(byPerson[m.Who], m.N)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: srv.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "ordered", OrderBy: "profile", Trigger: workflow.Trigger{Source: "web", Types: []string{"step"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app",
				With: map[string]any{"body": "{'who': event.profile_id, 'n': event.properties.n}"}}}}}
	})
	send := func(profile string, n int) string {
		who := ""
		if profile != "" {
			who = `"profile":{"id":"` + profile + `"},`
		}
		r := s.track(t, `{"source":{"id":"web"},`+who+`"events":[{"type":"step","properties":{"n":`+strconv.Itoa(n)+`}}]}`)
		wantStatus(t, r, 200)
		return r.json(t)["profile"].(map[string]any)["id"].(string)
	}
	one := send("", 0)
	const n = 20
	for i := 1; i < n; i++ {
		send(one, i)
		if i%4 == 0 {
			send("", 100+i) // someone else, in a line of their own
		}
	}
	testenv.Eventually(t, "every delivery", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(byPerson[one]) == n && len(byPerson) == 1+(n-1)/4
	})
	mu.Lock()
	defer mu.Unlock()
	for i, got := range byPerson[one] {
		if got != float64(i) {
			t.Fatalf("one person's deliveries out of order: %v", byPerson[one])
		}
	}
	if most < 2 {
		t.Errorf("at most %d delivery in flight: other people's runs waited in the same line", most)
	}
}

// A debounced trigger starts one run per burst of a person's events: a
// later event starts the period again and only the last one's run goes
// on; the others end as skipped, and another person's burst is theirs.
func TestDebounce(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "settled", Trigger: workflow.Trigger{Source: "web", Types: []string{"cart_updated"},
			Debounce: &workflow.Debounce{Period: "1s"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app",
				With: map[string]any{"body": "{'says': event.properties.cart_id}"}}}}}
	})
	one := s.cart(t, "", "cart_updated", "one-1")
	s.cart(t, one, "cart_updated", "one-2")
	other := s.cart(t, "", "cart_updated", "other-1")
	s.cart(t, one, "cart_updated", "one-3")
	testenv.Eventually(t, "both bursts' last runs", 10*time.Second, func() bool {
		got := in.got()
		return slices.Contains(got, "one-3") && slices.Contains(got, "other-1")
	})
	testenv.Await(t, "the replaced runs to end as skipped", 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/runs?workflow=settled&status=skipped", "", "")
		return len(r.json(t)["runs"].([]any)) == 2, string(r.body)
	})
	if got := in.got(); len(got) != 2 || other == one {
		t.Fatalf("sent %v", got)
	}
}
