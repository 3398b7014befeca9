package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// broker is a destination kind's real server, as a workflow step reaches
// it, and what the test needs to check what it received.
type broker struct {
	settings map[string]string
	with     map[string]any
	// away makes the broker unreachable (stopped, or its connections
	// cut); back brings it back with what it had.
	away, back func()
	// received counts what the broker holds by the step key it carries
	// (the run's id and the step's).
	received func(t *testing.T) map[string]int
	// at is the step key held where a run's output says its message
	// landed (called after received); nil for a kind whose answer has no
	// position.
	at func(t *testing.T, output map[string]any) string
	// once: the kind deduplicates by the step key, so that a retried
	// attempt never shows twice.
	once bool
}

func natsBroker(t *testing.T) *broker {
	srv := testenv.StartNATS(t)
	js, err := jetstream.New(srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	stream := func(t *testing.T) jetstream.Stream {
		js, err := jetstream.New(srv.Client()) // a new client: the first saw the server go away
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(t.Context(), "ORDERS")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	return &broker{
		settings: map[string]string{"url": srv.URL(), "stream": "ORDERS"},
		with:     map[string]any{"subject": "'orders.' + event.type"},
		away:     srv.Stop, back: srv.Start, once: true,
		received: func(t *testing.T) map[string]int {
			st := stream(t)
			info, err := st.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int{}
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
				m, err := st.GetMsg(t.Context(), seq)
				if err != nil {
					t.Fatal(err)
				}
				out[m.Header.Get(jetstream.MsgIDHeader)]++
			}
			return out
		},
		at: func(t *testing.T, output map[string]any) string {
			m, err := stream(t).GetMsg(t.Context(), uint64(output["seq"].(float64)))
			if err != nil {
				t.Fatal(err)
			}
			return m.Header.Get(jetstream.MsgIDHeader)
		},
	}
}

func kafkaBroker(t *testing.T) *broker {
	k := testenv.StartKafka(t, "orders")
	keyOf := func(hs []kgo.RecordHeader) string {
		for _, h := range hs {
			if h.Key == "Idempotency-Key" {
				return string(h.Value)
			}
		}
		return ""
	}
	var records []*kgo.Record // as received last read them
	return &broker{
		settings: map[string]string{"brokers": k.Addr()},
		with:     map[string]any{"topic": "'orders'", "key": "event.id"},
		away:     k.Stop, back: k.Start,
		received: func(t *testing.T) map[string]int {
			records = k.Records("orders", 1<<30)
			out := map[string]int{}
			for _, r := range records {
				out[keyOf(r.Headers)]++
			}
			return out
		},
		at: func(t *testing.T, output map[string]any) string {
			for _, r := range records {
				if float64(r.Partition) == output["partition"] && float64(r.Offset) == output["offset"] {
					return keyOf(r.Headers)
				}
			}
			return ""
		},
	}
}

func amqpBroker(t *testing.T) *broker {
	q := testenv.NewRabbitQueue(t, nil)
	raw, ch := q.URL, q.Ch
	u, _ := url.Parse(raw)
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	return &broker{
		settings: map[string]string{"url": u.String()},
		with:     map[string]any{"routing_key": "'" + q.Name + "'"},
		away:     proxy.Cut, back: proxy.Restore,
		received: func(t *testing.T) map[string]int {
			out := map[string]int{}
			for {
				m, ok, err := ch.Get(q.Name, true)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return out
				}
				out[m.MessageId]++
			}
		},
	}
}

func s3Broker(t *testing.T) *broker {
	endpoint, bucket := testenv.S3(t)
	proxy := testenv.NewProxy(t, strings.TrimPrefix(endpoint, "http://"))
	cl := testenv.S3Client(t, endpoint)
	keyOf := func(t *testing.T, object string) string {
		st, err := cl.StatObject(t.Context(), bucket, object, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return st.UserMetadata["Idempotency-Key"]
	}
	return &broker{
		settings: map[string]string{"endpoint": "http://" + proxy.Addr(), "bucket": bucket, "path_style": "true", "prefix": "orders/"},
		with:     map[string]any{"key": "event.id + '.json'"},
		away:     proxy.Cut, back: proxy.Restore, once: true,
		received: func(t *testing.T) map[string]int {
			out := map[string]int{}
			for obj := range cl.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
				if obj.Err != nil {
					t.Fatal(obj.Err)
				}
				out[keyOf(t, obj.Key)]++
			}
			return out
		},
		at: func(t *testing.T, output map[string]any) string { return keyOf(t, output["key"].(string)) },
	}
}

// Every broker and object-store kind, through the whole stack: orders are
// delivered while the broker is up; then it goes away (30 s; 3 s with
// -short) while more orders arrive: the breaker opens and the runs wait
// instead of spending their attempts; when it is back the breaker closes
// and every run succeeds. The broker then holds every run's message, and
// nothing else: where a run's output says its message landed, that
// message is the run's; a kind that deduplicates holds each once, the
// others at most once per attempt the run log records.
func TestDeliveryToBrokersThroughAnOutage(t *testing.T) {
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	for kind, open := range map[string]func(*testing.T) *broker{
		"nats": natsBroker, "kafka": kafkaBroker, "amqp": amqpBroker, "s3": s3Broker,
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			action := map[string]string{"nats": "nats.publish", "kafka": "kafka.produce", "amqp": "amqp.publish", "s3": "s3.put"}[kind]
			s := newStack(t, func(c *config.Config) {
				c.Destinations = []config.Destination{{ID: "out", Kind: kind, Settings: b.settings, AllowPrivateNetwork: true, Timeout: "2s",
					Retry:          &workflow.Retry{MaxAttempts: 100, Base: "50ms", Max: "200ms"},
					CircuitBreaker: &config.CircuitBreaker{Failures: 3, Cooldown: "1s", MaxCooldown: "2s"}}}
				c.Workflows = []workflow.Workflow{{ID: "ship", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
					Steps: []workflow.Step{{ID: "send", Action: action, Destination: "out", With: b.with}}}}
			})
			s.sendOrders(t, 10, "before")
			s.waitRuns(t, cdp.RunFilter{Status: cdp.RunSucceeded}, 10)

			b.away()
			s.sendOrders(t, 10, "during")
			testenv.Eventually(t, "the breaker to open", 20*time.Second, func() bool { return s.destination(t, "out")["state"] == "open" })
			time.Sleep(outage)
			b.back()
			testenv.Await(t, "every run to succeed", 60*time.Second, func() (bool, string) {
				runs, _, _ := s.store.FindRuns(t.Context(), cdp.RunFilter{Status: cdp.RunSucceeded, Limit: 100})
				return len(runs) == 20, s.destination(t, "out")["state"].(string)
			})
			testenv.Eventually(t, "the breaker to close", 10*time.Second, func() bool { return s.destination(t, "out")["state"] == "closed" })

			runs, _, err := s.store.FindRuns(t.Context(), cdp.RunFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			received := b.received(t)
			attempts := 0
			for _, r := range runs {
				key, step := r.ID+":send", r.Steps[0]
				attempts += len(step.Attempts)
				if received[key] == 0 || received[key] > len(step.Attempts) || (b.once && received[key] != 1) {
					t.Errorf("run %s (%d attempts in its log) is held %d times", r.ID, len(step.Attempts), received[key])
				}
				var out map[string]any
				if err := json.Unmarshal(step.Output, &out); err != nil {
					t.Fatalf("run %s output %s: %v", r.ID, step.Output, err)
				}
				if b.at != nil {
					if at := b.at(t, out); at != key {
						t.Errorf("run %s says its message is at %v, which holds %q", r.ID, out, at)
					}
				}
				delete(received, key)
			}
			if len(received) > 0 {
				t.Errorf("the broker holds messages of no run: %v", received)
			}
			t.Logf("%s: 20 runs, %d attempts in all, through a %v outage", kind, attempts, outage)
		})
	}
}
