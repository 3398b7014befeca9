package postgres

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// waits is the transaction's cdp.WaitStore, in the SQL both stores share;
// a claim skips the rows another node's claim holds.
func (t *tx) waits() relational.Waits {
	return relational.Waits{Exec: t.execN, Query: t.rows, Mark: relational.Dollar, Lock: "FOR UPDATE SKIP LOCKED"}
}

// execN runs a write in the transaction and returns the rows it changed.
func (t *tx) execN(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// rows runs a read in the transaction.
func (t *tx) rows(ctx context.Context, q string, args ...any) (relational.Rows, func(), error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

func (t *tx) InsertWait(ctx context.Context, w *cdp.Wait) error { return t.waits().InsertWait(ctx, w) }

func (t *tx) DeleteWait(ctx context.Context, runID, stepID string) (bool, error) {
	return t.waits().DeleteWait(ctx, runID, stepID)
}

func (t *tx) DeleteRunWaits(ctx context.Context, runID string) error {
	return t.waits().DeleteRunWaits(ctx, runID)
}

func (t *tx) ProfileWaits(ctx context.Context, profileIDs []string) ([]*cdp.Wait, error) {
	if len(profileIDs) == 0 {
		return nil, nil
	}
	return t.waits().AnyProfileWaits(ctx, profileIDs)
}

func (t *tx) ClaimDueWaits(ctx context.Context, now time.Time, limit int) ([]*cdp.Wait, error) {
	return t.waits().ClaimDueWaits(ctx, now, limit)
}

func (t *tx) ClaimFrequency(ctx context.Context, workflowID, profileID string, until *time.Time, now time.Time) (bool, error) {
	return t.waits().ClaimFrequency(ctx, workflowID, profileID, until, now)
}

func (t *tx) SetDebounce(ctx context.Context, workflowID, key, runID string) error {
	return t.waits().SetDebounce(ctx, workflowID, key, runID)
}

func (t *tx) ClaimLine(ctx context.Context, workflowID, key, runID string) (bool, error) {
	return t.waits().ClaimLine(ctx, workflowID, key, runID)
}

func (t *tx) ReleaseLine(ctx context.Context, workflowID, key, runID string) error {
	return t.waits().ReleaseLine(ctx, workflowID, key, runID)
}

func (t *tx) HasWaits(ctx context.Context) (bool, error) { return t.waits().HasWaits(ctx) }
