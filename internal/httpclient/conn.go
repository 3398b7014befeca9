package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Conn is a destination's open connection for requests that are not
// plain HTTP: a broker's client, an object store's. The Client opens it
// on the first such request (Target.Connect), shares it between attempts
// and closes it when the destination's settings change or the Client
// closes. A Conn must be safe for concurrent use and mend itself after
// the server went away (reconnect on the next attempt), as the broker
// libraries' clients do.
type Conn interface {
	Close() error
}

// ConnectFunc opens a destination's connection; dial is the only way it
// may reach the network, so that allow_private_network holds for it too.
type ConnectFunc func(ctx context.Context, dial DialFunc) (Conn, error)

// DialFunc opens a network connection as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// SendFunc sends a request over the destination's connection.
type SendFunc func(ctx context.Context, conn Conn) (Reply, error)

// Reply is the answer to a request sent over a connection.
type Reply struct {
	// Status is the answer in HTTP's terms, which classify it as for any
	// request: 200 for an acknowledged publish, an object store's own
	// status. 0 with an error means there was no answer; the error is
	// then retried, unless it wraps ErrPermanent.
	Status int
	Header http.Header
	Body   []byte
}

// ErrPermanent marks a Send error that another attempt cannot mend (a
// subject or topic the broker refuses by name, a malformed message).
var ErrPermanent = errors.New("permanent")

// Dialer returns the guarded dialer of a destination: a connection to a
// private or loopback address is refused unless allowPrivate (see
// ErrPrivateAddress).
func Dialer(allowPrivate bool, timeout time.Duration) DialFunc {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return dialer(allowPrivate, timeout)
}

// conn is a destination's connection, opened once by the first attempt
// that needs it (later ones wait for it, or for their context).
type conn struct {
	mu sync.Mutex
	c  Conn
}

// get returns the open connection, opening it if needed. A failed open is
// not kept: the next attempt tries again.
func (cn *conn) get(ctx context.Context, d Target) (Conn, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.c != nil {
		return cn.c, nil
	}
	c, err := d.Connect(ctx, Dialer(d.AllowPrivateNetwork, d.Timeout))
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	cn.c = c
	return c, nil
}

// close closes the connection, if open.
func (cn *conn) close() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.c != nil {
		_ = cn.c.Close()
		cn.c = nil
	}
}

// send makes an attempt over the destination's connection, recording it
// in a as Do records an HTTP attempt.
func (c *Client) send(ctx context.Context, st *destination, d Target, req Request, a *Attempt) error {
	if d.Connect == nil {
		a.setOutcome(Permanent)
		a.Error = "the destination has no connection for this request"
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	cn, err := st.conn.get(actx, d)
	var r Reply
	if err == nil {
		r, err = req.Send(actx, cn)
	}
	a.DurationMS = float64(time.Since(a.StartedAt).Microseconds()) / 1000
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.Status != 0 {
		captured := capture(r.Header, r.Body, d.Secrets)
		captured.Status = r.Status
		a.Response, a.Body = &captured, r.Body
	}
	switch {
	case r.Status != 0:
		a.setOutcome(Classify(r.Status, nil))
	case err == nil:
		a.setOutcome(Retryable)
		err = errors.New("no answer")
	case errors.Is(err, ErrPermanent), errors.Is(err, ErrPrivateAddress):
		a.setOutcome(Permanent)
	default:
		a.setOutcome(Retryable)
	}
	if err != nil {
		a.Error = describe(err, d.Secrets)
	} else if a.Class != Succeeded {
		a.Error = fmt.Sprintf("the destination answered %d", r.Status)
	}
	return nil
}

// Close closes every destination's connection. Attempts after it open
// them again.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.dests {
		st.conn.close()
	}
}
