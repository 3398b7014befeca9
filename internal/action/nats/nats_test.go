package nats

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/actiontest"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// A core publish reaches a subscriber with the body and headers the step
// gave, and succeeds once the server has it.
func TestPublish(t *testing.T) {
	srv := testenv.StartNATS(t)
	sub, err := srv.Client().SubscribeSync("orders.created")
	if err != nil {
		t.Fatal(err)
	}
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "bus", Kind: "nats", AllowPrivateNetwork: true, Settings: map[string]string{"url": srv.URL()}}
	a, call := s.Send(t, t.Context(), d, "nats.publish",
		map[string]any{"subject": "orders.created", "body": map[string]any{"id": "o1"}, "headers": map[string]any{"Tenant": "acme"}}, "run1:send")
	if out := actiontest.Output(t, a, call); out["subject"] != "orders.created" {
		t.Fatalf("output %v", out)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != `{"id":"o1"}` || msg.Header.Get("Tenant") != "acme" || msg.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("received %q %v", msg.Data, msg.Header)
	}
	if a.Request.Method != "PUBLISH" || a.Request.URL != srv.URL()+"/orders.created" {
		t.Fatalf("run log request %s %s", a.Request.Method, a.Request.URL)
	}
}

// Through JetStream, the step's key is the message id: a retried publish
// is acknowledged as a duplicate and the stream keeps one message. A
// subject no stream takes is retried; the stream's own refusal (another
// stream than the destination expects) is not.
func TestPublishToStream(t *testing.T) {
	srv := testenv.StartNATS(t)
	js, err := jetstream.New(srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for name, subjects := range map[string][]string{"ORDERS": {"orders.>"}, "OTHER": {"other.>"}} {
		if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: subjects}); err != nil {
			t.Fatal(err)
		}
	}
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "bus", Kind: "nats", AllowPrivateNetwork: true, Settings: map[string]string{"url": srv.URL(), "stream": "ORDERS"}}
	in := map[string]any{"subject": "orders.created", "body": "hello"}
	first := s.Deliver(t, t.Context(), d, "nats.publish", in, "run1:send")
	again := s.Deliver(t, t.Context(), d, "nats.publish", in, "run1:send")
	if first["stream"] != "ORDERS" || first["seq"] != 1.0 || first["duplicate"] != false || again["seq"] != 1.0 || again["duplicate"] != true {
		t.Fatalf("first %v, again %v", first, again)
	}
	st, err := js.Stream(t.Context(), "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := st.Info(t.Context()); info.State.Msgs != 1 || m.Header.Get(jetstream.MsgIDHeader) != "run1:send" || string(m.Data) != "hello" {
		t.Fatalf("stream holds %d messages; first %q %v", info.State.Msgs, m.Data, m.Header)
	}

	a, _ := s.Send(t, t.Context(), d, "nats.publish", map[string]any{"subject": "nowhere.x"}, "run2:send")
	if a.Class != httpclient.Retryable || !strings.Contains(a.Error, "no stream answered") {
		t.Fatalf("a subject no stream takes: %s %s", a.Class, a.Error)
	}
	a, _ = s.Send(t, t.Context(), d, "nats.publish", map[string]any{"subject": "other.x"}, "run3:send")
	if a.Class != httpclient.Permanent || a.Response == nil || a.Response.Status != 400 {
		t.Fatalf("a subject of another stream: %s %+v %s", a.Class, a.Response, a.Error)
	}
}

// While the server is away an attempt fails at once and is retried (it
// never sits in a reconnect buffer); once the server is back the next
// attempt goes through on the same connection, which nats.go mended.
func TestServerAway(t *testing.T) {
	srv := testenv.StartNATS(t)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "bus", Kind: "nats", AllowPrivateNetwork: true, Timeout: 2 * time.Second, Settings: map[string]string{"url": srv.URL()}}
	in := map[string]any{"subject": "x"}
	s.Deliver(t, t.Context(), d, "nats.publish", in, "k1")
	srv.Stop()
	start := time.Now()
	if a, _ := s.Send(t, t.Context(), d, "nats.publish", in, "k2"); a.Class != httpclient.Retryable {
		t.Fatalf("with the server away: %s %s", a.Class, a.Error)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the failed attempt took %v", took)
	}
	srv.Start()
	s.Retry(t, t.Context(), d, "nats.publish", in, "k3", 15*time.Second)
}

// Without allow_private_network, a loopback server is refused before any
// byte is sent, and not retried; bad subjects and settings are refused
// when the step or the configuration is checked.
func TestRefusals(t *testing.T) {
	srv := testenv.StartNATS(t)
	s := actiontest.New(t, Family)
	d := &action.Destination{ID: "bus", Kind: "nats", Settings: map[string]string{"url": srv.URL()}}
	if a, _ := s.Send(t, t.Context(), d, "nats.publish", map[string]any{"subject": "x"}, "k"); a.Class != httpclient.Permanent ||
		!strings.Contains(a.Error, "allow_private_network") {
		t.Fatalf("a loopback server without allow_private_network: %s %s", a.Class, a.Error)
	}
	for _, subject := range []string{"", "a.*", "a.>", "a b", ".a", "a..b", "a."} {
		if _, err := build(d, map[string]any{"subject": subject}, "k", time.Now()); err == nil {
			t.Errorf("subject %q built", subject)
		}
	}
	if _, err := build(d, map[string]any{"subject": "a", "headers": map[string]any{"bad name": "x"}}, "k", time.Now()); err == nil {
		t.Error("a header name with a space built")
	}
	reg := action.NewRegistry(Family)
	p := reg.Check(&action.Destination{Kind: "nats", Settings: map[string]string{"url": "http://secret@host", "stream": "a.b"}})
	if p["url"] == "" || p["stream"] == "" || strings.Contains(p["url"], "secret") {
		t.Fatalf("problems %v", p)
	}
}
