package workflow

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

// Timeouts resumes the runs whose wait_for timed out: it claims due waits
// from the store's deadline index, a batch per transaction, at a pace
// that leaves live ingest its cores, so that a hundred thousand waits
// falling due together drain beside the traffic instead of taking the
// machine from it. Every node runs one; they claim different waits.
//
// The pace adapts (additive-increase, multiplicative-decrease, as TCP
// shares a link): every adjustEvery it is cut in half when the process
// was short of CPU (Busy) and grows by paceStep otherwise, between
// minTimeoutRate and Rate. Each timeout costs far more than its claim (the
// run goes on to its next steps and their requests), so a fixed rate that
// suits an idle machine doubles ingest's latency on a busy one, and one
// that suits a busy machine wastes an idle one.
type Timeouts struct {
	Store cdp.Store
	Queue cdp.RunQueue
	Log   *slog.Logger
	// Metrics, if set, counts the timeouts.
	Metrics *metrics.Metrics
	// Rate caps the waits ended per second (0: DefaultTimeoutRate).
	Rate float64
	// Busy, if set, reports whether the process was short of CPU since
	// it was last asked (headroom.Gauge's Busy): the pace then adapts to
	// it. Unset, timeouts end at Rate.
	Busy func() bool
	// Every is how often due waits are looked for (0: DefaultTimeoutEvery).
	Every time.Duration
	Now   func() time.Time
}

// DefaultTimeoutRate is how many timeouts a node ends per second at most.
const DefaultTimeoutRate = 2000

// DefaultTimeoutEvery is how often due waits are claimed: often, so that
// each claim is small. The runs a claim queues become runnable all at
// once, and the Go scheduler serves them before the requests that arrive
// behind them: 500 runs claimed together every quarter second held
// ingest's requests back by tens of milliseconds where 50 every 25 ms
// do not.
const DefaultTimeoutEvery = 25 * time.Millisecond

// adjustEvery is how often the pace is reconsidered, and paceStep how
// much it grows each time the process was not busy: from the floor to
// the default cap in 20 s. Growing by a share instead (a quarter a
// step) reached the cap in 3 s, and each climb ended in a burst that
// doubled ingest's latency before the brake came on.
const (
	adjustEvery = 250 * time.Millisecond
	paceStep    = 25
)

// minTimeoutRate is the least pace under load, so that timeouts still
// end, late, when the machine never has headroom.
const minTimeoutRate = 50

// timeoutBatch is the most waits one transaction claims.
const timeoutBatch = 200

// nextRate is the pace after a tick, busy or not.
func nextRate(cur, top float64, busy bool) float64 {
	if busy {
		return max(minTimeoutRate, cur/2)
	}
	return min(top, cur+paceStep)
}

// Run claims due waits until ctx is done.
func (t *Timeouts) Run(ctx context.Context) {
	top := t.Rate
	if top <= 0 {
		top = DefaultTimeoutRate
	}
	every := t.Every
	if every <= 0 {
		every = DefaultTimeoutEvery
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	pace, credit, adjusted := top, 0.0, time.Now()
	if t.Busy != nil {
		pace = minTimeoutRate // start gently: the machine may be busy
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.Busy != nil && time.Since(adjusted) >= adjustEvery {
			pace, adjusted = nextRate(pace, top, t.Busy()), time.Now()
		}
		// This tick's share of the pace; what a slow pace leaves over (a
		// fraction of a wait) carries to the next tick.
		share := pace * every.Seconds()
		credit = min(credit+share, max(1, share))
		for budget := int(credit); budget > 0 && ctx.Err() == nil; {
			n := min(timeoutBatch, budget)
			claimed, err := t.claim(ctx, now().UTC(), n)
			if err != nil {
				if ctx.Err() == nil {
					t.Log.Warn("wait timeouts", "err", err)
				}
				break
			}
			credit -= float64(claimed)
			if claimed < n {
				credit = 0 // none left due: until the next tick
				break
			}
			budget -= n
		}
	}
}

// claim ends up to n due waits and queues their runs; it returns how
// many waits it claimed.
func (t *Timeouts) claim(ctx context.Context, now time.Time, n int) (int, error) {
	runs, waits, claimed, err := claimTimeouts(ctx, t.Store, now, n)
	if err != nil {
		return 0, err
	}
	if t.Metrics != nil {
		for _, w := range waits {
			t.Metrics.WaitsEnded.WithLabelValues(w.WorkflowID, "timeout").Inc()
		}
	}
	if len(runs) > 0 {
		if err := Enqueue(ctx, t.Queue, runs); err != nil {
			return 0, err
		}
	}
	return claimed, nil
}
