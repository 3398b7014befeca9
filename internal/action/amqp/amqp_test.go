package amqp

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/actiontest"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// rabbit is a fresh queue on the test broker.
type rabbit struct{ *testenv.RabbitQueue }

func newRabbit(t *testing.T, args amqp091.Table) *rabbit {
	return &rabbit{testenv.NewRabbitQueue(t, args)}
}

func (r *rabbit) get(t *testing.T) amqp091.Delivery {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, ok, err := r.Ch.Get(r.Name, true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing in queue %s", r.Name)
	return amqp091.Delivery{}
}

// withHost is url u with its host replaced (a proxy's).
func withHost(t *testing.T, u, host string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Host = host
	return p.String()
}

// A publish reaches the queue its routing key names, persistent, with the
// step's key as message id and the step's headers; it succeeds on the
// broker's confirm.
func TestPublish(t *testing.T) {
	r := newRabbit(t, nil)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "mq", Kind: "amqp", AllowPrivateNetwork: true, Settings: map[string]string{"url": r.URL}}
	out := s.Deliver(t, t.Context(), d, "amqp.publish",
		map[string]any{"routing_key": r.Name, "body": map[string]any{"id": "o1"}, "headers": map[string]any{"tenant": "acme"}}, "run1:send")
	if out["routing_key"] != r.Name || out["exchange"] != "" {
		t.Fatalf("output %v", out)
	}
	m := r.get(t)
	if string(m.Body) != `{"id":"o1"}` || m.MessageId != "run1:send" || m.Headers["tenant"] != "acme" ||
		m.ContentType != "application/json" || m.DeliveryMode != amqp091.Persistent {
		t.Fatalf("received %q id %q headers %v type %q mode %d", m.Body, m.MessageId, m.Headers, m.ContentType, m.DeliveryMode)
	}
}

// A message nothing is bound to comes back (mandatory) and is retried; an
// exchange the broker does not have is its refusal (404), not retried,
// and the channel it closed is opened again for the next publish; a nack
// (a full queue that rejects publishes) is retried.
func TestReturnNackAndRefusal(t *testing.T) {
	r := newRabbit(t, amqp091.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "mq", Kind: "amqp", AllowPrivateNetwork: true, Settings: map[string]string{"url": r.URL}}

	a, _ := s.Send(t, t.Context(), d, "amqp.publish", map[string]any{"routing_key": "no-such-queue-" + r.Name}, "k1")
	if a.Class != httpclient.Retryable || !strings.Contains(a.Error, "NO_ROUTE") {
		t.Fatalf("an unroutable message: %s %s", a.Class, a.Error)
	}
	a, _ = s.Send(t, t.Context(), d, "amqp.publish", map[string]any{"exchange": "no-such-exchange", "routing_key": "x"}, "k2")
	if a.Class != httpclient.Permanent || a.Response == nil || a.Response.Status != 404 {
		t.Fatalf("an unknown exchange: %s %+v %s", a.Class, a.Response, a.Error)
	}
	s.Deliver(t, t.Context(), d, "amqp.publish", map[string]any{"routing_key": r.Name}, "k3")
	a, _ = s.Send(t, t.Context(), d, "amqp.publish", map[string]any{"routing_key": r.Name}, "k4")
	if a.Class != httpclient.Retryable || !strings.Contains(a.Error, "nack") {
		t.Fatalf("a publish to a full queue: %s %s", a.Class, a.Error)
	}
}

// While the broker is unreachable an attempt fails at once and is
// retried; once it is back the next attempt connects again and succeeds.
func TestBrokerAway(t *testing.T) {
	r := newRabbit(t, nil)
	u, _ := url.Parse(r.URL)
	proxy := testenv.NewProxy(t, u.Host)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "mq", Kind: "amqp", AllowPrivateNetwork: true, Timeout: 2 * time.Second,
		Settings: map[string]string{"url": withHost(t, r.URL, proxy.Addr())}}
	in := map[string]any{"routing_key": r.Name}
	s.Deliver(t, t.Context(), d, "amqp.publish", in, "k1")
	proxy.Cut()
	if a, _ := s.Send(t, t.Context(), d, "amqp.publish", in, "k2"); a.Class != httpclient.Retryable {
		t.Fatalf("with the broker away: %s %s", a.Class, a.Error)
	}
	proxy.Restore()
	s.Deliver(t, t.Context(), d, "amqp.publish", in, "k3")
	if got := []string{r.get(t).MessageId, r.get(t).MessageId}; got[0] != "k1" || got[1] != "k3" {
		t.Fatalf("the queue holds %v", got)
	}
}

// The url's password never reaches the run log; bad settings and inputs
// are refused when checked.
func TestRefusals(t *testing.T) {
	d := &action.Destination{ID: "mq", Kind: "amqp", Settings: map[string]string{"url": "amqp://user:s3cret@mq.example.com:5672/prod"}}
	call, err := build(d, map[string]any{"exchange": "orders", "routing_key": "eu.created"}, "k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u := call.Request.URL; strings.Contains(u, "s3cret") || !strings.Contains(u, "exchange=orders") {
		t.Fatalf("run log url %s", u)
	}
	if _, err := build(d, map[string]any{"routing_key": strings.Repeat("k", 256)}, "k", time.Now()); err == nil {
		t.Error("a 256-byte routing key built")
	}
	reg := action.NewRegistry(Family)
	if p := reg.Check(&action.Destination{Kind: "amqp", Settings: map[string]string{"url": "http://user:s3cret@x"}}); p["url"] == "" || strings.Contains(p["url"], "s3cret") {
		t.Fatalf("problems %v", p)
	}
	if secrets := reg.Secrets(d); !slices.Contains(secrets, "s3cret") {
		t.Fatalf("secrets %q", secrets)
	}
}
