package relational

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Exec runs a write in one store's driver and returns the rows it changed.
type Exec func(ctx context.Context, sql string, args ...any) (int64, error)

// Records are what the management API tracks over time (alerts,
// backfills), kept alike in both stores: each as JSON beside the columns
// it is found by (id, a key, a state), updated at its version. The alerts
// table also holds at most one firing alert per key (a unique index), so
// that two nodes cannot both announce one condition.
const recordColumns = `seq, id, version, body`

// record is one row to write.
type record struct {
	table, id, key, state string
	started, updated      time.Time
	body                  any
}

// insertRecord writes a new record unless a unique index refuses it.
func insertRecord(ctx context.Context, exec Exec, mark func(int) string, r record) (bool, error) {
	body, err := json.Marshal(r.body)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", r.table, err)
	}
	n, err := exec(ctx, render(`INSERT INTO `+r.table+` (id, key, state, version, started_at, updated_at, body)
		VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT DO NOTHING`, mark), r.id, r.key, r.state, r.started.UnixNano(), r.updated.UnixNano(), body)
	if err != nil {
		return false, fmt.Errorf("insert into %s: %w", r.table, err)
	}
	return n == 1, nil
}

// updateRecord replaces a record at its version.
func updateRecord(ctx context.Context, exec Exec, mark func(int) string, r record, version int) error {
	body, err := json.Marshal(r.body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", r.table, err)
	}
	n, err := exec(ctx, render(`UPDATE `+r.table+` SET state = ?, version = version + 1, updated_at = ?, body = ?
		WHERE id = ? AND version = ?`, mark), r.state, r.updated.UnixNano(), body, r.id, version)
	if err != nil {
		return fmt.Errorf("update %s: %w", r.table, err)
	}
	if n != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "%s %s changed meanwhile or does not exist", r.table, r.id)
	}
	return nil
}

// findRecords reads a page of a records table, newest first.
func findRecords[T any](ctx context.Context, q Query, mark func(int) string, table, id, state string, limit int, cursor string,
	decode func(body []byte, version int) (T, error)) ([]T, string, error) {
	w := &Where{}
	if id != "" {
		w.Add("id = ?", id)
	}
	if state != "" {
		w.Add("state = ?", state)
	}
	if err := seqCursor(w, cursor); err != nil {
		return nil, "", err
	}
	return newest(ctx, q, mark, table, recordColumns, w, limit, func(r Rows) (T, int64, error) {
		var seq int64
		var rid string
		var version int
		var body []byte
		var zero T
		if err := r.Scan(&seq, &rid, &version, &body); err != nil {
			return zero, 0, err
		}
		item, err := decode(body, version)
		if err != nil {
			return zero, 0, fmt.Errorf("decode %s %s: %w", table, rid, err)
		}
		return item, seq, nil
	})
}

// Records implements cdp.AlertStore, cdp.BackfillStore and the run
// counts the alerts and metrics read, for a store: embedded in it with the
// store's way to write, to read and to mark placeholders.
type Records struct {
	Exec  Exec
	Query Query
	Mark  func(int) string
	// Atomic runs fn's statements in one transaction (nil: each on its
	// own, through Exec).
	Atomic func(ctx context.Context, fn func(exec Exec) error) error
}

// atomic runs fn in one transaction when the store can.
func (s Records) atomic(ctx context.Context, fn func(exec Exec) error) error {
	if s.Atomic == nil {
		return fn(s.Exec)
	}
	return s.Atomic(ctx, fn)
}

// DeadLetters implements cdp.RunReader.
func (s Records) DeadLetters(ctx context.Context) (map[string]cdp.DeadLetter, error) {
	return DeadLetters(ctx, s.Query)
}

// CountWaitingOn implements cdp.RunReader.
func (s Records) CountWaitingOn(ctx context.Context) (map[string]int, error) {
	return WaitingCounts(ctx, s.Query)
}

func alertRecord(a *cdp.Alert) record {
	return record{table: "alerts", id: a.ID, key: a.Key, state: a.State, started: a.StartedAt, updated: a.UpdatedAt, body: a}
}

// InsertAlert implements cdp.AlertStore.
func (s Records) InsertAlert(ctx context.Context, a *cdp.Alert) (bool, error) {
	ok, err := insertRecord(ctx, s.Exec, s.Mark, alertRecord(a))
	if ok {
		a.Version = 1
	}
	return ok, err
}

// UpdateAlert implements cdp.AlertStore.
func (s Records) UpdateAlert(ctx context.Context, a *cdp.Alert) error {
	if err := updateRecord(ctx, s.Exec, s.Mark, alertRecord(a), a.Version); err != nil {
		return err
	}
	a.Version++
	return nil
}

// FindAlerts implements cdp.AlertStore.
func (s Records) FindAlerts(ctx context.Context, f cdp.AlertFilter) ([]*cdp.Alert, string, error) {
	return findRecords(ctx, s.Query, s.Mark, "alerts", f.ID, f.State, f.Limit, f.Cursor, func(body []byte, version int) (*cdp.Alert, error) {
		a := &cdp.Alert{}
		err := json.Unmarshal(body, a)
		a.Version = version
		return a, err
	})
}

func backfillRecord(b *cdp.Backfill) record {
	return record{table: "backfills", id: b.ID, key: b.WorkflowID, state: b.Status, started: b.CreatedAt, updated: b.UpdatedAt, body: b}
}

// InsertBackfill implements cdp.BackfillStore.
func (s Records) InsertBackfill(ctx context.Context, b *cdp.Backfill) error {
	ok, err := insertRecord(ctx, s.Exec, s.Mark, backfillRecord(b))
	switch {
	case err != nil:
		return err
	case !ok:
		return cdp.Errorf(cdp.ECONFLICT, "backfill %s exists", b.ID)
	}
	b.Version = 1
	return nil
}

// UpdateBackfill implements cdp.BackfillStore (and, with a transaction's
// Exec, cdp.Tx).
func (s Records) UpdateBackfill(ctx context.Context, b *cdp.Backfill) error {
	if err := updateRecord(ctx, s.Exec, s.Mark, backfillRecord(b), b.Version); err != nil {
		return err
	}
	b.Version++
	return nil
}

// FindBackfills implements cdp.BackfillStore.
func (s Records) FindBackfills(ctx context.Context, f cdp.BackfillFilter) ([]*cdp.Backfill, string, error) {
	return findRecords(ctx, s.Query, s.Mark, "backfills", f.ID, f.Status, f.Limit, f.Cursor, func(body []byte, version int) (*cdp.Backfill, error) {
		b := &cdp.Backfill{}
		err := json.Unmarshal(body, b)
		b.Version = version
		return b, err
	})
}

// ResourcesTable keeps the versions of the resources created through the
// management API; blob is the dialect's binary type.
func ResourcesTable(blob string) string {
	return `CREATE TABLE IF NOT EXISTS resources (
		kind       text NOT NULL,
		id         text NOT NULL,
		version    integer NOT NULL,
		deleted    boolean NOT NULL,
		created_at bigint NOT NULL,
		definition ` + blob + ` NOT NULL,
		PRIMARY KEY (kind, id, version)
	);`
}

// ResourceColumns are the resources table's columns, as ScanResource
// reads them.
const ResourceColumns = `kind, id, version, deleted, created_at, definition`

// ScanResource reads a row of ResourceColumns.
func ScanResource(r Rows) (*cdp.ResourceVersion, error) {
	v := &cdp.ResourceVersion{}
	var created int64
	if err := r.Scan(&v.Kind, &v.ID, &v.Version, &v.Deleted, &created, &v.Definition); err != nil {
		return nil, err
	}
	v.CreatedAt = time.Unix(0, created).UTC()
	return v, nil
}
