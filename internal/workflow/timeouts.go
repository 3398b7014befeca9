package workflow

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

// Timeouts resumes the runs whose wait_for timed out: it claims due waits
// from the store's deadline index, a batch per transaction, at most Rate
// a second, so that a million waits falling due together drain at a
// steady pace beside live ingest instead of taking the store from it.
// Every node runs one; they claim different waits.
type Timeouts struct {
	Store cdp.Store
	Queue cdp.RunQueue
	Log   *slog.Logger
	// Metrics, if set, counts the timeouts.
	Metrics *metrics.Metrics
	// Rate caps the waits ended per second (0: DefaultTimeoutRate).
	Rate float64
	// Every is how often due waits are looked for (0: a quarter second).
	Every time.Duration
	Now   func() time.Time
}

// DefaultTimeoutRate is how many timeouts a node ends per second at most.
const DefaultTimeoutRate = 2000

// timeoutBatch is the most waits one transaction claims.
const timeoutBatch = 200

// Run claims due waits until ctx is done.
func (t *Timeouts) Run(ctx context.Context) {
	per := t.Rate
	if per <= 0 {
		per = DefaultTimeoutRate
	}
	every := t.Every
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	limit := rate.NewLimiter(rate.Limit(per), timeoutBatch)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for ctx.Err() == nil {
			n := min(timeoutBatch, max(1, int(per)))
			if err := limit.WaitN(ctx, n); err != nil {
				return
			}
			runs, waits, claimed, err := claimTimeouts(ctx, t.Store, now().UTC(), n)
			if err == nil && t.Metrics != nil {
				for _, w := range waits {
					t.Metrics.WaitsEnded.WithLabelValues(w.WorkflowID, "timeout").Inc()
				}
			}
			if err == nil && len(runs) > 0 {
				err = Enqueue(ctx, t.Queue, runs)
			}
			if err != nil {
				if ctx.Err() == nil {
					t.Log.Warn("wait timeouts", "err", err)
				}
				break
			}
			if claimed < n {
				break // none left due: until the next tick
			}
		}
	}
}
