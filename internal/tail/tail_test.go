package tail

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// A subscriber that does not read is dropped once its buffer is full;
// Publish never blocks, and the other subscribers get every event.
func TestSlowSubscriberIsDropped(t *testing.T) {
	var h Hub
	slow := h.Subscribe(Filter{}, 2)
	fast := h.Subscribe(Filter{Type: "a"}, 100)
	for i := range 10 {
		typ := "a"
		if i%2 == 1 {
			typ = "b"
		}
		h.Publish([]*cdp.Event{{Type: typ}}) // would block forever if it waited for slow
	}
	n := 0
	for range slow.C { // closed after the two buffered events
		n++
	}
	if n != 2 || !slow.Dropped() {
		t.Fatalf("slow subscriber got %d events, dropped %v", n, slow.Dropped())
	}
	fast.Close()
	got := 0
	for e := range fast.C {
		if e.Type != "a" {
			t.Fatalf("filter let %q through", e.Type)
		}
		got++
	}
	if got != 5 || fast.Dropped() {
		t.Fatalf("fast subscriber got %d of 5, dropped %v", got, fast.Dropped())
	}
}

// Close ends every open subscription without marking it dropped, and a
// subscription made afterwards is closed from the start.
func TestCloseEndsSubscriptions(t *testing.T) {
	var h Hub
	a, b := h.Subscribe(Filter{}, 1), h.Subscribe(Filter{Type: "x"}, 1)
	h.Close()
	for _, s := range []*Subscription{a, b, h.Subscribe(Filter{}, 1)} {
		if _, open := <-s.C; open || s.Dropped() {
			t.Fatalf("subscription open %v, dropped %v after Close", open, s.Dropped())
		}
		s.Close() // closing again is harmless
	}
	h.Publish([]*cdp.Event{{Type: "x"}})
	if h.Active() {
		t.Fatal("hub still has subscribers")
	}
}

// Subscribed's channel closes at the next subscription, and only then; the
// next call waits for the one after.
func TestSubscribedSignalsTheNextSubscription(t *testing.T) {
	var h Hub
	opened := h.Subscribed()
	select {
	case <-opened:
		t.Fatal("closed before anyone subscribed")
	default:
	}
	s := h.Subscribe(Filter{}, 1)
	defer s.Close()
	select {
	case <-opened:
	default:
		t.Fatal("not closed by Subscribe")
	}
	select {
	case <-h.Subscribed():
		t.Fatal("the next channel is closed already")
	default:
	}
}
