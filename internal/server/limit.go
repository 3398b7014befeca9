package server

import (
	"net"
	"sync"
)

// LimitListener accepts at most n connections at a time: past that,
// Accept waits for one to close, and new connections wait in the
// kernel's backlog instead of taking file descriptors the process needs
// (the event log's and the store's files, outbound calls). Slow or idle
// clients can then hold at most n of them.
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// MaxConnections is the connection cap of each listener: configured, or
// three quarters of the open-file limit (4,096 when it is unknown) (a quarter stays for the event
// log, the store and outbound calls), between 64 and 16,384.
func MaxConnections(configured int) int {
	if configured > 0 {
		return configured
	}
	files := fileLimit()
	if files == 0 {
		return 4096
	}
	return int(min(max(files/4*3, 64), 16_384))
}
