package tail

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// A subscriber that does not read is dropped once its buffer is full;
// Publish never blocks, and the other subscribers get every event.
func TestSlowSubscriberIsDropped(t *testing.T) {
	var h Hub
	slow := sub(t, &h, Filter{}, 2)
	fast := sub(t, &h, Filter{Type: "a"}, 100)
	for i := range 10 {
		typ := "a"
		if i%2 == 1 {
			typ = "b"
		}
		h.Publish([]*cdp.Event{{Type: typ}}) // would block forever if it waited for slow
	}
	n := 0
	for range slow.C { // closed, and what it had not read discarded
		n++
	}
	if n != 0 || !slow.Dropped() || h.Stats().Dropped != 1 {
		t.Fatalf("slow subscriber got %d events, dropped %v (%+v)", n, slow.Dropped(), h.Stats())
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
	a, b := sub(t, &h, Filter{}, 1), sub(t, &h, Filter{Type: "x"}, 1)
	h.Close()
	for _, s := range []*Subscription{a, b, sub(t, &h, Filter{}, 1)} {
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
	s := sub(t, &h, Filter{}, 1)
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

func sub(t *testing.T, h *Hub, f Filter, buffer int) *Subscription {
	t.Helper()
	s, err := h.Subscribe(f, buffer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A hub refuses subscriptions beyond its cap, and takes one again once a
// subscriber leaves.
func TestSubscriberCap(t *testing.T) {
	h := NewHub(Limits{MaxSubscribers: 2})
	a, b := sub(t, h, Filter{}, 1), sub(t, h, Filter{}, 1)
	if _, err := h.Subscribe(Filter{}, 1); !errors.Is(err, ErrFull) {
		t.Fatalf("third subscription: %v, want ErrFull", err)
	}
	a.Close()
	sub(t, h, Filter{}, 1).Close()
	b.Close()
	if h.Stats().Subscribers != 0 {
		t.Fatalf("stats %+v", h.Stats())
	}
}

// Filters of many subscribers share one budget: evaluations run one at a
// time, and once the budget is spent the next waits for it to refill
// rather than running. Here each evaluation takes about 20 ms of a budget
// of 10 % of a CPU (100 ms a second, with a burst of 200 ms of credit),
// so of the evaluations 20 subscribers want at once only the first
// dozen may run before the test gives up waiting, whatever the machine.
func TestFilterBudgetIsShared(t *testing.T) {
	h := NewHub(Limits{FilterShare: 0.1})
	busy := func() {
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var ran, active, overlap atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		s := sub(t, h, Filter{}, 1)
		wg.Go(func() {
			_ = s.Eval(ctx, func() {
				if active.Add(1) > 1 {
					overlap.Add(1)
				}
				busy()
				active.Add(-1)
				ran.Add(1)
			})
		})
	}
	wg.Wait()
	// 200 ms of burst plus 30 ms earned in 300 ms: at most a dozen
	// evaluations of 20 ms; without the budget all 20 would run.
	if n := ran.Load(); n == 0 || n > 12 || overlap.Load() != 0 {
		t.Fatalf("%d evaluations ran (%d overlapping) within 300 ms on a budget of 10 %%", n, overlap.Load())
	}
	if h.Stats().FilterTime < time.Duration(ran.Load())*20*time.Millisecond {
		t.Fatalf("filter time %v for %d evaluations", h.Stats().FilterTime, ran.Load())
	}
}
