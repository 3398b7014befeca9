package natsbus

import (
	"github.com/nats-io/nats.go"
)

// Signal is a notice without content between the nodes sharing a NATS
// server, over core NATS (at most once): "drop what you cached". A sender
// hears its own signal too. Receivers must not depend on it alone, since a
// signal sent while a node is disconnected never reaches it; Signal also
// fires receive when the connection comes back, for that reason.
type Signal struct {
	nc      *nats.Conn
	subject string
	sub     *nats.Subscription
}

// Signal subscribes receive to subject.
func (l *Log) Signal(subject string, receive func()) (*Signal, error) {
	sub, err := l.nc.Subscribe(subject, func(*nats.Msg) { receive() })
	if err != nil {
		return nil, err
	}
	l.onReconnect(receive)
	return &Signal{nc: l.nc, subject: subject, sub: sub}, nil
}

// Send signals every node.
func (s *Signal) Send() { _ = s.nc.Publish(s.subject, nil) }

// Close stops receiving.
func (s *Signal) Close() { _ = s.sub.Unsubscribe() }
