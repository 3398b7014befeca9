// Package kafka is the kafka destination kind and its kafka.produce
// action: a record produced to a topic of any Kafka-protocol cluster
// (Apache Kafka, Redpanda, WarpStream …) by franz-go's idempotent
// producer, acknowledged by every in-sync replica.
package kafka

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the kafka destination kind and kafka.produce.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "kafka",
		Description: "A Kafka-protocol cluster; records are produced idempotently and acknowledged by all in-sync replicas.",
		Settings: []action.Setting{
			{Name: "brokers", Required: true, Description: "Seed brokers, host:port separated by commas."},
			{Name: "tls", Description: `"true" to connect with TLS (system roots).`},
			{Name: "sasl_mechanism", Description: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; with username and password."},
			{Name: "username", Description: "The SASL user."},
			{Name: "password", Secret: true, Description: "The SASL password."},
		},
		Check:    check,
		Connect:  connect,
		Batching: batching,
	},
	Actions: []*action.Spec{produce},
}

var produce = &action.Spec{
	Kind: "kafka.produce", Destination: "kafka", EventBody: true,
	Description: "Produces the body (default: the triggering event, as JSON) as a record to topic, with key (records of one " +
		"key keep their order in one partition) and headers, plus an Idempotency-Key header set to the step's key. With the " +
		"destination's batch, the calls' records are produced together, each with its own outcome. " +
		`Output: {"topic", "partition", "offset"}.`,
	Inputs: []action.Input{
		{Name: "topic", Type: action.String, Required: true, Description: "The topic."},
		{Name: "key", Type: action.String, Description: "The record's key; default none (records spread over partitions)."},
		{Name: "body", Type: action.Any, Description: "A string is sent as it is; anything else as JSON. Default: the event."},
		{Name: "headers", Type: action.Object, Description: "Record headers to set."},
	},
	Build: build,
}

var mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func check(d *action.Destination) map[string]string {
	p := map[string]string{}
	if b := d.Get("brokers"); b != "" {
		for _, hp := range strings.Split(b, ",") {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(hp)); err != nil || port == "" {
				p["brokers"] = "must be host:port, several separated by commas"
			}
		}
	}
	if t := d.Get("tls"); t != "" && t != "true" && t != "false" {
		p["tls"] = `must be "true" or "false"`
	}
	switch m := d.Get("sasl_mechanism"); {
	case m == "":
		if d.Get("username") != "" || d.Get("password") != "" {
			p["sasl_mechanism"] = "is required with username and password: " + strings.Join(mechanisms, ", ")
		}
	case !slices.Contains(mechanisms, strings.ToUpper(m)):
		p["sasl_mechanism"] = "must be one of " + strings.Join(mechanisms, ", ")
	case d.Get("username") == "" || d.Get("password") == "":
		p["username"] = "username and password are required with sasl_mechanism"
	}
	return p
}

// checkTopic returns what is wrong with a topic name, or "" (Kafka's own
// rule: 1-249 of [a-zA-Z0-9._-], not "." or "..").
func checkTopic(t string) string {
	if t == "" || len(t) > 249 || t == "." || t == ".." ||
		strings.ContainsFunc(t, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		}) {
		return "must be 1-249 letters, digits, '.', '_' or '-'"
	}
	return ""
}

func build(d *action.Destination, in map[string]any, key string, _ time.Time) (action.Call, error) {
	topic := action.Text(in["topic"])
	if msg := checkTopic(topic); msg != "" {
		return action.Call{}, fmt.Errorf("topic: %q %s", topic, msg)
	}
	body, contentType, headers, err := action.Message(in, "headers")
	if err != nil {
		return action.Call{}, err
	}
	rec := &kgo.Record{Topic: topic, Value: body}
	h := http.Header{"Content-Type": {contentType}, "Idempotency-Key": {key}}
	for k, v := range headers {
		h[k] = []string{v}
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(h[k][0])})
	}
	if v, ok := in["key"]; ok {
		k := action.Text(v)
		if !utf8.ValidString(k) {
			return action.Call{}, errors.New("key: not UTF-8")
		}
		rec.Key = []byte(k)
		h["Record-Key"] = []string{k} // shown in the run log; not a record header
	}
	return action.Call{
		Request: httpclient.Request{Method: "PRODUCE", URL: "kafka://" + firstBroker(d.Get("brokers")) + "/" + topic, Header: h, Body: body,
			Send: func(ctx context.Context, c httpclient.Conn) (httpclient.Reply, error) {
				return c.(*conn).produce(ctx, rec)
			}},
		Output: action.JSONOutput,
		Part:   &action.Part{Data: body, Value: rec},
	}, nil
}

// batching produces a batch's records together, answering with each
// record's own outcome.
var batching = &action.Batching{
	Join: func(d *action.Destination, _ string, parts []action.Part, _ string) (httpclient.Request, error) {
		recs := make([]*kgo.Record, len(parts))
		topics := map[string]bool{}
		for i, p := range parts {
			recs[i] = p.Value.(*kgo.Record)
			topics[recs[i].Topic] = true
		}
		return httpclient.Request{Method: "PRODUCE", URL: "kafka://" + firstBroker(d.Get("brokers")) + "/" +
			strings.Join(slices.Sorted(maps.Keys(topics)), ","),
			Header: http.Header{"Records": {strconv.Itoa(len(recs))}},
			Send: func(ctx context.Context, c httpclient.Conn) (httpclient.Reply, error) {
				return c.(*conn).produceAll(ctx, recs)
			}}, nil
	},
	Split: func(_ int, body []byte, n int) []action.Result {
		var answers []recordAnswer
		if json.Unmarshal(body, &answers) != nil || len(answers) != n {
			return nil
		}
		out := make([]action.Result, n)
		for i, a := range answers {
			out[i] = a.result()
		}
		return out
	},
}

// recordAnswer is one record's outcome in a batch's answer.
type recordAnswer struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`
}

func (a recordAnswer) result() action.Result {
	switch {
	case a.Error == "":
		body, _ := json.Marshal(map[string]any{"topic": a.Topic, "partition": a.Partition, "offset": a.Offset})
		return action.Result{Outcome: httpclient.Succeeded, Body: body}
	case a.Permanent:
		return action.Result{Outcome: httpclient.Permanent, Error: a.Error}
	}
	return action.Result{Outcome: httpclient.Retryable, Error: a.Error}
}

// produceAll sends recs and waits for each one's acknowledgement, or for
// the attempt's time to run out (see produce): it answers with every
// record's outcome.
func (c *conn) produceAll(ctx context.Context, recs []*kgo.Record) (httpclient.Reply, error) {
	answers := make([]recordAnswer, len(recs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, rec := range recs {
		r := *rec
		wg.Add(1)
		c.cl.Produce(ctx, &r, func(r *kgo.Record, err error) {
			defer wg.Done()
			a := recordAnswer{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
			if err != nil {
				a = recordAnswer{Topic: r.Topic, Error: err.Error(), Permanent: refused(err)}
			}
			mu.Lock()
			answers[i] = a
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return httpclient.Reply{}, fmt.Errorf("no acknowledgement of every record in time (the producer may still deliver them): %w", ctx.Err())
	}
	body, _ := json.Marshal(answers)
	return httpclient.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
}

// refused reports whether err is the cluster's refusal by name (a topic
// it does not have, a record too large, not authorized): another attempt
// cannot help.
func refused(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && (!ke.Retriable || ke == kerr.UnknownTopicOrPartition)
}

// conn is a destination's franz-go client, which keeps its own
// connections to the brokers and mends them.
type conn struct{ cl *kgo.Client }

func connect(_ context.Context, d *action.Destination, dial httpclient.DialFunc) (httpclient.Conn, error) {
	var brokers []string
	for _, b := range strings.Split(d.Get("brokers"), ",") {
		brokers = append(brokers, strings.TrimSpace(b))
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = httpclient.DefaultTimeout
	}
	if d.Get("tls") == "true" {
		dial = tlsDial(dial)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("switchyard"),
		kgo.Dialer(dial),
		// A record is given up after one attempt's time: the run's retry
		// makes the next, so that a record never waits unseen in memory.
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProducerLinger(0),
	}
	if m := sasl(d); m != nil {
		opts = append(opts, m)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &conn{cl: cl}, nil
}

func sasl(d *action.Destination) kgo.Opt {
	user, pass := d.Get("username"), d.Get("password")
	switch strings.ToUpper(d.Get("sasl_mechanism")) {
	case "PLAIN":
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	case "SCRAM-SHA-256":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
	case "SCRAM-SHA-512":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
	}
	return nil
}

// tlsDial wraps dial in a TLS client that verifies the broker's name.
func tlsDial(dial httpclient.DialFunc) httpclient.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		c := tls.Client(raw, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
		if err := c.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return c, nil
	}
}

func (c *conn) Close() error { c.cl.Close(); return nil }

// produce sends rec and waits for the cluster's acknowledgement, or for
// the attempt's time to run out. The idempotent producer keeps a record
// it sent without an answer until it learns the outcome (failing it
// could break the partition's sequence), however long the broker is
// away; the attempt does not wait for that. Such a record may still land
// after the run retried, which is the duplicate the Idempotency-Key
// header lets a consumer drop.
func (c *conn) produce(ctx context.Context, rec *kgo.Record) (httpclient.Reply, error) {
	r := *rec // the client writes the partition and offset into it
	done := make(chan error, 1)
	c.cl.Produce(ctx, &r, func(_ *kgo.Record, err error) { done <- err })
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return httpclient.Reply{}, fmt.Errorf("no acknowledgement in time (the producer may still deliver the record): %w", ctx.Err())
	}
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) && refused(err) {
			body, _ := json.Marshal(map[string]any{"code": ke.Code, "error": ke.Message})
			return httpclient.Reply{Status: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, err
		}
		return httpclient.Reply{}, err
	}
	body, _ := json.Marshal(map[string]any{"topic": r.Topic, "partition": r.Partition, "offset": r.Offset})
	return httpclient.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
}

func firstBroker(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}
