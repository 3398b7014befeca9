package kafka

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/actiontest"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// cluster is franz-go's in-process Kafka-protocol broker (no Kafka can be
// installed here), keeping its data in a directory so that a test can
// stop it and start it again on the same port with what it had.
type cluster struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func startCluster(t *testing.T) *cluster {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	c := &cluster{t: t, port: port, dir: t.TempDir()}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) start() {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(c.port), kfake.DataDir(c.dir), kfake.SyncWrites(),
		kfake.SeedTopics(3, "orders"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.c = kc
}

func (c *cluster) stop() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

func (c *cluster) addr() string { return c.c.ListenAddrs()[0] }

// records reads every record of topic.
func (c *cluster) records(topic string, want int) []*kgo.Record {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(c.t.Context(), time.Second)
		out = append(out, cl.PollFetches(ctx).Records()...)
		cancel()
	}
	return out
}

// A record reaches the topic with the step's key, headers and body, and
// the Idempotency-Key header; the output says where it landed.
func TestProduce(t *testing.T) {
	c := startCluster(t)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Settings: map[string]string{"brokers": c.addr()}}
	out := s.Deliver(t, t.Context(), d, "kafka.produce",
		map[string]any{"topic": "orders", "key": "cart-7", "body": map[string]any{"id": "o1"}, "headers": map[string]any{"tenant": "acme"}}, "run1:send")
	recs := c.records("orders", 1)
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
	c := startCluster(t)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Timeout: 5 * time.Second, Settings: map[string]string{"brokers": c.addr()}}
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
	c := startCluster(t)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "k", Kind: "kafka", AllowPrivateNetwork: true, Timeout: 2 * time.Second, Settings: map[string]string{"brokers": c.addr()}}
	in := map[string]any{"topic": "orders", "key": "a"}
	s.Deliver(t, t.Context(), d, "kafka.produce", in, "k1")
	c.stop()
	start := time.Now()
	if a, _ := s.Send(t, t.Context(), d, "kafka.produce", in, "k2"); a.Class != httpclient.Retryable {
		t.Fatalf("with the broker away: %s %s", a.Class, a.Error)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the failed attempt took %v", took)
	}
	c.start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, _ := s.Send(t, t.Context(), d, "kafka.produce", in, "k3")
		if a.Class == httpclient.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after the broker came back: %s", a.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
	keys := map[string]int{}
	for _, r := range c.records("orders", 2) {
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
