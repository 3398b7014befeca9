package relational

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The audit trail is a records table: the actor is the record's key, the
// target its state, the time its start.

// InsertAudit implements cdp.AuditStore.
func (s Records) InsertAudit(ctx context.Context, e *cdp.AuditEntry) error {
	_, err := insertRecord(ctx, s.Exec, s.Mark, record{table: "audit", id: e.ID, key: e.Actor, state: e.Target,
		started: e.At, updated: e.At, body: e})
	return err
}

// FindAudit implements cdp.AuditStore.
func (s Records) FindAudit(ctx context.Context, f cdp.AuditFilter) ([]*cdp.AuditEntry, string, error) {
	w := &Where{}
	if f.Actor != "" {
		w.Add("key = ?", f.Actor)
	}
	if f.Target != "" {
		// The target and what is under it: "sources/web/…" sorts from
		// "sources/web/" to before "sources/web0" ('0' follows '/').
		w.Add("(state = ? OR (state >= ? AND state < ?))", f.Target, f.Target+"/", f.Target+"0")
	}
	if !f.Since.IsZero() {
		w.Add("started_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.Add("started_at < ?", f.Until.UnixNano())
	}
	if err := seqCursor(w, f.Cursor); err != nil {
		return nil, "", err
	}
	return newest(ctx, s.Query, s.Mark, "audit", recordColumns, w, f.Limit, func(r Rows) (*cdp.AuditEntry, int64, error) {
		var seq int64
		var id string
		var version int
		var body []byte
		if err := r.Scan(&seq, &id, &version, &body); err != nil {
			return nil, 0, err
		}
		e := &cdp.AuditEntry{}
		return e, seq, json.Unmarshal(body, e)
	})
}

// DeleteAuditBefore implements cdp.AuditStore.
func (s Records) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	return s.Exec(ctx, render(`DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE started_at < ? ORDER BY seq LIMIT ?)`, s.Mark),
		before.UnixNano(), limit)
}
