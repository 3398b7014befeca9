package workflow

import (
	"cmp"
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Leases for several nodes sharing a run queue, and the cache of runs
// just created for a single process.

// Lease defaults: how long a lease lasts without renewal, and how long a
// run whose lease another node holds waits before it is tried again.
const (
	DefaultLeaseTTL = 30 * time.Second
	leaseBusyWait   = 5 * time.Second
)

// lease takes or renews run id's lease until the time (until now
// releases it).
func (e *Engine) lease(ctx context.Context, id string, until time.Time) (held bool, err error) {
	err = e.Store.Update(ctx, func(tx cdp.Tx) error {
		held, err = tx.LeaseRun(ctx, id, e.Node, e.Now(), until)
		return err
	})
	return held, err
}

// Release gives up the lease of run id (after Advance, once the
// heartbeat stopped); it does nothing without Node.
func (e *Engine) Release(ctx context.Context, id string) {
	if e.Node != "" {
		_, _ = e.lease(context.WithoutCancel(ctx), id, e.Now())
	}
}

// Renew extends the lease of run id, being advanced here (the runner's
// heartbeat calls it); it does nothing without Node.
func (e *Engine) Renew(ctx context.Context, id string) {
	if e.Node != "" {
		_, _ = e.lease(ctx, id, e.Now().Add(cmp.Or(e.LeaseTTL, DefaultLeaseTTL)))
	}
}

type freshRun struct {
	run   cdp.Run
	event *cdp.Event
	view  map[string]any // the event's, shared by the runs it started
}

const freshTTL = 10 * time.Second

// Committed tells the engine about runs just committed with their events
// (the processor's OnRuns), so that their first advance need not read
// them back.
func (e *Engine) Committed(runs []*cdp.Run, events []*cdp.Event) {
	fresh := e.freshRuns()
	if fresh == nil {
		return
	}
	byID := make(map[string]*cdp.Event, len(events))
	for _, ev := range events {
		byID[ev.ID] = ev
	}
	seen := make(map[string]freshRun)
	for _, r := range runs {
		ev, ok := byID[r.EventID]
		if !ok || r.Version != 1 {
			continue
		}
		f, ok := seen[ev.ID]
		if !ok {
			f = freshRun{event: ev.Stored(), view: ev.View()}
			seen[ev.ID] = f
		}
		f.run = *r
		fresh.Put(r.ID, f)
	}
}

// freshRuns returns the cache of runs just committed here, made on first
// use; nil on several nodes.
func (e *Engine) freshRuns() *cache.Cache[string, freshRun] {
	if e.Node != "" {
		return nil
	}
	e.freshOnce.Do(func() { e.fresh = cache.New[string, freshRun](100_000, freshTTL) })
	return e.fresh
}

// take returns run id, its event and the event's view from the fresh
// cache, once.
func (e *Engine) take(id string) (*cdp.Run, *cdp.Event, map[string]any) {
	fresh := e.freshRuns()
	if fresh == nil {
		return nil, nil, nil
	}
	f, ok := fresh.Get(id)
	if !ok {
		return nil, nil, nil
	}
	fresh.Delete(id)
	return &f.run, f.event, f.view
}
