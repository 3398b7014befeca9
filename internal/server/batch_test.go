package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// batchReceiver keeps every request a stand-in endpoint received.
type batchReceiver struct {
	url  string
	mu   sync.Mutex
	reqs []receivedRequest
}

type receivedRequest struct {
	header http.Header
	body   []byte
}

func newBatchReceiver(t *testing.T) *batchReceiver {
	b := &batchReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, receivedRequest{r.Header.Clone(), body})
		b.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *batchReceiver) requests() []receivedRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]receivedRequest(nil), b.reqs...)
}

// A webhook destination with batch: 25 orders arriving together go as a
// few POSTs of JSON arrays of at most 10, each signed with its batch's
// key; every order arrives once, and each run's attempt names the batch
// it went in, whose webhook-id the receiver saw.
func TestBatchedWebhook(t *testing.T) {
	in := newBatchReceiver(t)
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.url, SigningSecret: swSecret, AllowPrivateNetwork: true,
			Batch: &config.Batch{MaxItems: 10, MaxWait: "300ms"}}}
		c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app", With: map[string]any{"body": "event.properties"}}}}}
	})
	s.sendOrders(t, 25, "b")
	runs := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunSucceeded, Limit: 100}, 25)

	reqs := in.requests()
	seen, batches := map[string]int{}, map[string]int{}
	for _, r := range reqs {
		if err := hooks.VerifyStandard(swSecret, hooks.DefaultTolerance, r.header, r.body, time.Now()); err != nil {
			t.Fatalf("a batch's signature does not verify: %v", err)
		}
		var items []map[string]any
		if err := json.Unmarshal(r.body, &items); err != nil || len(items) == 0 || len(items) > 10 {
			t.Fatalf("a batch of %d items (%v): %s", len(items), err, r.body)
		}
		batches[r.header.Get("Webhook-Id")] = len(items)
		for _, it := range items {
			seen[it["n"].(string)]++
		}
	}
	if len(reqs) < 3 || len(reqs) > 8 || len(seen) != 25 {
		t.Fatalf("%d requests carried %d distinct orders", len(reqs), len(seen))
	}
	for n, c := range seen {
		if c != 1 {
			t.Fatalf("order %s arrived %d times", n, c)
		}
	}
	for _, r := range runs {
		a := r.Steps[0].Attempts[0]
		if a.Batch == nil || batches[a.Batch.ID] != a.Batch.Size || a.Request.Method != "POST" || !strings.Contains(a.Request.Body, `"n":"b-`) {
			t.Fatalf("run %s's attempt: batch %+v, request %+v (batches seen %v)", r.ID, a.Batch, a.Request, batches)
		}
	}
	t.Logf("25 orders in %d requests", len(reqs))
}

// A customerio destination with batch sends Track calls as one POST
// /api/v2/batch, here to another Switchyard's Track API, which answers
// as Customer.io does: 207, naming the items it refused by index. The
// refused runs fail with Customer.io's reason; the others succeed, and
// are stored by the receiver exactly once (nothing of the batch is sent
// again).
func TestBatchedCustomerIOPartialFailure(t *testing.T) {
	receiver := newStack(t, func(c *config.Config) {
		c.Sources = append(c.Sources, config.Source{ID: "cio", Kind: cdp.SourceCustomerIOTrack, SiteID: "site", APIKey: "key"})
	})
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{{ID: "cio", Kind: "customerio", SiteID: "site", APIKey: "key", TrackURL: receiver.url,
			AllowPrivateNetwork: true, Batch: &config.Batch{MaxItems: 50, MaxWait: "500ms"}}}
		c.Workflows = []workflow.Workflow{{ID: "mirror", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "send", Action: "customerio.track_event", Destination: "cio", With: map[string]any{
				"identifier": "'person-' + event.properties.n", "name": "event.properties.name", "data": "event.properties"}}}}}
	})
	var events []string
	for i := range 10 {
		name := "purchase"
		if i%5 == 0 { // a NUL in the name: the receiver refuses the item
			name = `bad\u0000name`
		}
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":"%d","name":"%s"}}`, i, name))
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`), 200)
	ok := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunSucceeded, Limit: 100}, 8)
	failed := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunFailed, Limit: 100}, 2)
	for _, r := range failed {
		st := r.Steps[0]
		if len(st.Attempts) != 1 || st.Attempts[0].Response.Status != 207 || !strings.Contains(st.Error, "refused this item") {
			t.Fatalf("refused run %s: %d attempts, error %q", r.ID, len(st.Attempts), st.Error)
		}
	}
	for _, r := range ok {
		if st := r.Steps[0]; len(st.Attempts) != 1 || st.Attempts[0].Batch == nil || st.Attempts[0].Batch.Size != 10 ||
			st.Attempts[0].Request.URL != receiver.url+"/api/v2/batch" {
			t.Fatalf("run %s: %d attempts, the first %+v", r.ID, len(st.Attempts), st.Attempts[0])
		}
	}
	testenv.Eventually(t, "the receiver to store 8 events", 10*time.Second, func() bool {
		evs, _, _ := receiver.store.FindEvents(t.Context(), cdp.EventFilter{SourceID: "cio", Limit: 100})
		return len(evs) == 8
	})
	testenv.Never(t, "the receiver to store more than 8", time.Second, func() bool {
		evs, _, _ := receiver.store.FindEvents(t.Context(), cdp.EventFilter{SourceID: "cio", Limit: 100})
		return len(evs) > 8
	})
}

// Batched to Kafka and to object storage in one workflow: the 30 runs'
// records go in a few produces, each run's output is its own record's
// place; the objects are NDJSON, a line per run, and each run's output
// names the object holding its line.
func TestBatchedToKafkaAndS3(t *testing.T) {
	endpoint, bucket := testenv.S3(t)
	k := testenv.StartKafka(t, "orders")
	batch := &config.Batch{MaxItems: 12, MaxWait: "300ms"}
	s := newStack(t, func(c *config.Config) {
		c.Destinations = []config.Destination{
			{ID: "k", Kind: "kafka", Settings: map[string]string{"brokers": k.Addr()}, AllowPrivateNetwork: true, Batch: batch},
			{ID: "lake", Kind: "s3", AllowPrivateNetwork: true, Batch: batch,
				Settings: map[string]string{"endpoint": endpoint, "bucket": bucket, "path_style": "true", "prefix": "orders/"}},
		}
		c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{
				{ID: "produce", Action: "kafka.produce", Destination: "k", With: map[string]any{"topic": "'orders'", "body": "event.properties"}},
				{ID: "put", Action: "s3.put", Destination: "lake", With: map[string]any{"key": "'day-1/' + event.id", "body": "event.properties"}},
			}}}
	})
	s.sendOrders(t, 30, "k")
	runs := s.waitRuns(t, cdp.RunFilter{Status: cdp.RunSucceeded, Limit: 100}, 30)

	records := k.Records("orders", 30)
	byPlace := map[string]string{}
	for _, r := range records {
		byPlace[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = string(r.Value)
	}
	cl := testenv.S3Client(t, endpoint)
	lines := map[string][]string{} // by object
	for obj := range cl.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		o, err := cl.GetObject(t.Context(), bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(o)
		if !strings.HasPrefix(obj.Key, "orders/day-1/batch_") || !strings.HasSuffix(obj.Key, ".ndjson") {
			t.Fatalf("object %s", obj.Key)
		}
		lines[obj.Key] = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	total := 0
	for _, ls := range lines {
		total += len(ls)
	}
	if len(records) != 30 || total != 30 || len(lines) > 6 {
		t.Fatalf("%d records, %d lines in %d objects", len(records), total, len(lines))
	}
	for _, r := range runs {
		var produced, put map[string]any
		_ = json.Unmarshal(r.Steps[0].Output, &produced)
		_ = json.Unmarshal(r.Steps[1].Output, &put)
		value := byPlace[fmt.Sprintf("%v/%v", produced["partition"], produced["offset"])]
		if value == "" || !strings.Contains(strings.Join(lines[put["key"].(string)], "\n"), value) {
			t.Fatalf("run %s: output %v holds %q; object %v holds %v", r.ID, produced, value, put["key"], lines[put["key"].(string)])
		}
	}
}
