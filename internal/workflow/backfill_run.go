package workflow

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Run walks the running jobs until ctx is done: those it finds every few
// seconds, and at once a job Start made here.
func (b *Backfills) Run(ctx context.Context) {
	wake := b.wakeup()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		jobs, _, err := b.Store.FindBackfills(ctx, cdp.BackfillFilter{Status: cdp.BackfillRunning, Limit: 100})
		if err != nil && ctx.Err() == nil {
			b.Log.Warn("find backfills", "err", err)
		}
		for _, job := range jobs {
			if err := b.walk(ctx, job); err != nil && ctx.Err() == nil {
				b.Log.Warn("backfill", "backfill", job.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// walk advances a job page by page while this node holds its lease, until
// it is done, cancelled, or ctx ends.
func (b *Backfills) walk(ctx context.Context, job *cdp.Backfill) error {
	sel, err := b.selection(job.WorkflowID, BackfillRequest{Since: job.Since, Until: job.Until, Filter: job.Filter, Limit: job.Limit,
		FromArchive: job.FromArchive})
	if err != nil {
		return b.finish(ctx, job, cdp.BackfillFailed, err.Error())
	}
	if sel.wf.Version != job.WorkflowVersion {
		// Runs of the job's version: the registry resolves old versions.
		if old, err := b.Registry.Workflow(ctx, job.WorkflowID, job.WorkflowVersion); err == nil {
			sel.wf = old
		}
	}
	f := sel.eventFilter(job.Since)
	f.Limit = min(max(int(b.rate()), 1), backfillPage) // a page is about a second's runs
	for ctx.Err() == nil {
		if !b.lease(ctx, job) {
			return nil // another node walks it, or it was cancelled
		}
		f.Cursor = job.Cursor
		page, next, err := b.events(ctx, sel, f)
		if err != nil {
			return err
		}
		runs, done, err := b.page(ctx, job, sel, page, next)
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			if err := Enqueue(ctx, b.Queue, runs); err != nil {
				b.Log.Warn("enqueue backfill runs (the sweeper queues them)", "backfill", job.ID, "err", err)
			}
		}
		if done {
			return nil
		}
		// The rate: a page's runs take their share of a second.
		pause := time.Duration(float64(len(runs)) / b.rate() * float64(time.Second))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
	return nil
}

// page creates the runs of one page of events and records the job's
// progress with them, in one transaction; it reports the runs and whether
// the job is done.
func (b *Backfills) page(ctx context.Context, job *cdp.Backfill, sel *selection, page []*cdp.Event, next string) ([]*cdp.Run, bool, error) {
	now := b.now().UTC()
	var runs []*cdp.Run
	done := false
	err := b.Store.Update(ctx, func(tx cdp.Tx) error {
		runs, done = nil, false
		p := *job
		for _, e := range page {
			if p.Limit > 0 && p.RunsCreated >= p.Limit {
				done = true
				break
			}
			ok, past := sel.takes(ctx, b.Store, e, now)
			if past {
				done = true
				break
			}
			if !ok {
				continue
			}
			if !p.IncludeRan {
				if ran, err := hasRun(ctx, b.Store, p.WorkflowID, e.ID); err != nil {
					return err
				} else if ran {
					p.Skipped++
					continue
				}
			}
			p.Processed++ // of the selected: those that had not run
			r := &cdp.Run{ID: cdp.NewID(), WorkflowID: p.WorkflowID, WorkflowVersion: p.WorkflowVersion, EventID: e.ID,
				Status: cdp.RunPending, BackfillID: p.ID, CreatedAt: now, UpdatedAt: now}
			if p.FromArchive {
				r.Event = e // the store may no longer have it
			}
			created, err := tx.InsertRun(ctx, r)
			if err != nil {
				return err
			}
			if created {
				if err := b.Registry.Started(ctx, tx, r, e); err != nil {
					return err
				}
				p.RunsCreated++
				runs = append(runs, r)
			}
		}
		if len(page) == 0 {
			done = true // every event stored before the job began is walked
		} else {
			p.Cursor = next
		}
		if p.Limit > 0 && p.RunsCreated >= p.Limit {
			done = true
		}
		p.UpdatedAt = now
		if done {
			p.Status, p.FinishedAt = cdp.BackfillDone, &now
		}
		if err := tx.UpdateBackfill(ctx, &p); err != nil {
			return err
		}
		*job = p
		return nil
	})
	return runs, done, err
}

// lease takes or renews the job for this node, unless another node holds
// it or it is no longer running (cancelled meanwhile).
func (b *Backfills) lease(ctx context.Context, job *cdp.Backfill) bool {
	now := b.now()
	if job.Owner != "" && job.Owner != b.Node && now.Before(job.LeaseUntil) {
		return false
	}
	if job.Owner == b.Node && now.Add(backfillLease/2).Before(job.LeaseUntil) {
		return b.stillRunning(ctx, job)
	}
	p := *job
	p.Owner, p.LeaseUntil, p.UpdatedAt = b.Node, now.Add(backfillLease), now.UTC()
	if err := b.Store.UpdateBackfill(ctx, &p); err != nil {
		return false // another node, or a cancel, came first
	}
	*job = p
	return true
}

// stillRunning re-reads the job: a cancel made elsewhere stops the walk.
func (b *Backfills) stillRunning(ctx context.Context, job *cdp.Backfill) bool {
	cur, err := b.Find(ctx, job.ID)
	if err != nil || cur.Status != cdp.BackfillRunning {
		return false
	}
	*job = *cur
	return true
}

// finish ends a job that cannot go on.
func (b *Backfills) finish(ctx context.Context, job *cdp.Backfill, status, reason string) error {
	now := b.now().UTC()
	job.Status, job.Error, job.UpdatedAt, job.FinishedAt = status, reason, now, &now
	return b.Store.UpdateBackfill(ctx, job)
}
