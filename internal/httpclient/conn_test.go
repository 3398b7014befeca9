package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lineConn is a connection to a loopback TCP server that answers each
// line with "ok <line>": the simplest real connection a destination kind
// could keep.
type lineConn struct {
	c      net.Conn
	closed *atomic.Int32
}

func (l *lineConn) Close() error { l.closed.Add(1); return l.c.Close() }

func (l *lineConn) send(ctx context.Context, line string) (Reply, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = l.c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(l.c, "%s\n", line); err != nil {
		return Reply{}, err
	}
	buf := make([]byte, 256)
	n, err := l.c.Read(buf)
	if err != nil {
		return Reply{}, err
	}
	answer := strings.TrimSpace(string(buf[:n]))
	if strings.HasPrefix(answer, "refused") {
		return Reply{Status: 403, Body: []byte(answer)}, errors.New(answer)
	}
	return Reply{Status: 200, Body: []byte(answer)}, nil
}

// lineServer answers "refused <line>" to lines starting with "no", "ok
// <line>" to the others; it counts the connections it accepted.
func lineServer(t *testing.T) (addr string, accepted *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 256)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					line := strings.TrimSpace(string(buf[:n]))
					answer := "ok " + line
					if strings.HasPrefix(line, "no") {
						answer = "refused " + line
					}
					if _, err := c.Write([]byte(answer + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// A destination's connection is opened by the first attempt through the
// guarded dialer, shared by the next ones, opened again when the
// destination's settings change (the old one closed), and closed with the
// client; the answer is classified as an HTTP status would be, and a
// connection that cannot be opened is a retryable attempt.
func TestConnection(t *testing.T) {
	addr, accepted := lineServer(t)
	closed := &atomic.Int32{}
	target := func(settings string, allowPrivate bool) Target {
		return Target{ID: "line", AllowPrivateNetwork: allowPrivate, Timeout: 2 * time.Second, Settings: settings,
			Connect: func(ctx context.Context, dial DialFunc) (Conn, error) {
				c, err := dial(ctx, "tcp", addr)
				if err != nil {
					return nil, err
				}
				return &lineConn{c: c, closed: closed}, nil
			}}
	}
	req := func(line string) Request {
		return Request{Method: "SEND", URL: "line://" + addr, Body: []byte(line),
			Send: func(ctx context.Context, c Conn) (Reply, error) { return c.(*lineConn).send(ctx, line) }}
	}
	c := New(nil)
	for i := range 3 {
		a, err := c.Do(t.Context(), target("v1", true), i+1, req(fmt.Sprint("hello ", i)))
		if err != nil || a.Class != Succeeded || a.Response.Body != fmt.Sprint("ok hello ", i) || a.Request.Method != "SEND" {
			t.Fatalf("attempt %d: %+v %v", i, a, err)
		}
	}
	if accepted.Load() != 1 {
		t.Fatalf("%d connections for 3 attempts", accepted.Load())
	}
	if a, _ := c.Do(t.Context(), target("v1", true), 1, req("no thanks")); a.Class != Permanent || a.Response.Status != 403 {
		t.Fatalf("a refusal: %s %+v", a.Class, a.Response)
	}
	if a, _ := c.Do(t.Context(), target("v2", true), 1, req("again")); a.Class != Succeeded || accepted.Load() != 2 || closed.Load() != 1 {
		t.Fatalf("after a settings change: %s, %d connections, %d closed", a.Class, accepted.Load(), closed.Load())
	}
	c.Close()
	if closed.Load() != 2 {
		t.Fatalf("%d connections closed after Close", closed.Load())
	}
	if a, _ := c.Do(t.Context(), target("v2", false), 1, req("x")); a.Class != Permanent || !strings.Contains(a.Error, "allow_private_network") {
		t.Fatalf("a loopback connection not allowed: %s %s", a.Class, a.Error)
	}
	down := target("v3", true)
	down.Connect = func(ctx context.Context, dial DialFunc) (Conn, error) { return nil, errors.New("broker away") }
	if a, _ := c.Do(t.Context(), down, 1, req("x")); a.Class != Retryable || !strings.Contains(a.Error, "connecting: broker away") {
		t.Fatalf("a connection that cannot open: %s %s", a.Class, a.Error)
	}
	permanent := func(ctx context.Context, c Conn) (Reply, error) {
		return Reply{}, fmt.Errorf("%w: bad subject", ErrPermanent)
	}
	if a, _ := c.Do(t.Context(), target("v2", true), 1, Request{Send: permanent}); a.Class != Permanent {
		t.Fatalf("a permanent send error: %s %s", a.Class, a.Error)
	}
}
