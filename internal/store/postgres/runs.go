package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

func (t *tx) InsertRun(ctx context.Context, r *cdp.Run) (bool, error) {
	body, err := storebody.EncodeRun(r)
	if err != nil {
		return false, fmt.Errorf("encode run: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO runs (id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, waiting_on, backfill_id, order_key)
		VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		r.ID, r.WorkflowID, r.EventID, r.Status, toNanos(r.NextAt), r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano(), body,
		relational.NullText(r.WaitingOn), r.BackfillID, relational.NullText(r.OrderKey))
	if err != nil {
		return false, fmt.Errorf("insert run: %w", err)
	}
	if tag.RowsAffected() == 1 {
		r.Version = 1
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) UpdateRun(ctx context.Context, r *cdp.Run) error {
	body, err := storebody.EncodeRun(r)
	if err != nil {
		return fmt.Errorf("encode run: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE runs SET status = $1, version = version + 1, next_at = $2, updated_at = $3, body = $4, waiting_on = $5
		WHERE id = $6 AND version = $7`, r.Status, toNanos(r.NextAt), r.UpdatedAt.UnixNano(), body, relational.NullText(r.WaitingOn), r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update run: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "run %s changed concurrently or does not exist", r.ID)
	}
	r.Version++
	return nil
}

const runColumns = `seq, id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, waiting_on, backfill_id`

func scanRun(row pgx.Row) (*cdp.Run, int64, error) {
	r := &cdp.Run{}
	var seq, created, updated int64
	var next *int64
	var waiting *string
	var body []byte
	if err := row.Scan(&seq, &r.ID, &r.WorkflowID, &r.EventID, &r.Status, &r.Version, &next, &created, &updated, &body, &waiting, &r.BackfillID); err != nil {
		return nil, 0, err
	}
	if waiting != nil {
		r.WaitingOn = *waiting
	}
	if err := storebody.DecodeRun(body, r); err != nil {
		return nil, 0, fmt.Errorf("decode run %s: %w", r.ID, err)
	}
	r.NextAt = storebody.FromNanos(next)
	r.CreatedAt, r.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return r, seq, nil
}

func (t *tx) Run(ctx context.Context, id string) (*cdp.Run, error) {
	r, _, err := scanRun(t.tx.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "run %s not found", id)
	}
	return r, nil
}

// FindRunByID implements cdp.RunReader.
func (s *Store) FindRunByID(ctx context.Context, id string) (*cdp.Run, error) {
	r, _, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "run %s not found", id)
	}
	return r, nil
}

// FindRuns implements cdp.RunReader.
func (s *Store) FindRuns(ctx context.Context, f cdp.RunFilter) ([]*cdp.Run, string, error) {
	return relational.FindRuns(ctx, s.rows, relational.Dollar, runColumns, f, func(r relational.Rows) (*cdp.Run, int64, error) { return scanRun(r) })
}

// CountRuns implements cdp.RunReader.
func (s *Store) CountRuns(ctx context.Context, statuses ...string) (map[string]cdp.RunCount, error) {
	out := make(map[string]cdp.RunCount, len(statuses))
	for _, st := range statuses {
		var n int
		var oldest *int64
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM runs WHERE status = $1`, st).Scan(&n, &oldest); err != nil {
			return nil, fmt.Errorf("count runs: %w", err)
		}
		c := cdp.RunCount{Runs: n}
		if oldest != nil {
			c.Oldest = time.Unix(0, *oldest).UTC()
		}
		out[st] = c
	}
	return out, nil
}

// LeaseRun implements cdp.Tx. The conditional update is the whole
// decision: of two nodes leasing at once, the second waits for the
// first's row lock and then finds the lease taken.
func (t *tx) LeaseRun(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE runs SET lease_owner = $1, lease_until = $2
		WHERE id = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until <= $4)`, owner, until.UnixNano(), id, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("lease run: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpdateBackfill implements cdp.Tx: the job's progress, with the runs
// this transaction created.
func (t *tx) UpdateBackfill(ctx context.Context, b *cdp.Backfill) error {
	exec := func(ctx context.Context, q string, args ...any) (int64, error) {
		tag, err := t.tx.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}
	return relational.Records{Exec: exec, Mark: relational.Dollar}.UpdateBackfill(ctx, b)
}

// FirstInLine implements cdp.RunReader.
func (s *Store) FirstInLine(ctx context.Context, workflowID, key string) (string, error) {
	return relational.FirstInLine(ctx, s.rows, relational.Dollar, workflowID, key)
}

// DebouncedRun implements cdp.RunReader.
func (s *Store) DebouncedRun(ctx context.Context, workflowID, key string) (string, error) {
	return relational.DebouncedRun(ctx, s.rows, relational.Dollar, workflowID, key)
}

// CountWaits implements cdp.RunReader.
func (s *Store) CountWaits(ctx context.Context) ([]cdp.WaitCount, error) {
	return relational.CountWaits(ctx, s.rows)
}
