package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

func nanosOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func (t *tx) InsertRun(ctx context.Context, r *cdp.Run) (bool, error) {
	body, err := storebody.EncodeRun(r)
	if err != nil {
		return false, fmt.Errorf("encode run: %w", err)
	}
	res, err := t.exec(ctx, `INSERT INTO runs (id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, waiting_on, backfill_id, order_key)
		VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.ID, r.WorkflowID, r.EventID, r.Status, nanosOrNil(r.NextAt), r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano(), body,
		relational.NullText(r.WaitingOn), r.BackfillID, relational.NullText(r.OrderKey))
	if err != nil {
		return false, fmt.Errorf("insert run: %w", err)
	}
	n, err := res.RowsAffected()
	if n == 1 {
		r.Version = 1
	}
	return n == 1, err
}

func (t *tx) UpdateRun(ctx context.Context, r *cdp.Run) error {
	body, err := storebody.EncodeRun(r)
	if err != nil {
		return fmt.Errorf("encode run: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE runs SET status = ?, version = version + 1, next_at = ?, updated_at = ?, body = ?, waiting_on = ?
		WHERE id = ? AND version = ?`, r.Status, nanosOrNil(r.NextAt), r.UpdatedAt.UnixNano(), body, relational.NullText(r.WaitingOn), r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update run: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "run %s changed concurrently or does not exist", r.ID)
	}
	r.Version++
	return nil
}

const runColumns = `seq, id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, waiting_on, backfill_id`

func scanRun(row interface{ Scan(...any) error }) (*cdp.Run, int64, error) {
	r := &cdp.Run{}
	var seq, created, updated int64
	var next sql.NullInt64
	var waiting sql.NullString
	var body []byte
	if err := row.Scan(&seq, &r.ID, &r.WorkflowID, &r.EventID, &r.Status, &r.Version, &next, &created, &updated, &body, &waiting, &r.BackfillID); err != nil {
		return nil, 0, err
	}
	r.WaitingOn = waiting.String
	if err := storebody.DecodeRun(body, r); err != nil {
		return nil, 0, fmt.Errorf("decode run %s: %w", r.ID, err)
	}
	r.NextAt = fromNanos(next)
	r.CreatedAt, r.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return r, seq, nil
}

func (t *tx) Run(ctx context.Context, id string) (*cdp.Run, error) {
	r, _, err := scanRun(t.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "run %s not found", id)
	}
	return r, err
}

// FindRunByID implements cdp.RunReader.
func (s *Store) FindRunByID(ctx context.Context, id string) (*cdp.Run, error) {
	r, _, err := scanRun(s.readRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "run %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	return r, nil
}

// FindRuns implements cdp.RunReader.
func (s *Store) FindRuns(ctx context.Context, f cdp.RunFilter) ([]*cdp.Run, string, error) {
	return relational.FindRuns(ctx, s.rows, relational.Question, runColumns, f, func(r relational.Rows) (*cdp.Run, int64, error) { return scanRun(r) })
}

// CountRuns implements cdp.RunReader.
func (s *Store) CountRuns(ctx context.Context, statuses ...string) (map[string]cdp.RunCount, error) {
	out := make(map[string]cdp.RunCount, len(statuses))
	for _, st := range statuses {
		var n int
		var oldest sql.NullInt64
		if err := s.readRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM runs WHERE status = ?`, st).Scan(&n, &oldest); err != nil {
			return nil, fmt.Errorf("count runs: %w", err)
		}
		c := cdp.RunCount{Runs: n}
		if oldest.Valid {
			c.Oldest = time.Unix(0, oldest.Int64).UTC()
		}
		out[st] = c
	}
	return out, nil
}

// LeaseRun implements cdp.Tx.
func (t *tx) LeaseRun(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	return leaseResult(t.exec(ctx, `UPDATE runs SET lease_owner = ?1, lease_until = ?2
		WHERE id = ?3 AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until <= ?4)`, owner, until.UnixNano(), id, now.UnixNano()))
}

func leaseResult(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("lease run: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateBackfill implements cdp.Tx: the job's progress, with the runs
// this transaction created.
func (t *tx) UpdateBackfill(ctx context.Context, b *cdp.Backfill) error {
	exec := func(ctx context.Context, q string, args ...any) (int64, error) {
		res, err := t.exec(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	return relational.Records{Exec: exec, Mark: relational.Question}.UpdateBackfill(ctx, b)
}

// FirstInLine implements cdp.RunReader.
func (s *Store) FirstInLine(ctx context.Context, workflowID, key string) (string, error) {
	return relational.FirstInLine(ctx, s.rows, relational.Question, workflowID, key)
}

// DebouncedRun implements cdp.RunReader.
func (s *Store) DebouncedRun(ctx context.Context, workflowID, key string) (string, error) {
	return relational.DebouncedRun(ctx, s.rows, relational.Question, workflowID, key)
}

// CountWaits implements cdp.RunReader.
func (s *Store) CountWaits(ctx context.Context) ([]cdp.WaitCount, error) {
	return relational.CountWaits(ctx, s.rows)
}
