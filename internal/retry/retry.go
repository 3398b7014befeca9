// Package retry retries work through an outage of the store or the event
// log: a call that fails with cdp.EUNAVAILABLE is tried again, with a
// pause that doubles, for a bounded time.
package retry

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Backoff paces the retries of WhileUnavailable: the pause doubles from
// First up to Max, and no retry starts after Within.
type Backoff struct {
	First, Max, Within time.Duration
}

// WhileUnavailable calls fn until it succeeds or fails with anything but
// cdp.EUNAVAILABLE (a store or event log that cannot be reached for now),
// ctx is done, or b's time is up; it returns fn's last error. notify, if
// set, hears each unavailable failure with the pause that follows it.
func WhileUnavailable(ctx context.Context, b Backoff, fn func() error, notify func(err error, pause time.Duration)) error {
	deadline := time.Now().Add(b.Within)
	for pause := b.First; ; pause = min(2*pause, b.Max) {
		err := fn()
		if cdp.ErrorCode(err) != cdp.EUNAVAILABLE || time.Now().Add(pause).After(deadline) {
			return err
		}
		if notify != nil {
			notify(err, pause)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
