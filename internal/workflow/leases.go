package workflow

import (
	"cmp"
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Leases for several nodes sharing a run queue: a run is advanced only by
// the node that holds its lease.

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
