package workflow

import (
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The cache of runs just created by this process, with their events, for
// their first advance (see Engine.fresh).

type freshRun struct {
	run   cdp.Run
	event *cdp.Event
	view  map[string]any // the event's, shared by the runs it started
}

const freshTTL = 10 * time.Second

// freshMax bounds the runs the cache holds. Each holds its event and the
// event's view (a kilobyte or two): a burst that starts runs faster than
// the runners take them (a hundred thousand journeys at once) would
// otherwise keep a hundred thousand events in memory for nothing, as
// those runs are read from the store anyway once the cache's time has
// passed. Ten thousand covers the runners' own backlog (their limit of
// runs at once, queued twice over).
const freshMax = 10_000

// Committed tells the engine about runs just committed with their events
// (the processor's OnRuns), so that their first advance need not read
// them back. Only runs just created are kept: a run woken from a wait may
// be advanced meanwhile from the store (its timeout falling due, the
// queue redelivering it), and a copy kept here would then be stale and
// repeat the steps that advance already took.
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
	e.freshOnce.Do(func() { e.fresh = cache.New[string, freshRun](freshMax, freshTTL) })
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
