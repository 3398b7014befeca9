package natsbus

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Relay passes stored events between the nodes sharing a NATS server, for
// the live tail: whichever node stores an event, a tail on any node shows
// it. It uses core NATS (at most once, nothing stored): a tail shows what
// it can, as on one node. Encoding every event costs CPU, so a node sends
// only while some node has a tail open, which nodes with tails announce
// every few seconds.
type Relay struct {
	nc               *nats.Conn
	subject, wanted  string
	events, interest *nats.Subscription
	lastWanted       atomic.Int64 // unix nanos of the last announcement heard
	stop             chan struct{}
}

// Relay timing: how often a node with tails says so, and how long senders
// keep sending after the last time they heard it.
const (
	announceEvery = 3 * time.Second
	interestTTL   = 10 * time.Second
	// relayChunk caps the events of one message (NATS's default payload
	// limit is 1 MiB).
	relayChunk = 128
)

// Tails are this node's live tails, as the relay serves them.
type Tails interface {
	// Publish shows events stored on any node.
	Publish([]*cdp.Event)
	// Active reports whether a tail is open here now.
	Active() bool
	// Subscribed is closed when a tail next opens here.
	Subscribed() <-chan struct{}
}

// Relay starts relaying on subject to and from this node's tails.
func (l *Log) Relay(subject string, tails Tails) (*Relay, error) {
	r := &Relay{nc: l.nc, subject: subject, wanted: subject + ".wanted", stop: make(chan struct{})}
	var err error
	r.events, err = l.nc.Subscribe(subject, func(m *nats.Msg) {
		var events []*cdp.Event
		if json.Unmarshal(m.Data, &events) == nil {
			tails.Publish(events)
		}
	})
	if err != nil {
		return nil, err
	}
	r.interest, err = l.nc.Subscribe(r.wanted, func(*nats.Msg) { r.lastWanted.Store(time.Now().UnixNano()) })
	if err != nil {
		_ = r.events.Unsubscribe()
		return nil, err
	}
	go func() {
		t := time.NewTicker(announceEvery)
		defer t.Stop()
		for {
			// A tail that opens here is announced at once, so that events
			// flow before the next tick. The channel is taken before the
			// check, so a tail opening between the two is not missed.
			opened := tails.Subscribed()
			if tails.Active() {
				_ = r.nc.Publish(r.wanted, nil)
			}
			select {
			case <-t.C:
			case <-opened:
			case <-r.stop:
				return
			}
		}
	}()
	return r, nil
}

// Publish sends events to every node's tail, if any node has one open.
func (r *Relay) Publish(events []*cdp.Event) {
	if len(events) == 0 || !r.Wanted() {
		return
	}
	for len(events) > 0 {
		n := min(len(events), relayChunk)
		if data, err := json.Marshal(events[:n]); err == nil {
			_ = r.nc.Publish(r.subject, data)
		}
		events = events[n:]
	}
}

// Wanted reports whether some node has a tail open, as last announced.
func (r *Relay) Wanted() bool {
	return time.Since(time.Unix(0, r.lastWanted.Load())) <= interestTTL
}

// Close stops relaying.
func (r *Relay) Close() {
	close(r.stop)
	_ = r.events.Unsubscribe()
	_ = r.interest.Unsubscribe()
}
