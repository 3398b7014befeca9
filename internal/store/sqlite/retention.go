package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// retentionBatch is how many events one transaction of Maintain deletes,
// so that ingest's writes wait behind it for milliseconds, not seconds.
const retentionBatch = 2000

// Maintain deletes the events received before now minus the retention,
// oldest first (PostgreSQL's Maintain drops whole days instead). A deleted
// event's client message id can be sent again and is stored as new: the
// dedup window is the retention.
func (s *Store) Maintain(ctx context.Context, now time.Time) error {
	if s.opts.Retention <= 0 {
		return nil
	}
	before := now.Add(-s.opts.Retention).UnixNano()
	for ctx.Err() == nil {
		var n int64
		err := s.Update(ctx, func(t cdp.Tx) error {
			// Events are stored in about the order received: the oldest are
			// found by rowid, at most a batch examined per transaction.
			res, err := t.(*tx).exec(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM
				(SELECT seq, received_at FROM events ORDER BY seq LIMIT ?2) WHERE received_at < ?1)`, before, retentionBatch)
			if err != nil {
				return fmt.Errorf("delete events past the retention: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		if n < retentionBatch {
			return nil
		}
	}
	return ctx.Err()
}
