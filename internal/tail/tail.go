// Package tail fans stored events out to live subscribers (the management
// API's /tail stream). A subscriber that cannot keep up is disconnected
// rather than allowed to slow the processor down, and the subscribers'
// number and the CPU their filters take are bounded (Limits).
package tail

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// ErrFull refuses a subscription beyond Limits.MaxSubscribers.
var ErrFull = errors.New("too many live tails are open on this node")

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

// Hub distributes events to subscribers. The zero value is ready to use,
// without limits.
type Hub struct {
	mu      sync.RWMutex
	subs    map[*Subscription]struct{}
	closed  bool
	opened  chan struct{} // closed at the next Subscribe
	max     int
	filters *budget
	dropped atomic.Int64
}

// NewHub returns a hub that holds its subscribers to limits.
func NewHub(limits Limits) *Hub {
	return &Hub{max: limits.MaxSubscribers, filters: newBudget(limits.FilterShare)}
}

// Stats are a hub's counters, for the metrics.
type Stats struct {
	Subscribers int
	Dropped     int64         // subscriptions closed for falling behind
	FilterTime  time.Duration // spent evaluating filters (Subscription.Eval)
}

// Stats returns the hub's counters now.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.subs)
	h.mu.RUnlock()
	s := Stats{Subscribers: n, Dropped: h.dropped.Load()}
	if h.filters != nil {
		s.FilterTime = time.Duration(h.filters.spent.Load())
	}
	return s
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

// Subscribe returns a subscription buffering up to buffer events, or
// ErrFull when the hub holds as many as its limits allow.
func (h *Hub) Subscribe(f Filter, buffer int) (*Subscription, error) {
	c := make(chan *cdp.Event, buffer)
	s := &Subscription{C: c, c: c, filter: f, hub: h}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(c)
		return s, nil
	}
	if h.max > 0 && len(h.subs) >= h.max {
		h.mu.Unlock()
		return nil, ErrFull
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
	return s, nil
}

// Eval runs f, the subscriber's own filter over an event, within the
// hub's filter budget: in turn with every other subscriber's, once the
// budget allows. While it waits, the subscription's buffer fills and, full,
// drops it. It fails only when ctx ends first.
func (s *Subscription) Eval(ctx context.Context, f func()) error {
	if s.hub.filters == nil {
		f()
		return nil
	}
	return s.hub.filters.run(ctx, f)
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
	if dropped {
		// What it had not read is not worth its filter's time: the
		// reader learns at once that it fell behind.
		h.dropped.Add(1)
		for range s.c {
		}
	}
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
