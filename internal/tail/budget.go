package tail

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what a node's live tails may cost, so that no number of
// subscribers and no filter slows ingest: a tail that cannot have its
// share falls behind and is dropped.
type Limits struct {
	// MaxSubscribers caps the subscriptions open at once; 0 means no cap.
	MaxSubscribers int
	// FilterShare is the share of one CPU that the filters of all
	// subscribers together may take; 0 means no bound.
	FilterShare float64
}

// maxCharge caps what one evaluation is charged (its deadline is 100 ms;
// the limiter's burst must hold a charge).
const maxCharge = 200 * time.Millisecond

// budget meters filter evaluations: one at a time across the node, each
// charged the time it took against a rate of FilterShare seconds per
// second. An evaluation waits while the budget is spent, so the filters
// of every subscriber together never take more than their share of the
// CPU, however many there are and whatever each costs.
type budget struct {
	turn  chan struct{} // one evaluation at a time
	lim   *rate.Limiter // tokens are microseconds of evaluation
	spent atomic.Int64  // nanoseconds of evaluation, for the metrics
}

func newBudget(share float64) *budget {
	b := &budget{turn: make(chan struct{}, 1)}
	if share > 0 {
		b.lim = rate.NewLimiter(rate.Limit(share*1e6), int(maxCharge/time.Microsecond))
	}
	return b
}

// run evaluates f in its turn, once the budget allows, and charges it.
// It fails only when ctx ends first.
func (b *budget) run(ctx context.Context, f func()) error {
	select {
	case b.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.turn }()
	if b.lim != nil {
		if err := b.lim.Wait(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	f()
	took := time.Since(start)
	b.spent.Add(int64(took))
	if b.lim != nil {
		b.lim.ReserveN(time.Now(), int(min(took, maxCharge)/time.Microsecond))
	}
	return nil
}
