package ingest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Replay marks a captured request fed back through its ingest route (the
// management API's replay): it came in on Source and made the events
// Originals, in order. An API serving a replay does not check the
// request's credentials or signature — they were checked on arrival, and
// the capture masks them — and the events it makes are stamped as
// replays of the originals, with dedup keys of the original request, so
// that replaying it twice stores its events once (unless Force names a
// fresh round). Its events belong to the original's profile and session
// (ProfileID, SessionID), and do not run again the workflows the original
// ran unless Rerun asks for it.
type Replay struct {
	Source    *cdp.Source
	RequestID string
	Originals []string
	Force     string
	Rerun     bool
	ProfileID string
	SessionID string
	next      atomic.Int64 // events made so far, across the request's appends
}

type replayKey struct{}

// WithReplay marks ctx's request as replay r. Only the management API sets
// it; nothing that arrives from the network can.
func WithReplay(ctx context.Context, r *Replay) context.Context {
	return context.WithValue(ctx, replayKey{}, r)
}

// ReplayFrom returns the replay ctx's request is, or nil.
func ReplayFrom(ctx context.Context) *Replay {
	r, _ := ctx.Value(replayKey{}).(*Replay)
	return r
}

// Made counts the events the replay made.
func (r *Replay) Made() int { return int(r.next.Load()) }

// stamp marks a replayed batch's events: the original each replays (by
// order; the first for any beyond), the original request, and a dedup
// key per original request and position.
func (r *Replay) stamp(b *cdp.Batch) {
	for _, e := range b.Events {
		i := int(r.next.Add(1)) - 1
		if len(r.Originals) > 0 {
			e.ReplayOf = r.Originals[min(i, len(r.Originals)-1)]
		}
		e.RequestID, e.Rerun = r.RequestID, r.Rerun
		e.MessageID = fmt.Sprintf("replay:%s:%d", r.RequestID, i)
		if r.Force != "" {
			e.MessageID += ":" + r.Force
		}
	}
}

// Replayed returns the source of ctx's request when it is a replay to a
// source of kind: the API then skips the credentials and the source's
// rate limit.
func Replayed(ctx context.Context, kind string) (*cdp.Source, bool) {
	if r := ReplayFrom(ctx); r != nil && r.Source != nil && r.Source.Kind == kind {
		return r.Source, true
	}
	return nil, false
}
