// Package tail fans stored events out to live subscribers (the management
// API's /tail stream). A subscriber that cannot keep up is disconnected
// rather than allowed to slow the processor down.
package tail

import (
	"sync"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Filter selects events; a nil Match accepts everything.
type Filter struct {
	SourceID string
	Type     string
	// Match, if set, is applied after SourceID and Type.
	Match func(*cdp.Event) bool
}

func (f Filter) accepts(e *cdp.Event) bool {
	return (f.SourceID == "" || f.SourceID == e.SourceID) && (f.Type == "" || f.Type == e.Type) && (f.Match == nil || f.Match(e))
}

// Hub distributes events to subscribers. The zero value is ready to use.
type Hub struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool
	opened chan struct{} // closed at the next Subscribe
}

// Subscribed returns a channel closed when a subscription next opens, so
// that what serves the tails (the relay between nodes) can react at once
// rather than at its next tick.
func (h *Hub) Subscribed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opened == nil {
		h.opened = make(chan struct{})
	}
	return h.opened
}

// Active reports whether anyone is subscribed.
func (h *Hub) Active() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs) > 0
}

// Subscription receives events on C until it is closed by Close or because
// it fell behind (then Dropped reports true).
type Subscription struct {
	C       <-chan *cdp.Event
	c       chan *cdp.Event
	filter  Filter
	hub     *Hub
	once    sync.Once
	dropped bool
}

// Subscribe returns a subscription buffering up to buffer events.
func (h *Hub) Subscribe(f Filter, buffer int) *Subscription {
	c := make(chan *cdp.Event, buffer)
	s := &Subscription{C: c, c: c, filter: f, hub: h}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(c)
		return s
	}
	if h.subs == nil {
		h.subs = map[*Subscription]struct{}{}
	}
	h.subs[s] = struct{}{}
	if h.opened != nil {
		close(h.opened)
		h.opened = nil
	}
	h.mu.Unlock()
	return s
}

// Close ends every subscription, and those made later at once: a server
// shutting down calls it first, since streams that never end would hold
// their connections open until the shutdown's timeout.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.c)
	}
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() { s.hub.remove(s, false) }

// Dropped reports whether the subscription was closed for falling behind.
func (s *Subscription) Dropped() bool {
	s.hub.mu.RLock()
	defer s.hub.mu.RUnlock()
	return s.dropped
}

func (h *Hub) remove(s *Subscription, dropped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.dropped = dropped
	close(s.c)
}

// Publish offers events to every subscriber without blocking.
func (h *Hub) Publish(events []*cdp.Event) {
	h.mu.RLock()
	if len(h.subs) == 0 {
		h.mu.RUnlock()
		return
	}
	var slow []*Subscription
	for s := range h.subs {
	events:
		for _, e := range events {
			if !s.filter.accepts(e) {
				continue
			}
			select {
			case s.c <- e:
			default:
				slow = append(slow, s)
				break events
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		h.remove(s, true)
	}
}
