package app

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// startChores starts the background upkeep: queueing runs a crash left
// pending, the gauges, reloading sources and workflows other nodes
// changed, and the store's retention.
func (a *App) startChores(ctx context.Context) {
	log := a.Log
	a.work.Go(func() {
		// At start every pending run is queued (the data dir is ours alone),
		// then every 30 s those pending for over 30 s.
		if _, err := workflow.Sweep(ctx, a.Store, a.Runs, 0, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("sweep pending runs", "err", err)
		}
		periodic.Run(ctx, 30*time.Second, func(ctx context.Context) {
			if n, err := workflow.Sweep(ctx, a.Store, a.Runs, 30*time.Second, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("sweep pending runs", "err", err)
			} else if n > 0 {
				log.Info("queued pending runs again", "runs", n)
			}
		})
	})
	// The gauges count rows (a million waiting runs, say): at most 2 % of
	// the time goes to them, every 2 s while that is cheap.
	a.work.Go(func() { periodic.Paced(ctx, 2*time.Second, 0.02, a.gauges) })
	a.work.Go(func() { a.Sources.Run(ctx, 10*time.Second, log) })
	a.work.Go(func() { a.Workflows.Run(ctx, 10*time.Second) })
	a.work.Go(func() { a.Resources.Run(ctx, 10*time.Second) })
	if rc := a.Config.RawCapture; rc.Enabled {
		a.work.Go(func() {
			periodic.Run(ctx, time.Minute, func(ctx context.Context) { a.purgeRawRequests(ctx, rc.RetentionDuration()) })
		})
	}
	a.work.Go(func() {
		maintain := func(ctx context.Context) {
			if err := a.maintain(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("maintain the store", "err", err)
			}
		}
		maintain(ctx)
		periodic.Run(ctx, time.Hour, maintain)
	})
	a.work.Go(func() {
		keep := a.Config.Admin.AuditRetentionDuration()
		periodic.Run(ctx, time.Hour, func(ctx context.Context) { a.purgeAudit(ctx, time.Now().Add(-keep)) })
	})
	a.work.Go(func() {
		periodic.Run(ctx, time.Hour, func(ctx context.Context) {
			// The console shows the last hour; a week of counts is kept.
			err := a.Store.Update(ctx, func(tx cdp.Tx) error { return tx.DeleteEventCountsBefore(ctx, time.Now().Add(-7*24*time.Hour)) })
			if err != nil && ctx.Err() == nil {
				log.Warn("purge event counts", "err", err)
			}
		})
	})
}

// gauges sets the run queue, run and node gauges.
func (a *App) gauges(ctx context.Context) {
	if b, err := a.Runs.Backlog(ctx, workflow.Group); err == nil {
		a.Metrics.RunQueue.Set(float64(b.Messages))
	}
	a.runGauges(ctx)
	a.destinationGauges(ctx)
	nodes := 1
	if a.members != nil {
		nodes = a.members.Count()
	}
	a.Metrics.Nodes.Set(float64(nodes))
}

// runGauges sets the run gauges: runs by status (failed ones are the
// dead letter) and the age of the oldest run not started yet.
func (a *App) runGauges(ctx context.Context) {
	counts, err := a.Store.CountRuns(ctx, cdp.RunPending, cdp.RunRunning, cdp.RunWaiting, cdp.RunFailed)
	if err != nil {
		return
	}
	for status, c := range counts {
		a.Metrics.RunsByStatus.WithLabelValues(status).Set(float64(c.Runs))
	}
	age := 0.0
	if c := counts[cdp.RunPending]; c.Runs > 0 {
		age = max(time.Since(c.Oldest).Seconds(), 0)
	}
	a.Metrics.OldestPending.Set(age)
	if waits, err := a.Store.CountWaits(ctx); err == nil {
		a.Metrics.RunsWaiting.Reset()
		for _, c := range waits {
			a.Metrics.RunsWaiting.WithLabelValues(c.WorkflowID, workflow.StepName(c.StepID)).Add(float64(c.Runs))
		}
	}
}

// destinationGauges sets each destination's breaker state and the runs
// waiting on it.
func (a *App) destinationGauges(ctx context.Context) {
	waiting, err := a.Store.CountWaitingOn(ctx)
	if err != nil {
		return
	}
	for _, d := range a.Workflows.Destinations() {
		state := a.Breakers.Status(d.ID).State
		for _, s := range []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen, breaker.Paused} {
			v := 0.0
			if s == state {
				v = 1
			}
			a.Metrics.DestinationState.WithLabelValues(d.ID, string(s)).Set(v)
		}
		a.Metrics.DestinationWaiting.WithLabelValues(d.ID).Set(float64(waiting[d.ID]))
	}
}

// purgeRawRequests deletes the raw requests older than retention, a few
// thousand per transaction so that ingest's writes are never held up long.
func (a *App) purgeRawRequests(ctx context.Context, retention time.Duration) {
	before := time.Now().Add(-retention)
	for ctx.Err() == nil {
		var n int64
		err := a.Store.Update(ctx, func(tx cdp.Tx) (err error) {
			n, err = tx.DeleteRawRequestsBefore(ctx, before, 2000)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("purge raw requests", "err", err)
			}
			return
		}
		if n < 2000 {
			return
		}
	}
}

// purgeAudit deletes the audit entries older than before, a batch at a
// time.
func (a *App) purgeAudit(ctx context.Context, before time.Time) {
	for ctx.Err() == nil {
		n, err := a.Store.DeleteAuditBefore(ctx, before, 1000)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("purge the audit trail", "err", err)
			}
			return
		}
		if n < 1000 {
			return
		}
	}
}
