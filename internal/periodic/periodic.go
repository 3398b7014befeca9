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

// Paced is Run for a chore whose cost grows with the data it looks at,
// such as counting the runs that wait: after each call it waits interval
// or share's inverse times as long as the call took, whichever is longer,
// so the chore never takes more than share of the time (a count over a
// million rows that takes half a second runs every 25 s at a share of
// 2 %, not every 2 s), and small data keeps the interval.
func Paced(ctx context.Context, interval time.Duration, share float64, fn func(context.Context)) {
	wait := interval
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		fn(ctx)
		wait = max(interval, time.Duration(float64(time.Since(start))/share))
	}
}
