package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/actiontest"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// A record reaches the topic with the step's key, headers and body, and
// the Idempotency-Key header; the output says where it landed.
func TestProduce(t *testing.T) {
	c := testenv.StartKafka(t, "orders")
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Settings: map[string]string{"brokers": c.Addr()}}
	out := s.Deliver(t, t.Context(), d, "kafka.produce",
		map[string]any{"topic": "orders", "key": "cart-7", "body": map[string]any{"id": "o1"}, "headers": map[string]any{"tenant": "acme"}}, "run1:send")
	recs := c.Records("orders", 1)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(r.Key) != "cart-7" || string(r.Value) != `{"id":"o1"}` || headers["tenant"] != "acme" ||
		headers["Idempotency-Key"] != "run1:send" || headers["Content-Type"] != "application/json" {
		t.Fatalf("record key %q value %q headers %v", r.Key, r.Value, headers)
	}
	if out["topic"] != "orders" || out["partition"] != float64(r.Partition) || out["offset"] != float64(r.Offset) {
		t.Fatalf("output %v, record at %d/%d", out, r.Partition, r.Offset)
	}
}

// A topic the cluster does not have is its refusal, not retried.
func TestUnknownTopic(t *testing.T) {
	c := testenv.StartKafka(t, "orders")
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Timeout: 5 * time.Second, Settings: map[string]string{"brokers": c.Addr()}}
	a, _ := s.Send(t, t.Context(), d, "kafka.produce", map[string]any{"topic": "nope"}, "k1")
	if a.Class != httpclient.Permanent {
		t.Fatalf("an unknown topic: %s %s", a.Class, a.Error)
	}
}

// While the broker is down an attempt fails within the destination's
// timeout and is retried; once it is back (with its data) the next
// attempt succeeds on the same client. A record whose attempt timed out
// may land later (the idempotent producer keeps it until it knows): the
// topic holds every acknowledged record, and duplicates only of what was
// attempted, each with its step's key.
func TestBrokerAway(t *testing.T) {
	c := testenv.StartKafka(t, "orders")
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Timeout: 2 * time.Second, Settings: map[string]string{"brokers": c.Addr()}}
	in := map[string]any{"topic": "orders", "key": "a"}
	s.Deliver(t, t.Context(), d, "kafka.produce", in, "k1")
	c.Stop()
	start := time.Now()
	if a, _ := s.Send(t, t.Context(), d, "kafka.produce", in, "k2"); a.Class != httpclient.Retryable {
		t.Fatalf("with the broker away: %s %s", a.Class, a.Error)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the failed attempt took %v", took)
	}
	c.Start()
	s.Retry(t, t.Context(), d, "kafka.produce", in, "k3", 20*time.Second)
	keys := map[string]int{}
	for _, r := range c.Records("orders", 2) {
		for _, h := range r.Headers {
			if h.Key == "Idempotency-Key" {
				keys[string(h.Value)]++
			}
		}
	}
	if keys["k1"] != 1 || keys["k3"] == 0 || len(keys) > 3 || (len(keys) == 3 && keys["k2"] == 0) {
		t.Fatalf("the topic holds %v", keys)
	}
}

// Bad topics, keys and settings are refused when checked.
func TestRefusals(t *testing.T) {
	d := &action.Destination{ID: "k", Kind: "kafka", Settings: map[string]string{"brokers": "b1:9092"}}
	for _, topic := range []string{"", ".", "..", "a b", "a/b", strings.Repeat("t", 250)} {
		if _, err := build(d, map[string]any{"topic": topic}, "k", time.Now()); err == nil {
			t.Errorf("topic %q built", topic)
		}
	}
	reg := action.NewRegistry(Family)
	p := reg.Check(&action.Destination{Kind: "kafka", Settings: map[string]string{"brokers": "nohost", "tls": "yes",
		"sasl_mechanism": "GSSAPI", "password": "pw"}})
	for _, k := range []string{"brokers", "tls", "sasl_mechanism"} {
		if p[k] == "" {
			t.Errorf("no problem with %s: %v", k, p)
		}
	}
}
