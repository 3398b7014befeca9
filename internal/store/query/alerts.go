package query

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Exec runs a write in one store's driver and returns the rows it changed.
type Exec func(ctx context.Context, sql string, args ...any) (int64, error)

// Alerts are kept alike in both stores: the record as JSON beside the
// columns it is found by, with at most one firing alert per key (a unique
// index), so that two nodes cannot both announce one condition.
const alertColumns = `seq, id, version, body`

// InsertAlert writes a new alert unless one of its key is firing.
func InsertAlert(ctx context.Context, exec Exec, mark func(int) string, a *cdp.Alert) (bool, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode alert: %w", err)
	}
	n, err := exec(ctx, render(`INSERT INTO alerts (id, key, state, version, started_at, updated_at, body)
		VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT DO NOTHING`, mark),
		a.ID, a.Key, a.State, a.StartedAt.UnixNano(), a.UpdatedAt.UnixNano(), body)
	if err != nil {
		return false, fmt.Errorf("insert alert: %w", err)
	}
	if n == 1 {
		a.Version = 1
	}
	return n == 1, nil
}

// UpdateAlert replaces an alert at its version.
func UpdateAlert(ctx context.Context, exec Exec, mark func(int) string, a *cdp.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	n, err := exec(ctx, render(`UPDATE alerts SET state = ?, version = version + 1, updated_at = ?, body = ?
		WHERE id = ? AND version = ?`, mark), a.State, a.UpdatedAt.UnixNano(), body, a.ID, a.Version)
	if err != nil {
		return fmt.Errorf("update alert: %w", err)
	}
	if n != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "alert %s changed meanwhile or does not exist", a.ID)
	}
	a.Version++
	return nil
}

// FindAlerts reads a page of alerts, newest first.
func FindAlerts(ctx context.Context, q Query, mark func(int) string, f cdp.AlertFilter) ([]*cdp.Alert, string, error) {
	w := &Where{}
	if f.ID != "" {
		w.Add("id = ?", f.ID)
	}
	if f.State != "" {
		w.Add("state = ?", f.State)
	}
	if err := seqCursor(w, f.Cursor); err != nil {
		return nil, "", err
	}
	return newest(ctx, q, mark, "alerts", alertColumns, w, f.Limit, scanAlert)
}

// Alerts implements cdp.AlertStore for a store: embedded in it with the
// store's way to write, to read and to mark placeholders.
type Alerts struct {
	Exec  Exec
	Query Query
	Mark  func(int) string
}

// InsertAlert implements cdp.AlertStore.
func (s Alerts) InsertAlert(ctx context.Context, a *cdp.Alert) (bool, error) {
	return InsertAlert(ctx, s.Exec, s.Mark, a)
}

// UpdateAlert implements cdp.AlertStore.
func (s Alerts) UpdateAlert(ctx context.Context, a *cdp.Alert) error {
	return UpdateAlert(ctx, s.Exec, s.Mark, a)
}

// FindAlerts implements cdp.AlertStore.
func (s Alerts) FindAlerts(ctx context.Context, f cdp.AlertFilter) ([]*cdp.Alert, string, error) {
	return FindAlerts(ctx, s.Query, s.Mark, f)
}

func scanAlert(r Rows) (*cdp.Alert, int64, error) {
	var seq int64
	var id string
	var version int
	var body []byte
	if err := r.Scan(&seq, &id, &version, &body); err != nil {
		return nil, 0, err
	}
	a := &cdp.Alert{}
	if err := json.Unmarshal(body, a); err != nil {
		return nil, 0, fmt.Errorf("decode alert %s: %w", id, err)
	}
	a.Version = version
	return a, seq, nil
}
