package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// CountEvents implements cdp.Tx.
func (t *tx) CountEvents(ctx context.Context, counts []cdp.MinuteCount) error {
	for _, c := range counts {
		if _, err := t.exec(ctx, `INSERT INTO event_minutes (minute, source_id, events) VALUES (?, ?, ?)
			ON CONFLICT (minute, source_id) DO UPDATE SET events = events + excluded.events`,
			c.Minute.Unix()/60, c.SourceID, c.Events); err != nil {
			return fmt.Errorf("count events: %w", err)
		}
	}
	return nil
}

// DeleteEventCountsBefore implements cdp.Tx.
func (t *tx) DeleteEventCountsBefore(ctx context.Context, before time.Time) error {
	if _, err := t.exec(ctx, `DELETE FROM event_minutes WHERE minute < ?`, before.Unix()/60); err != nil {
		return fmt.Errorf("delete event counts: %w", err)
	}
	return nil
}

// EventsPerMinute implements cdp.EventReader.
func (s *Store) EventsPerMinute(ctx context.Context, since time.Time) ([]cdp.MinuteCount, error) {
	return relational.All(ctx, s.rows, "events per minute", relational.MinuteCount,
		`SELECT minute, source_id, events FROM event_minutes WHERE minute >= ? ORDER BY minute, source_id`, since.Unix()/60)
}
