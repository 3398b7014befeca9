package workflow

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
)

// Backfills run workflows over stored events. A job walks the events
// oldest first from a cursor stored with the runs it creates (one
// transaction per page), so a restart or kill -9 resumes it without a run
// created twice; it creates runs at a bounded rate, so the runners keep
// serving the runs of arriving events; one node walks a job at a time,
// under a lease.
type Backfills struct {
	Store    cdp.Store
	Registry *Registry
	Queue    cdp.RunQueue
	// Rate caps the runs a job creates per second (DefaultBackfillRate).
	Rate float64
	Node string // this node's name, for the lease ("" alone)
	Now  func() time.Time
	Log  *slog.Logger
	// Archive, if set, reads archived events for jobs FromArchive.
	Archive ArchivedEvents
	wake    chan struct{} // a job was started here: walk it now
	once    sync.Once
}

// Backfill defaults.
const (
	DefaultBackfillRate = 50
	backfillPage        = 100
	backfillLease       = 30 * time.Second
	maxBackfillLimit    = 10_000_000
)

// BackfillRequest is what POST /admin/v1/workflows/{id}/backfills asks.
type BackfillRequest struct {
	Since      time.Time
	Until      *time.Time
	Filter     string // CEL over event
	Limit      int
	IncludeRan bool
	// FromArchive reads the events from the archive (Backfills.Archive).
	FromArchive bool
}

// ArchivedEvents reads events back from the archive (archive.Reader): up
// to limit of source ("" for all) received in [since, until), after
// cursor, and the cursor after them ("" when nothing was left).
type ArchivedEvents interface {
	Events(ctx context.Context, since, until time.Time, source, cursor string, limit int) ([]*cdp.Event, string, error)
}

// backfillEnv declares what a backfill filter sees: the stored event.
var backfillEnv = expr.MustEnv(expr.Var{Name: "event", Type: expr.Object})

// selection is what a job takes: the workflow's trigger and the filter.
type selection struct {
	wf          *Compiled
	filter      *expr.Program
	since       time.Time
	until       *time.Time
	fromArchive bool
}

func (b *Backfills) selection(wfID string, req BackfillRequest) (*selection, error) {
	wf, ok := b.Registry.Get(wfID)
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", wfID)
	}
	sel := &selection{wf: wf, until: req.Until}
	if req.Filter != "" {
		var err error
		if sel.filter, err = backfillEnv.Compile(req.Filter, expr.Bool); err != nil {
			return nil, cdp.Errorf(cdp.EINVALID, "filter: %v", err)
		}
	}
	if req.Since.IsZero() {
		return nil, cdp.Errorf(cdp.EINVALID, "since is required")
	}
	if req.Limit < 0 || req.Limit > maxBackfillLimit {
		return nil, cdp.Errorf(cdp.EINVALID, "limit must be 0 (none) to %d", maxBackfillLimit)
	}
	if req.FromArchive && b.Archive == nil {
		return nil, cdp.Errorf(cdp.EINVALID, "from_archive: this server has no archive configured")
	}
	sel.fromArchive, sel.since = req.FromArchive, req.Since
	return sel, nil
}

// events reads a page of what the job walks: stored events, or archived
// ones (where a cursor is the archive's).
func (b *Backfills) events(ctx context.Context, sel *selection, f cdp.EventFilter) ([]*cdp.Event, string, error) {
	if !sel.fromArchive {
		return b.Store.FindEvents(ctx, f)
	}
	until := b.now()
	if sel.until != nil {
		until = *sel.until
	}
	return b.Archive.Events(ctx, sel.since, until, f.SourceID, f.Cursor, f.Limit)
}

// filter lists the events a walk reads: the trigger's one source, if it
// names one, from since on.
func (sel *selection) eventFilter(since time.Time) cdp.EventFilter {
	f := cdp.EventFilter{Since: since, Oldest: true, Limit: backfillPage}
	if sources := sel.wf.sources; len(sources) == 1 {
		f.SourceID = sources[0]
	}
	return f
}

// takes reports whether the job takes e: within until, selected by the
// trigger (its condition with the event's profile as it is now) and the
// filter. past reports that e is beyond until, which ends the walk.
func (sel *selection) takes(ctx context.Context, store cdp.ProfileReader, e *cdp.Event, now time.Time) (ok, past bool) {
	if sel.until != nil && !e.ReceivedAt.Before(*sel.until) {
		return false, true
	}
	if e.Error != "" { // a poison event starts nothing
		return false, false
	}
	var vars map[string]any
	ok, err := sel.wf.triggers(ctx, e, now, &vars, func(id string) (*cdp.Profile, error) { return store.FindProfileByID(ctx, id) })
	if !ok || err != nil {
		return false, false
	}
	if sel.filter != nil {
		view, _ := vars["event"].(map[string]any) // made when the trigger has a condition
		if view == nil {
			view = e.View()
		}
		if ok, err := sel.filter.EvalBool(ctx, map[string]any{"event": view}); err != nil || !ok {
			return false, false
		}
	}
	return true, false
}

// DryRun counts the events a backfill would run, with the first five: the
// ones it selects, less those that already ran the workflow unless
// req.IncludeRan, up to req.Limit; the job then runs exactly these
// (events arriving meanwhile start their own runs).
func (b *Backfills) DryRun(ctx context.Context, wfID string, req BackfillRequest) (int, []*cdp.Event, error) {
	sel, err := b.selection(wfID, req)
	if err != nil {
		return 0, nil, err
	}
	n, sample := 0, []*cdp.Event{}
	f := sel.eventFilter(req.Since)
	f.Limit = 1000
	for {
		page, next, err := b.events(ctx, sel, f)
		if err != nil {
			return 0, nil, err
		}
		for _, e := range page {
			ok, past := sel.takes(ctx, b.Store, e, b.now())
			if past || (req.Limit > 0 && n == req.Limit) {
				return n, sample, nil
			}
			if ok && !req.IncludeRan {
				ran, err := hasRun(ctx, b.Store, sel.wf.ID, e.ID)
				if err != nil {
					return 0, nil, err
				}
				ok = !ran
			}
			if ok {
				n++
				if len(sample) < 5 {
					sample = append(sample, e)
				}
			}
		}
		if len(page) == 0 { // a walk's cursor goes on past its last page
			return n, sample, nil
		}
		f.Cursor = next
	}
}

// Start counts what a backfill takes and records it as a running job,
// which a node's Run loop then walks.
func (b *Backfills) Start(ctx context.Context, wfID string, req BackfillRequest) (*cdp.Backfill, error) {
	now := b.now().UTC()
	if req.Until == nil {
		req.Until = &now // what arrives from now on starts its runs itself
	}
	n, _, err := b.DryRun(ctx, wfID, req)
	if err != nil {
		return nil, err
	}
	wf, _ := b.Registry.Get(wfID)
	job := &cdp.Backfill{ID: cdp.NewID(), WorkflowID: wf.ID, WorkflowVersion: wf.Version, Status: cdp.BackfillRunning,
		Since: req.Since.UTC(), Until: req.Until, Filter: req.Filter, Limit: req.Limit, IncludeRan: req.IncludeRan,
		FromArchive: req.FromArchive, Selected: n, CreatedAt: now, UpdatedAt: now}
	if err := b.Store.InsertBackfill(ctx, job); err != nil {
		return nil, err
	}
	b.poke()
	return job, nil
}

// Cancel stops a running job; its runs created so far go on.
func (b *Backfills) Cancel(ctx context.Context, id string) (*cdp.Backfill, error) {
	for range 5 {
		job, err := b.Find(ctx, id)
		if err != nil || job.Status != cdp.BackfillRunning {
			return job, err
		}
		now := b.now().UTC()
		job.Status, job.UpdatedAt, job.FinishedAt = cdp.BackfillCancelled, now, &now
		if err := b.Store.UpdateBackfill(ctx, job); cdp.ErrorCode(err) != cdp.ECONFLICT {
			return job, err
		}
	}
	return nil, cdp.Errorf(cdp.EUNAVAILABLE, "backfill %s keeps changing; try again", id)
}

// Find returns job id.
func (b *Backfills) Find(ctx context.Context, id string) (*cdp.Backfill, error) {
	list, _, err := b.Store.FindBackfills(ctx, cdp.BackfillFilter{ID: id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "backfill %s not found", id)
	}
	return list[0], nil
}

// ETA estimates the time a running job needs still, at the rate.
func (b *Backfills) ETA(job *cdp.Backfill) time.Duration {
	if job.Status != cdp.BackfillRunning {
		return 0
	}
	left := max(job.Selected-job.Processed, 0)
	return time.Duration(float64(left) / b.rate() * float64(time.Second)).Round(time.Second)
}

func (b *Backfills) rate() float64 { return cmp.Or(b.Rate, DefaultBackfillRate) }

func (b *Backfills) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

// poke wakes the Run loop for a new job.
func (b *Backfills) poke() {
	select {
	case b.wakeup() <- struct{}{}:
	default:
	}
}

func (b *Backfills) wakeup() chan struct{} {
	b.once.Do(func() { b.wake = make(chan struct{}, 1) })
	return b.wake
}
