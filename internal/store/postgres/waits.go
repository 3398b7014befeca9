package postgres

import (
	"context"

	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// waits is the transaction's cdp.WaitStore and cdp.FrequencyStore, in the
// SQL both stores share; a claim skips the rows another node's claim
// holds.
func (t *tx) waits() relational.Waits {
	return relational.Waits{Exec: t.execN, Query: t.rows, Mark: relational.Dollar, Lock: "FOR UPDATE SKIP LOCKED", List: true}
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
