package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// ScanEvents implements cdp.ArchiveStore, through the id index.
func (s *Store) ScanEvents(ctx context.Context, from, to time.Time, after string, limit int) ([]*cdp.Event, error) {
	q := "SELECT seq, " + eventColumns + " FROM events WHERE id >= ? AND id < ?"
	args := []any{packID(cdp.MinIDAt(from)), packID(cdp.MinIDAt(to))}
	if after != "" {
		q += " AND id > ?"
		args = append(args, packID(after))
	}
	rows, err := s.read(ctx, q+" ORDER BY id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("scan events: %w", err)
	}
	defer rows.Close()
	var out []*cdp.Event
	for rows.Next() {
		var seq int64
		e, err := scanEvent(rows, &seq)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan events: %w", err)
	}
	return out, nil
}

// FindRawRequests implements cdp.ArchiveStore, a lookup at a time: the
// database is in this process, a lookup costs microseconds.
func (s *Store) FindRawRequests(ctx context.Context, ids []string) (map[string]*cdp.RawRequest, error) {
	out := make(map[string]*cdp.RawRequest, len(ids))
	for _, id := range ids {
		r, err := s.FindRawRequest(ctx, id)
		switch {
		case cdp.ErrorCode(err) == cdp.ENOTFOUND:
			continue
		case err != nil:
			return nil, err
		}
		out[id] = r
	}
	return out, nil
}

// ClaimArchive implements cdp.ArchiveStore.
func (s *Store) ClaimArchive(ctx context.Context, name, node string, now, until time.Time) (time.Time, bool, error) {
	var next int64
	held := false
	err := s.Update(ctx, func(cdp.Tx) error {
		err := s.wconn.QueryRowContext(ctx, relational.ClaimArchiveSQL, name, node, until.UnixNano(), now.UnixNano()).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			held = true
			return nil
		}
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("claim archive %s: %w", name, err)
	}
	if held || next == 0 {
		return time.Time{}, !held, nil
	}
	return time.Unix(0, next).UTC(), true, nil
}

// AdvanceArchive implements cdp.ArchiveStore.
func (s *Store) AdvanceArchive(ctx context.Context, name, node string, from, next time.Time) error {
	return s.Update(ctx, func(cdp.Tx) error {
		res, err := s.wconn.ExecContext(ctx, relational.AdvanceArchiveSQL, next.UnixNano(), name, node, unixNano(from))
		if err != nil {
			return fmt.Errorf("advance archive %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return cdp.Errorf(cdp.ECONFLICT, "archive %s moved on, or its lease passed to another node", name)
		}
		return nil
	})
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
