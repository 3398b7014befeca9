package natsbus

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Members counts the nodes sharing a NATS server (under one prefix): each
// says it is alive on a subject every interval, and a node that has not
// been heard for three intervals no longer counts. Nodes use the count
// to split what must hold for the whole cluster (a destination's rate
// limit) without talking per request.
type Members struct {
	nc       *nats.Conn
	subject  string
	self     string
	interval time.Duration
	sub      *nats.Subscription
	mu       sync.Mutex
	seen     map[string]time.Time
	// reconnects is the connection's reconnection count when seen was
	// last refreshed for one.
	reconnects uint64
	stop       chan struct{}
	done       chan struct{}
}

// Members joins the membership on subject as self, saying so every
// interval (0: 2 s).
func (l *Log) Members(subject, self string, interval time.Duration) (*Members, error) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	m := &Members{nc: l.nc, subject: subject, self: self, interval: interval, seen: map[string]time.Time{self: time.Now()},
		stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	m.sub, err = l.nc.Subscribe(subject, func(msg *nats.Msg) {
		name := string(msg.Data)
		m.mu.Lock()
		_, known := m.seen[name]
		m.seen[name] = time.Now()
		m.mu.Unlock()
		if !known {
			// A newcomer: say who we are now rather than at our next
			// heartbeat, so that it counts us at once.
			_ = m.nc.Publish(subject, []byte(self))
		}
	})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			_ = m.nc.Publish(subject, []byte(self))
			select {
			case <-t.C:
			case <-m.stop:
				return
			}
		}
	}()
	return m, nil
}

// Count returns how many nodes were heard lately, this one included.
// A node cut off from NATS hears nobody, but that is no sign that the
// others left: it keeps counting them while disconnected and, once it is
// back, for as long as they may take to come back too plus three
// intervals, so that it never takes a larger share than it should.
func (m *Members) Count() int {
	// Connected first: a reconnection between the two reads then shows
	// as "not connected", never as a stale count.
	connected := m.nc.IsConnected()
	reconnects := m.nc.Stats().Reconnects
	m.mu.Lock()
	defer m.mu.Unlock()
	if reconnects != m.reconnects {
		// The others may come back up to a reconnection attempt later
		// than this node did: they are heard as of then.
		m.reconnects = reconnects
		for name := range m.seen {
			m.seen[name] = time.Now().Add(reconnectWait + 200*time.Millisecond)
		}
	}
	n := 0
	for name, at := range m.seen {
		if name == m.self || !connected || time.Since(at) < 3*m.interval {
			n++
		} else {
			delete(m.seen, name)
		}
	}
	return n
}

// Leader reports whether this node has the least name among the nodes
// heard lately: the one that does what one node should do for all
// (evaluating alert rules). While membership changes two nodes may both
// think so for a moment; what they do must tolerate that.
func (m *Members) Leader() bool {
	m.Count() // forgets the nodes gone quiet
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.seen {
		if name < m.self {
			return false
		}
	}
	return true
}

// Share is this node's part of a cluster-wide quantity: 1/Count.
func (m *Members) Share() float64 { return 1 / float64(m.Count()) }

// Close leaves the membership (the others stop counting this node after
// three intervals).
func (m *Members) Close() {
	close(m.stop)
	<-m.done
	_ = m.sub.Unsubscribe()
}
