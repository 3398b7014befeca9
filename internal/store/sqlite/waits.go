package sqlite

import (
	"context"

	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// waits is the transaction's cdp.WaitStore and cdp.FrequencyStore, in the
// SQL both stores share.
func (t *tx) waits() relational.Waits {
	return relational.Waits{Exec: t.execN, Query: t.rows, Mark: relational.Question}
}

// execN runs a write in the transaction and returns the rows it changed.
func (t *tx) execN(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// rows runs a read in the transaction.
func (t *tx) rows(ctx context.Context, q string, args ...any) (relational.Rows, func(), error) {
	ctx = context.WithoutCancel(ctx) // as exec
	st, err := t.s.stmt(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close() }, nil
}
