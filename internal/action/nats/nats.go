// Package nats is the nats destination kind and its nats.publish action:
// a message published to a subject of any NATS server, or to a JetStream
// stream with the step's key as the message id, so that the stream drops
// a retried publish within its duplicate window.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the nats destination kind and nats.publish.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "nats",
		Description: "A NATS server or cluster; with a stream, publishes go through JetStream and are acknowledged by it.",
		Settings: []action.Setting{
			{Name: "url", Required: true, Description: "nats://host:4222, or several separated by commas; user:password@ in it is kept secret."},
			{Name: "token", Secret: true, Description: "An authentication token, if the server wants one."},
			{Name: "stream", Description: "The JetStream stream the subjects belong to: each publish waits for the stream's " +
				"acknowledgement, and carries the step's key as Nats-Msg-Id so that the stream drops a duplicate. Without it, a " +
				"publish succeeds once the server has it (subscribers that are not connected miss it, as NATS core does)."},
		},
		Check: func(d *action.Destination) map[string]string {
			p := map[string]string{}
			if u := d.Get("url"); u != "" && checkURLs(u) != "" {
				p["url"] = checkURLs(u)
			}
			if s := d.Get("stream"); s != "" && strings.ContainsAny(s, ".*> \t\r\n") {
				p["stream"] = "must be a stream name (no '.', '*', '>' or spaces)"
			}
			return p
		},
		Connect: connect,
	},
	Actions: []*action.Spec{publish},
}

var publish = &action.Spec{
	Kind: "nats.publish", Destination: "nats", EventBody: true,
	Description: "Publishes the body (default: the triggering event, as JSON) to subject, with headers. With the destination's " +
		"stream, the message carries Nats-Msg-Id set to the step's key and succeeds on the stream's acknowledgement. " +
		`Output: {"stream", "seq", "duplicate"} through JetStream, {"subject"} otherwise.`,
	Inputs: []action.Input{
		{Name: "subject", Type: action.String, Required: true, Description: "The subject: tokens separated by '.', no wildcards."},
		{Name: "body", Type: action.Any, Description: "A string is sent as it is; anything else as JSON. Default: the event."},
		{Name: "headers", Type: action.Object, Description: "Message headers to set."},
	},
	Build: build,
}

func build(d *action.Destination, in map[string]any, key string, _ time.Time) (action.Call, error) {
	subject := action.Text(in["subject"])
	if msg := checkSubject(subject); msg != "" {
		return action.Call{}, fmt.Errorf("subject: %q %s", subject, msg)
	}
	body, contentType, headers, err := action.Message(in, "headers")
	if err != nil {
		return action.Call{}, err
	}
	h := http.Header{"Content-Type": {contentType}}
	for k, v := range headers {
		h[k] = []string{v} // NATS headers keep the case they were given
	}
	stream := d.Get("stream")
	if stream != "" {
		h[jetstream.MsgIDHeader] = []string{key}
	}
	msg := &natsgo.Msg{Subject: subject, Header: natsgo.Header(h.Clone()), Data: body}
	return action.Call{
		Request: httpclient.Request{Method: "PUBLISH", URL: display(d.Get("url"), subject), Header: h, Body: body,
			Send: func(ctx context.Context, c httpclient.Conn) (httpclient.Reply, error) {
				return c.(*conn).publish(ctx, msg, stream)
			}},
		Output: action.JSONOutput,
	}, nil
}

// conn is a destination's NATS connection. nats.go reconnects it by
// itself; while it is away, publishes fail at once (no reconnect buffer),
// so that an attempt never reports a message that only sits in memory.
type conn struct {
	nc *natsgo.Conn
	js jetstream.JetStream
}

func connect(ctx context.Context, d *action.Destination, dial httpclient.DialFunc) (httpclient.Conn, error) {
	opts := []natsgo.Option{
		natsgo.Name("switchyard"),
		natsgo.SetCustomDialer(dialer{dial}),
		natsgo.ReconnectBufSize(-1),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(time.Second),
		natsgo.Timeout(10 * time.Second),
		// Errors are the attempts' to report, never the library's to print.
		natsgo.ErrorHandler(func(*natsgo.Conn, *natsgo.Subscription, error) {}),
	}
	if t := d.Get("token"); t != "" {
		opts = append(opts, natsgo.Token(t))
	}
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() { // nats.Connect takes no context
		nc, err := natsgo.Connect(d.Get("url"), opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		js, err := jetstream.New(r.nc)
		if err != nil {
			r.nc.Close()
			return nil, err
		}
		return &conn{nc: r.nc, js: js}, nil
	case <-ctx.Done():
		go func() { // close what the abandoned connect opens
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func (c *conn) Close() error { c.nc.Close(); return nil }

// publish sends msg: through JetStream when stream is set, answering with
// the stream's acknowledgement; otherwise as a core publish, answered
// once the server has it (a flush).
func (c *conn) publish(ctx context.Context, msg *natsgo.Msg, stream string) (httpclient.Reply, error) {
	if stream == "" {
		if err := c.nc.PublishMsg(msg); err != nil {
			return httpclient.Reply{}, err
		}
		if err := c.nc.FlushWithContext(ctx); err != nil {
			return httpclient.Reply{}, err
		}
		return reply(map[string]any{"subject": msg.Subject}), nil
	}
	ack, err := c.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(stream), jetstream.WithRetryAttempts(0))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code >= 400 {
			// The stream's own refusal: its code says whether another
			// attempt can help (503) or not (400: wrong stream).
			return httpclient.Reply{Status: apiErr.Code, Body: mustJSON(apiErr)}, err
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			err = fmt.Errorf("no stream answered for subject %s (is it one of stream %s's subjects?): %w", msg.Subject, stream, err)
		}
		return httpclient.Reply{}, err
	}
	return reply(map[string]any{"stream": ack.Stream, "seq": ack.Sequence, "duplicate": ack.Duplicate}), nil
}

func reply(v any) httpclient.Reply {
	return httpclient.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: mustJSON(v)}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// dialer gives nats.go the destination's guarded dialer.
type dialer struct{ dial httpclient.DialFunc }

func (d dialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.dial(ctx, network, addr)
}

// checkSubject returns what is wrong with a subject to publish to, or "".
func checkSubject(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 1024:
		return "is longer than 1024 bytes"
	case strings.ContainsAny(s, " \t\r\n*>"):
		return "must not contain spaces or the wildcards * and >"
	case strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, ".."):
		return "has an empty token"
	}
	return ""
}

// checkURLs returns what is wrong with a comma-separated list of NATS
// URLs, or "". It does not quote them: they may hold a password.
func checkURLs(list string) string {
	for _, s := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return "must be nats://host:port (or tls://), several separated by commas"
		}
	}
	return ""
}

// display is where the run log says a message went: the first server,
// without credentials, and the subject.
func display(list, subject string) string {
	first, _, _ := strings.Cut(list, ",")
	u, err := url.Parse(strings.TrimSpace(first))
	if err != nil {
		return "nats:" + subject
	}
	return u.Scheme + "://" + u.Host + "/" + subject
}
