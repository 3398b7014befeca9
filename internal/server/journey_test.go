package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/cdp"
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

// docJourney reads the abandoned-cart journey of docs/workflows.md as
// its readers read it (the configuration block under the journey
// marker), with the hour shortened to timeout and Customer.io's host
// pointed at track.
func docJourney(t *testing.T, timeout, track string) *config.Config {
	t.Helper()
	doc, err := os.ReadFile("../../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- journey: abandoned cart -->\n```yaml\n")
	block, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("docs/workflows.md has no journey block")
	}
	block = strings.Replace(block, "duration('1h')", "duration('"+timeout+"')", 1)
	env := map[string]string{"APP_WRITE_KEY": "wk-shop", "CIO_SITE_ID": "site", "CIO_API_KEY": "key"}
	cfg, err := config.Parse([]byte(block), func(k string) string { return env[k] }, builtin.Registry)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Destinations[0].TrackURL, cfg.Destinations[0].AllowPrivateNetwork = track, true
	return cfg
}

// cioCalls is a stand-in Customer.io Track API that keeps each event
// call as "<identifier> <name> <cart_id>".
type cioCalls struct {
	URL   string
	mu    sync.Mutex
	calls []string
}

func newCIOCalls(t *testing.T) *cioCalls {
	c := &cioCalls{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name string
			Data struct {
				CartID string `json:"cart_id"`
			}
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		who := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/customers/"), "/events")
		c.mu.Lock()
		c.calls = append(c.calls, who+" "+body.Name+" "+body.Data.CartID)
		c.mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *cioCalls) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// awaitWaiting waits until n runs of workflow wf wait.
func (s *stack) awaitWaiting(t *testing.T, wf string, n int) {
	t.Helper()
	testenv.Await(t, fmt.Sprintf("%d runs of %s waiting", n, wf), 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/runs?workflow="+wf+"&status=waiting", "", "")
		return len(r.json(t)["runs"].([]any)) == n, string(r.body)
	})
}

// shop sends a Data Pipelines track call of user, as the shop's
// analytics library does.
func (s *stack) shop(t *testing.T, user, event, cart string) {
	t.Helper()
	wantStatus(t, s.do(t, "POST", "/v1/track", "application/json",
		`{"userId":"`+user+`","event":"`+event+`","properties":{"cart_id":"`+cart+`"}}`, "Authorization", "Basic "+basic("wk-shop", "")), 200)
}

// The abandoned cart of docs/workflows.md, as written, through the real
// stack with a stand-in Customer.io: a cart updated parks a run; an order
// of another cart does not end it, the order of that cart does, once, and
// the person is thanked; a person who orders nothing is reminded at the
// timeout; one who unsubscribes while waiting hears nothing.
func TestAbandonedCartJourney(t *testing.T) {
	t.Parallel()
	cio := newCIOCalls(t)
	cfg := docJourney(t, "5s", cio.URL)
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, cfg.Sources...)
		c.Destinations, c.Workflows = cfg.Destinations, cfg.Workflows
	})
	for _, u := range []string{"buys", "idle", "leaves"} {
		s.shop(t, u, "cart_updated", "c-"+u)
	}
	s.awaitWaiting(t, "abandoned_cart", 3)
	testenv.Await(t, "the waiting gauge (refreshed every 2 s)", 10*time.Second, func() (bool, string) {
		m := string(s.do(t, "GET", "/metrics", "", "").body)
		return strings.Contains(m, `switchyard_runs_waiting{step="ordered",workflow="abandoned_cart"} 3`), grepLines(m, "waiting")
	})
	// The console shows what a waiting run waits for, and the workflow
	// how many wait at each step.
	waitingRuns := s.do(t, "GET", "/admin/v1/runs?workflow=abandoned_cart&status=waiting", "", "").json(t)["runs"].([]any)
	code, _, body := s.page(t, "GET", "/console/runs/"+waitingRuns[0].(map[string]any)["id"].(string), nil)
	wantPage(t, code, body, 200, "Waiting for an event of the person meeting event.type == &#39;order_completed&#39;, matched by", ", until ")
	code, _, body = s.page(t, "GET", "/console/workflows/abandoned_cart", nil)
	wantPage(t, code, body, 200, `Runs waiting: <code>ordered</code> 3`)
	s.shop(t, "buys", "order_completed", "another")
	s.shop(t, "leaves", "unsubscribed", "")
	s.shop(t, "buys", "order_completed", "c-buys")
	s.shop(t, "buys", "order_completed", "c-buys") // once is enough
	testenv.Eventually(t, "the thanks", 10*time.Second, func() bool { return slices.Contains(cio.got(), "buys order_thanks c-buys") })
	testenv.Eventually(t, "the reminder at the timeout", 15*time.Second, func() bool { return slices.Contains(cio.got(), "idle cart_reminder c-idle") })
	s.settle(t)
	if got := cio.got(); len(got) != 2 {
		t.Fatalf("Customer.io saw %v", got)
	}
	runs := s.do(t, "GET", "/admin/v1/runs?workflow=abandoned_cart", "", "").json(t)["runs"].([]any)
	status := map[string]int{}
	for _, r := range runs {
		status[r.(map[string]any)["status"].(string)]++
	}
	if status["succeeded"] != 2 || status["exited"] != 1 || len(runs) != 3 {
		t.Fatalf("runs %v", status)
	}
	m := string(s.do(t, "GET", "/metrics", "", "").body)
	for _, want := range []string{`switchyard_waits_ended_total{how="event",workflow="abandoned_cart"} 1`,
		`switchyard_waits_ended_total{how="timeout",workflow="abandoned_cart"} 1`, `switchyard_waits_ended_total{how="exit",workflow="abandoned_cart"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "waits"))
		}
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
		c.Sources = append(c.Sources, config.Source{ID: "shop", Kind: cdp.SourceCustomerIOPipelines, WriteKey: "wk-shop"})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "settled", Trigger: workflow.Trigger{Source: "shop", Types: []string{"cart_updated"},
			Debounce: &workflow.Debounce{Period: "1s"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app",
				With: map[string]any{"body": "{'says': event.properties.cart_id}"}}}}}
	})
	s.shop(t, "one", "cart_updated", "one-1")
	s.shop(t, "one", "cart_updated", "one-2")
	s.shop(t, "other", "cart_updated", "other-1")
	s.shop(t, "one", "cart_updated", "one-3")
	testenv.Eventually(t, "both bursts' last runs", 10*time.Second, func() bool {
		got := in.got()
		return slices.Contains(got, "one-3") && slices.Contains(got, "other-1")
	})
	testenv.Await(t, "the replaced runs to end as skipped", 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/runs?workflow=settled&status=skipped", "", "")
		return len(r.json(t)["runs"].([]any)) == 2, string(r.body)
	})
	if got := in.got(); len(got) != 2 {
		t.Fatalf("sent %v", got)
	}
}

// A run waiting for one person is woken by an event of the person they
// were merged into (Customer.io's merge_customers); a run whose person is
// erased ends, and nothing is sent at its timeout.
func TestWaitThroughMergeAndErase(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "follow", Trigger: workflow.Trigger{Source: "cio", Types: []string{"signed_up"}},
			Steps: []workflow.Step{
				{ID: "paid", WaitFor: &workflow.WaitFor{Event: "event.type == 'paid'", Timeout: "duration('3s')"}},
				{ID: "send", Action: "webhook.send", Destination: "app",
					With: map[string]any{"body": "{'says': steps.paid.output.matched ? 'paid ' + trigger.user_id : 'gave up on ' + trigger.user_id}"}}}}}
	})
	auth := []string{"Authorization", "Basic " + basic("site", "key")}
	for _, who := range []string{"a", "b", "gone"} {
		wantStatus(t, s.do(t, "PUT", "/api/v1/customers/"+who, "application/json", `{"email":"`+who+`@example.com"}`, auth...), 200)
	}
	for _, who := range []string{"a", "gone"} {
		wantStatus(t, s.do(t, "POST", "/api/v1/customers/"+who+"/events", "application/json", `{"name":"signed_up"}`, auth...), 200)
	}
	s.awaitWaiting(t, "follow", 2)
	wantStatus(t, s.do(t, "POST", "/api/v1/merge_customers", "application/json", `{"primary":{"id":"b"},"secondary":{"id":"a"}}`, auth...), 200)
	gone := s.profileOf(t, "id:gone")["id"].(string)
	wantStatus(t, s.do(t, "DELETE", "/admin/v1/profiles/"+gone, "", ""), 204)
	s.settle(t)
	wantStatus(t, s.do(t, "POST", "/api/v1/customers/b/events", "application/json", `{"name":"paid"}`, auth...), 200)
	testenv.Eventually(t, "the merged person's payment to wake the run", 10*time.Second, func() bool { return slices.Contains(in.got(), "paid a") })
	testenv.Await(t, "the erased person's run to end as exited", 10*time.Second, func() (bool, string) {
		r := s.do(t, "GET", "/admin/v1/runs?workflow=follow&status=exited", "", "")
		return len(r.json(t)["runs"].([]any)) == 1, string(r.body)
	})
	testenv.Never(t, "a request for the erased person at the timeout", 4*time.Second, func() bool { return len(in.got()) != 1 })
}

// wait_for: {until} waits for a condition over the person's profile,
// looked at whenever the profile changes: an identify that sets another
// plan leaves the run waiting, the one that sets plan pro wakes it at
// once, and a person who never upgrades goes on at the timeout.
func TestWaitUntilAProfileCondition(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "upgrade", Trigger: workflow.Trigger{Source: "cio", Types: []string{"signed_up"}},
			Steps: []workflow.Step{
				{ID: "pro", WaitFor: &workflow.WaitFor{Until: "profile.traits.plan == 'pro'", Timeout: "duration('8s')"}},
				{ID: "send", Action: "webhook.send", Destination: "app",
					With: map[string]any{"body": "{'says': (steps.pro.output.matched ? 'pro ' : 'still free ') + trigger.user_id}"}}}}}
	})
	auth := []string{"Authorization", "Basic " + basic("site", "key")}
	for _, who := range []string{"a", "b"} {
		wantStatus(t, s.do(t, "PUT", "/api/v1/customers/"+who, "application/json", `{"plan":"free"}`, auth...), 200)
		wantStatus(t, s.do(t, "POST", "/api/v1/customers/"+who+"/events", "application/json", `{"name":"signed_up"}`, auth...), 200)
	}
	s.awaitWaiting(t, "upgrade", 2)
	wantStatus(t, s.do(t, "PUT", "/api/v1/customers/a", "application/json", `{"plan":"team"}`, auth...), 200)
	s.settle(t)
	testenv.Never(t, "another plan to wake the run", time.Second, func() bool { return len(in.got()) != 0 })
	wantStatus(t, s.do(t, "PUT", "/api/v1/customers/a", "application/json", `{"plan":"pro"}`, auth...), 200)
	testenv.Eventually(t, "the upgrade to wake the run before the timeout", 3*time.Second, func() bool {
		return slices.Equal(in.got(), []string{"pro a"})
	})
	testenv.Eventually(t, "the other person's run to go on at the timeout", 15*time.Second, func() bool {
		return slices.Equal(in.got(), []string{"pro a", "still free b"})
	})
	testenv.Never(t, "a second request", time.Second, func() bool { return len(in.got()) != 2 })
}

// A run waiting for a person is woken through a Data Pipelines alias:
// the run started under the old user id (a profile of its own, merged
// into the new one by the alias), and the event that wakes it comes
// under the new id.
func TestWaitThroughPipelinesAlias(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	s := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "shop", Kind: cdp.SourceCustomerIOPipelines, WriteKey: "wk-shop"})
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.URL, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "follow", Trigger: workflow.Trigger{Source: "shop", Types: []string{"Signed Up"}},
			Steps: []workflow.Step{
				{ID: "paid", WaitFor: &workflow.WaitFor{Event: "event.type == 'Paid'", Timeout: "duration('1h')"}},
				{ID: "send", Action: "webhook.send", Destination: "app",
					With: map[string]any{"body": "{'says': 'paid ' + trigger.user_id}"}}}}}
	})
	pipe := func(path, body string) {
		t.Helper()
		wantStatus(t, s.do(t, "POST", path, "application/json", body, "Authorization", "Basic "+basic("wk-shop", "")), 200)
	}
	pipe("/v1/identify", `{"userId":"new-u","traits":{"email":"new@example.com"}}`)
	pipe("/v1/track", `{"userId":"old-u","event":"Signed Up"}`)
	s.awaitWaiting(t, "follow", 1)
	pipe("/v1/alias", `{"userId":"new-u","previousId":"old-u"}`)
	s.settle(t)
	pipe("/v1/track", `{"userId":"new-u","event":"Paid"}`)
	testenv.Eventually(t, "the survivor's payment to wake the run", 10*time.Second, func() bool {
		return slices.Equal(in.got(), []string{"paid old-u"})
	})
	testenv.Never(t, "a second request", time.Second, func() bool { return len(in.got()) != 1 })
}
