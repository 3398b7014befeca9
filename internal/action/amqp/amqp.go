// Package amqp is the amqp destination kind and its amqp.publish action:
// a persistent message published to a RabbitMQ (AMQP 0-9-1) exchange with
// publisher confirms. A publish succeeds only when the broker confirms
// it; a nack, or a return because nothing is bound to the routing key, is
// a failure that is retried.
package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the amqp destination kind and amqp.publish.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "amqp",
		Description: "A RabbitMQ (AMQP 0-9-1) broker; every publish waits for the broker's confirm.",
		Settings: []action.Setting{
			{Name: "url", Required: true, Description: "amqp://user:password@host:5672/vhost (or amqps://); the password is kept secret."},
		},
		Check: func(d *action.Destination) map[string]string {
			if u := d.Get("url"); u != "" {
				if _, err := amqp091.ParseURI(u); err != nil {
					return map[string]string{"url": "must be amqp://user:password@host:port/vhost or amqps://…"}
				}
			}
			return nil
		},
		Connect: connect,
	},
	Actions: []*action.Spec{publish},
}

var publish = &action.Spec{
	Kind: "amqp.publish", Destination: "amqp", EventBody: true,
	Description: "Publishes the body (default: the triggering event, as JSON) to exchange with routing_key, persistent and " +
		"mandatory, with message_id set to the step's key and headers as the message's headers. It succeeds on the broker's " +
		"confirm; a nack, or a return because no queue is bound to the routing key, is retried. " +
		`Output: {"exchange", "routing_key"}.`,
	Inputs: []action.Input{
		{Name: "exchange", Type: action.String, Description: `The exchange; default "" (the default exchange, where the routing key names a queue).`},
		{Name: "routing_key", Type: action.String, Required: true, Description: "The routing key."},
		{Name: "body", Type: action.Any, Description: "A string is sent as it is; anything else as JSON. Default: the event."},
		{Name: "headers", Type: action.Object, Description: "Message headers to set."},
	},
	Build: build,
}

// Limits of AMQP 0-9-1's short strings.
const maxShortString = 255

func build(d *action.Destination, in map[string]any, key string, now time.Time) (action.Call, error) {
	exchange, routingKey := action.Text(in["exchange"]), action.Text(in["routing_key"])
	if len(exchange) > maxShortString || len(routingKey) > maxShortString {
		return action.Call{}, fmt.Errorf("exchange and routing_key must be at most %d bytes", maxShortString)
	}
	body, contentType, headers, err := action.Message(in, "headers")
	if err != nil {
		return action.Call{}, err
	}
	msg := amqp091.Publishing{ContentType: contentType, MessageId: key, Timestamp: now.UTC(), AppId: "switchyard",
		DeliveryMode: amqp091.Persistent, Body: body}
	h := http.Header{"Content-Type": {contentType}, "Message-Id": {key}}
	if len(headers) > 0 {
		msg.Headers = amqp091.Table{}
		for k, v := range headers {
			msg.Headers[k] = v
			h[k] = []string{v}
		}
	}
	return action.Call{
		Request: httpclient.Request{Method: "PUBLISH", URL: display(d.Get("url"), exchange, routingKey), Header: h, Body: body,
			Send: func(ctx context.Context, c httpclient.Conn) (httpclient.Reply, error) {
				return c.(*conn).publish(ctx, exchange, routingKey, msg)
			}},
		Output: action.JSONOutput,
	}, nil
}

// conn is a destination's AMQP connection and its one channel in confirm
// mode, opened again on the next publish after either closed (the broker
// went away, or closed the channel over a publish to an exchange it does
// not have).
type conn struct {
	url  string
	dial httpclient.DialFunc

	mu       sync.Mutex
	c        *amqp091.Connection
	ch       *amqp091.Channel
	closed   chan *amqp091.Error // the channel's close, with the broker's reason
	returns  chan amqp091.Return
	returned map[string]amqp091.Return // by message id, until its publisher looks
}

func connect(ctx context.Context, d *action.Destination, dial httpclient.DialFunc) (httpclient.Conn, error) {
	c := &conn{url: d.Get("url"), dial: dial, returned: map[string]amqp091.Return{}}
	if _, err := c.channel(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// channel returns the open channel, opening the connection and the
// channel again if needed.
func (c *conn) channel(ctx context.Context) (*amqp091.Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil && !c.ch.IsClosed() {
		return c.ch, nil
	}
	if c.c == nil || c.c.IsClosed() {
		cfg := amqp091.Config{Properties: amqp091.Table{"connection_name": "switchyard"}, Heartbeat: 10 * time.Second,
			Dial: func(network, addr string) (net.Conn, error) { return c.dial(ctx, network, addr) }}
		conn, err := amqp091.DialConfig(c.url, cfg)
		if err != nil {
			return nil, err
		}
		c.c = conn
	}
	ch, err := c.c.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	// Returns arrive before the confirm of their message and wait here
	// until a publisher looks (see publish). The buffer outlasts any burst
	// of returns the publishers in flight could cause.
	c.returns = ch.NotifyReturn(make(chan amqp091.Return, 1024))
	c.closed = ch.NotifyClose(make(chan *amqp091.Error, 1))
	c.ch = ch
	return ch, nil
}

func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}

// publish sends msg, mandatory, and waits for the broker's confirm.
func (c *conn) publish(ctx context.Context, exchange, routingKey string, msg amqp091.Publishing) (httpclient.Reply, error) {
	ch, err := c.channel(ctx)
	if err != nil {
		return reason(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, routingKey, true, false, msg)
	if err != nil {
		return c.failed(err)
	}
	ack, err := dc.WaitContext(ctx)
	if err != nil {
		return httpclient.Reply{}, err
	}
	if !ack {
		return c.failed(errors.New("the broker did not confirm the message (nack)"))
	}
	if r, ok := c.wasReturned(msg.MessageId); ok {
		return httpclient.Reply{}, fmt.Errorf("the broker returned the message: %d %s (nothing is bound to exchange %q with routing key %q)",
			r.ReplyCode, r.ReplyText, exchange, routingKey)
	}
	body, _ := json.Marshal(map[string]string{"exchange": exchange, "routing_key": routingKey})
	return httpclient.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
}

// wasReturned reports whether the broker returned the message with id.
// The library hands over a return before it handles the confirm that
// follows it, so once the confirm is in, the return (if any) is in the
// buffer or the map.
func (c *conn) wasReturned(id string) (amqp091.Return, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-c.returns:
			if !ok {
				drained = true
				break
			}
			if len(c.returned) >= 4096 { // left by publishers that gave up waiting
				clear(c.returned)
			}
			c.returned[r.MessageId] = r
		default:
			drained = true
		}
	}
	r, ok := c.returned[id]
	delete(c.returned, id)
	return r, ok
}

// failed explains a publish that failed or was refused: when the broker
// closed the channel over it, the broker's reason and code.
func (c *conn) failed(err error) (httpclient.Reply, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	select {
	case e, ok := <-closed:
		if ok && e != nil {
			return reason(e)
		}
	case <-time.After(100 * time.Millisecond): // the close, if any, follows the failure closely
	}
	return reason(err)
}

// reason is an AMQP error as an answer: a refusal by the broker (a 4xx
// code such as 404 for an exchange it does not have, 403 for one the user
// may not write to) is not retried; a 5xx or a broken connection is.
func reason(err error) (httpclient.Reply, error) {
	var e *amqp091.Error
	if errors.As(err, &e) && e.Code >= 400 && e.Code < 600 {
		body, _ := json.Marshal(map[string]any{"code": e.Code, "reason": e.Reason})
		return httpclient.Reply{Status: e.Code, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, err
	}
	return httpclient.Reply{}, err
}

// display is where the run log says a message went: the broker without
// credentials, the exchange and the routing key.
func display(raw, exchange, routingKey string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "amqp:"
	}
	u.User = nil
	q := url.Values{"exchange": {exchange}, "routing_key": {routingKey}}
	u.RawQuery = q.Encode()
	return u.String()
}
