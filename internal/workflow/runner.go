package workflow

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Runner takes runs from the run queue and advances them, many at once
// and each on its own (a run waiting on a slow destination holds up no
// other); a run that must wait goes back to the queue with that delay.
type Runner struct {
	Engine *Engine
	Queue  cdp.RunQueue
	Log    *slog.Logger
	// MaxActive caps the runs advanced at once (0 = DefaultMaxActive);
	// the queue is not read further while that many are busy.
	MaxActive int
	// Heartbeat is how often a run being advanced tells the queue it is
	// still in progress (0 = DefaultHeartbeat); it must be well under
	// the queue's ack wait.
	Heartbeat time.Duration
	// active holds the runs being advanced: a run queued twice (the
	// sweeper, a redelivery) is advanced by one goroutine at a time. With
	// one process per data dir (the embedded deployment) that is enough
	// to never send a step's attempt twice at once.
	active sync.Map
}

// Runner defaults.
const (
	DefaultMaxActive = 1024
	DefaultHeartbeat = 5 * time.Second
)

// busyRetry is when a run's message comes back while another goroutine
// of this node advances it.
const busyRetry = time.Second

// Group is the run queue's consumer group.
const Group = "runner"

// Enqueue queues runs for the runner, all at once (each waits for the
// queue's acknowledgement; they should not wait in turn).
func Enqueue(ctx context.Context, q cdp.RunQueue, runs []*cdp.Run) error {
	errs := make(chan error, len(runs))
	for _, r := range runs {
		go func() {
			_, err := q.Append(ctx, r.WorkflowID, "", []byte(r.ID))
			if err != nil {
				err = fmt.Errorf("enqueue run %s: %w", r.ID, err)
			}
			errs <- err
		}()
	}
	var first error
	for range runs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Run consumes the queue until ctx is done, then waits for the runs it
// is advancing.
func (rn *Runner) Run(ctx context.Context) error {
	slots := make(chan struct{}, cmp.Or(rn.MaxActive, DefaultMaxActive))
	var wg sync.WaitGroup
	defer wg.Wait()
	return rn.Queue.Consume(ctx, Group, func(ctx context.Context, batch []cdp.Delivery) {
		for _, d := range batch {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				_ = d.Nak(0)
				continue
			}
			wg.Go(func() {
				defer func() { <-slots }()
				rn.advance(ctx, d)
			})
		}
	})
}

func (rn *Runner) advance(ctx context.Context, d cdp.Delivery) {
	id := string(d.Data())
	if _, busy := rn.active.LoadOrStore(id, true); busy {
		// The goroutine advancing it owns it; this message comes back
		// once it is done, in case it was queued for what happened after
		// that goroutine last looked (a wait ended as it parked).
		_ = d.Nak(busyRetry)
		return
	}
	defer rn.active.Delete(id)
	stop := rn.keepAlive(ctx, d, id)
	delay, err := rn.Engine.Advance(ctx, id)
	stop()
	rn.Engine.Release(ctx, id)
	switch {
	case err != nil && cdp.ErrorCode(err) == cdp.ENOTFOUND:
		_ = d.Ack() // erased with its profile, or never committed
	case err != nil:
		if ctx.Err() == nil {
			rn.Log.Warn("advance run", "run", id, "attempt", d.Attempt(), "err", err)
		}
		_ = d.Nak(min(time.Duration(d.Attempt())*time.Second, time.Minute))
	case delay > 0:
		_ = d.Nak(delay)
	default:
		_ = d.Ack()
	}
}

// keepAlive marks d in progress every heartbeat until stop is called, so
// that an attempt longer than the ack wait does not get the run
// delivered again meanwhile, and renews the run's lease (several nodes).
func (rn *Runner) keepAlive(ctx context.Context, d cdp.Delivery, id string) (stop func()) {
	t := time.NewTicker(cmp.Or(rn.Heartbeat, DefaultHeartbeat))
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-t.C:
				_ = d.InProgress()
				rn.Engine.Renew(ctx, id)
			case <-done:
				return
			}
		}
	}()
	// stop returns once no renewal can follow (the lease is released next).
	return func() { t.Stop(); close(done); <-exited }
}

// Sweep queues the pending runs created more than age ago: a crash
// between the commit that created a run and its enqueueing would
// otherwise leave it waiting forever. A run queued twice is advanced once
// at a time and its steps are never repeated.
func Sweep(ctx context.Context, store cdp.RunReader, q cdp.RunQueue, age time.Duration, now time.Time) (int, error) {
	n, cursor := 0, ""
	for {
		runs, next, err := store.FindRuns(ctx, cdp.RunFilter{Status: cdp.RunPending, Until: now.Add(-age), Limit: 1000, Cursor: cursor})
		if err != nil {
			return n, err
		}
		if err := Enqueue(ctx, q, runs); err != nil {
			return n, err
		}
		n += len(runs)
		if cursor = next; cursor == "" {
			return n, nil
		}
	}
}
