package ingest

import (
	"context"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Replay is a captured request decoded again (the management API's
// replay): it came in on Source and made the events Originals, in order.
// Its credentials or signature are not checked again — they were on
// arrival, and the capture masks them — and the events it makes are
// stamped as replays of the originals, with dedup keys of the original
// request, so that replaying it twice stores its events once (unless
// Force names a fresh round). Its events belong to the original's profile
// and session (ProfileID, SessionID), and do not run again the workflows
// the original ran unless Rerun asks for it.
type Replay struct {
	Source    *cdp.Source
	RequestID string
	Originals []string
	Force     string
	Rerun     bool
	ProfileID string
	SessionID string
}

// Replay appends what a captured request decodes to (its API's Decoder
// read it again, for r.Source) as replay r, and returns how many events it
// made.
func (s *Service) Replay(ctx context.Context, r *Replay, d Decoded) (int, error) {
	if d.Track != nil {
		req := *d.Track
		req.Source, req.replay = r.Source, r
		res, err := s.track(ctx, req)
		return len(res.EventIDs), err
	}
	if len(d.Events) == 0 {
		return 0, nil
	}
	if err := checkEvents(d.Events); err != nil {
		return 0, err
	}
	b := s.batch(r.Source, d.Events)
	if _, err := s.publish(ctx, b, r); err != nil {
		return 0, err
	}
	return len(b.Events), nil
}

// stamp marks a replayed batch's events: the original each replays (by
// order; the first for any beyond), the original request, and a dedup
// key per original request and position.
func (r *Replay) stamp(b *cdp.Batch) {
	for i, e := range b.Events {
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
