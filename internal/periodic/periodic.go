// Package periodic runs background chores on a fixed interval.
package periodic

import (
	"context"
	"time"
)

// Run calls fn every interval until ctx is done; it returns then. The first
// call comes one interval after the start.
func Run(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
