package app

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// said is a stand-in destination that keeps each body's "says", in the
// order the requests came.
type said struct {
	mu   sync.Mutex
	says []string
	srv  *httptest.Server
	// busy and most count one person's ("one ...") requests in flight.
	busy, most int
}

func newSaid(t *testing.T, delay time.Duration) *said {
	s := &said{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Says string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		one := strings.HasPrefix(b.Says, "one ")
		s.mu.Lock()
		s.says = append(s.says, b.Says)
		if one {
			s.busy++
			s.most = max(s.most, s.busy)
		}
		s.mu.Unlock()
		time.Sleep(delay)
		if one {
			s.mu.Lock()
			s.busy--
			s.mu.Unlock()
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *said) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.says...)
}

// journeyNodes opens two nodes on PostgreSQL and an external NATS with a
// Customer.io Track source, a webhook destination to out and wf, and
// returns their URLs.
func journeyNodes(t *testing.T, out *said, wf workflow.Workflow) []string {
	cfg := config.Default()
	externalConfig(t, cfg)
	cfg.Sources = []config.Source{{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"}}
	cfg.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: out.srv.URL, AllowPrivateNetwork: true}}
	cfg.Workflows = []workflow.Workflow{wf}
	var urls []string
	for _, a := range openNodes(t, cfg, 2) {
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// cioEvent sends a Track API event of person user to a node.
func cioEvent(t *testing.T, node, user, name, props string) {
	t.Helper()
	req, _ := http.NewRequest("POST", node+"/api/v1/customers/"+user+"/events", strings.NewReader(`{"name":"`+name+`","data":`+props+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("site:key")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("%s of %s: %v %v", name, user, resp, err)
		return
	}
	resp.Body.Close()
}

// Journeys across two nodes sharing PostgreSQL and NATS: a wait made on
// node A is woken by an event ingested on node B; frequency: once holds
// under 20 concurrent triggers of one person spread over both nodes.
func TestJourneysAcrossNodes(t *testing.T) {
	out := newSaid(t, 0)
	urls := journeyNodes(t, out, workflow.Workflow{ID: "once", Trigger: workflow.Trigger{Source: "cio", Types: []string{"started"}, Frequency: &workflow.Frequency{Once: true}},
		Steps: []workflow.Step{{ID: "back", WaitFor: &workflow.WaitFor{Event: "event.type == 'back'", Timeout: "duration('1m')"}},
			{ID: "tell", Action: "webhook.send", Destination: "app", With: map[string]any{"body": "{'says': 'back ' + trigger.user_id}"}}}})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { cioEvent(t, urls[i%2], "u1", "started", fmt.Sprintf(`{"n":%d}`, i)) })
	}
	wg.Wait()
	testenv.Eventually(t, "one run of u1 waiting", 10*time.Second, func() bool {
		return len(waitingRuns(t, urls[0], "once")) == 1
	})
	cioEvent(t, urls[1], "u1", "back", `{}`)
	cioEvent(t, urls[0], "u1", "back", `{}`)
	testenv.Eventually(t, "the run woken on the other node", 10*time.Second, func() bool { return len(out.got()) == 1 })
	testenv.Never(t, "a second run or a second wake", 2*time.Second, func() bool { return len(out.got()) != 1 })
}

// order_by: profile keeps one person's runs in stored order across two
// nodes while other people's runs go on beside them.
func TestOrderByAcrossNodes(t *testing.T) {
	out := newSaid(t, 5*time.Millisecond)
	urls := journeyNodes(t, out, workflow.Workflow{ID: "ordered", OrderBy: "profile", Trigger: workflow.Trigger{Source: "cio", Types: []string{"step"}},
		Steps: []workflow.Step{{ID: "tell", Action: "webhook.send", Destination: "app",
			With: map[string]any{"body": "{'says': trigger.user_id + ' ' + string(int(trigger.properties.n))}"}}}})
	// One person's 100 events, stored in this order (each acknowledged
	// before the next is sent, alternating nodes), among 50 other people's.
	var others sync.WaitGroup
	for i := range 50 {
		others.Go(func() { cioEvent(t, urls[i%2], fmt.Sprintf("other%d", i), "step", `{"n":0}`) })
	}
	for i := range 100 {
		cioEvent(t, urls[i%2], "one", "step", fmt.Sprintf(`{"n":%d}`, i))
	}
	others.Wait()
	testenv.Await(t, "150 deliveries", 60*time.Second, func() (bool, string) {
		n := len(out.got())
		return n == 150, fmt.Sprintf("%d delivered", n)
	})
	// In the order the runs were created (their events stored), one at a
	// time.
	var created []string
	resp, err := http.Get(urls[0] + "/admin/v1/runs?workflow=ordered&limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Runs []struct {
			EventID string `json:"event_id"`
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	for i := len(list.Runs) - 1; i >= 0; i-- { // newest first
		resp, err := http.Get(urls[0] + "/admin/v1/events/" + list.Runs[i].EventID)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			UserID     string `json:"user_id"`
			Properties struct{ N int }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if e.UserID == "one" {
			created = append(created, fmt.Sprintf("one %d", e.Properties.N))
		}
	}
	var delivered []string
	for _, s := range out.got() {
		if strings.HasPrefix(s, "one ") {
			delivered = append(delivered, s)
		}
	}
	if strings.Join(delivered, ",") != strings.Join(created, ",") {
		t.Fatalf("one's deliveries\n%v\nnot in the order its runs were created\n%v", delivered, created)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.most != 1 {
		t.Fatalf("%d of one's deliveries in flight at once", out.most)
	}
}

func waitingRuns(t *testing.T, node, wf string) []any {
	resp, err := http.Get(node + "/admin/v1/runs?status=waiting&workflow=" + wf)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list struct{ Runs []any }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	return list.Runs
}
