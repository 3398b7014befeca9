package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// Archive statements in PostgreSQL's placeholders.
var (
	claimArchiveSQL   = relational.Placeholders(relational.ClaimArchiveSQL, relational.Dollar)
	advanceArchiveSQL = relational.Placeholders(relational.AdvanceArchiveSQL, relational.Dollar)
)

// ScanEvents implements cdp.ArchiveStore, through the primary key (id
// first); the receipt-time bound, a day wider than the ids' (an id is
// made a moment before the receipt time is taken), lets PostgreSQL skip
// the other partitions.
func (s *Store) ScanEvents(ctx context.Context, from, to time.Time, after string, limit int) ([]*cdp.Event, error) {
	q := "SELECT " + eventColumns + " FROM events WHERE id >= $1 AND id < $2 AND received_at >= $3 AND received_at < $4"
	args := []any{cdp.MinIDAt(from), cdp.MinIDAt(to), from.Add(-24 * time.Hour).UnixNano(), to.Add(24 * time.Hour).UnixNano()}
	if after != "" {
		q += " AND id > $5"
		args = append(args, after)
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, q+" ORDER BY id LIMIT "+relational.Dollar(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("scan events: %w", err)
	}
	defer rows.Close()
	var out []*cdp.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("scan events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan events: %w", err)
	}
	return out, nil
}

// ClaimArchive implements cdp.ArchiveStore.
func (s *Store) ClaimArchive(ctx context.Context, name, node string, now, until time.Time) (time.Time, bool, error) {
	var next int64
	err := s.pool.QueryRow(ctx, claimArchiveSQL, name, node, until.UnixNano(), now.UnixNano()).Scan(&next)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("claim archive %s: %w", name, err)
	case next == 0:
		return time.Time{}, true, nil
	}
	return time.Unix(0, next).UTC(), true, nil
}

// AdvanceArchive implements cdp.ArchiveStore.
func (s *Store) AdvanceArchive(ctx context.Context, name, node string, from, next time.Time) error {
	var at int64
	if !from.IsZero() {
		at = from.UnixNano()
	}
	tag, err := s.pool.Exec(ctx, advanceArchiveSQL, next.UnixNano(), name, node, at)
	if err != nil {
		return fmt.Errorf("advance archive %s: %w", name, err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "archive %s moved on, or its lease passed to another node", name)
	}
	return nil
}
