// Package relational holds the SQL that both relational stores (SQLite
// and PostgreSQL) share: the list filters of the store ports turned into
// conditions, paging and cursors, and the records (alerts, backfills)
// whose statements are the same in both. Each store renders the ?
// placeholders in its own dialect, so both filter, page and refuse a bad
// cursor alike.
package relational

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Where is a conjunction of conditions written with ? placeholders, and
// their arguments in order.
type Where struct {
	conds []string
	args  []any
}

// Add appends cond with the arguments of its placeholders.
func (w *Where) Add(cond string, args ...any) {
	w.conds, w.args = append(w.conds, cond), append(w.args, args...)
}

// Args returns the arguments, then extra (a LIMIT …).
func (w *Where) Args(extra ...any) []any { return append(append([]any{}, w.args...), extra...) }

// SQL renders " WHERE a AND b" ("" without conditions), numbering the
// placeholders with mark (1, 2, …) for dialects that number them; next
// is the number the statement's next placeholder takes.
func (w *Where) SQL(mark func(n int) string) (sql string, next int) {
	if len(w.conds) == 0 {
		return "", 1
	}
	var b strings.Builder
	next = number(&b, " WHERE "+strings.Join(w.conds, " AND "), mark, 1)
	return b.String(), next
}

// render numbers the ? placeholders of sql with mark, from 1.
func render(sql string, mark func(int) string) string {
	var b strings.Builder
	number(&b, sql, mark, 1)
	return b.String()
}

// number writes sql to b with its ? placeholders numbered from n, and
// returns the next number.
func number(b *strings.Builder, sql string, mark func(int) string, n int) int {
	for {
		i := strings.IndexByte(sql, '?')
		if i < 0 {
			b.WriteString(sql)
			return n
		}
		b.WriteString(sql[:i])
		b.WriteString(mark(n))
		n++
		sql = sql[i+1:]
	}
}

// Question marks placeholders as SQLite does (?); Dollar as PostgreSQL ($n).
func Question(int) string { return "?" }

// Placeholders writes the ? of a statement as ph numbers them.
func Placeholders(sql string, ph func(int) string) string {
	var b strings.Builder
	n := 0
	for _, r := range sql {
		if r == '?' {
			n++
			b.WriteString(ph(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// maxLimit caps one page of a listing; DefaultLimit is a page without one.
const (
	maxLimit     = 1000
	DefaultLimit = 100
)

// Limit is the page size of a requested limit.
func Limit(n int) int {
	if n <= 0 || n > maxLimit {
		return DefaultLimit
	}
	return n
}

// Events adds the column equalities of an event filter (time and cursor
// depend on how each store orders events); id turns a profile id into the
// value the store keeps it as.
func Events(w *Where, f cdp.EventFilter, id func(string) any) {
	for _, c := range []struct {
		col string
		val any
	}{
		{"source_id", f.SourceID}, {"type", f.Type}, {"profile_id", id(f.ProfileID)}, {"session_id", f.SessionID},
	} {
		if c.val != "" && c.val != nil {
			w.Add(c.col+" = ?", c.val)
		}
	}
}

// Text is the id function of a store that keeps ids as their text.
func Text(id string) any { return id }

// Runs returns the conditions of a run filter over the runs table (seq
// orders runs; the cursor is a seq in base 36).
func Runs(f cdp.RunFilter) (*Where, error) {
	w := &Where{}
	for _, c := range []struct{ col, val string }{
		{"workflow_id", f.WorkflowID}, {"status", f.Status}, {"event_id", f.EventID}, {"waiting_on", f.WaitingOn},
	} {
		if c.val != "" {
			w.Add(c.col+" = ?", c.val)
		}
	}
	if !f.Since.IsZero() {
		w.Add("created_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.Add("created_at < ?", f.Until.UnixNano())
	}
	if err := seqCursor(w, f.Cursor); err != nil {
		return nil, err
	}
	return w, nil
}

// RunCursor is the cursor of the page after one whose extra row has seq.
func RunCursor(seq int64) string { return strconv.FormatInt(seq+1, 36) }

// Rows is what both drivers' result sets (*sql.Rows, pgx.Rows) share.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Query runs a read in one store's driver: it returns the rows and what
// releases them.
type Query func(ctx context.Context, sql string, args ...any) (Rows, func(), error)

// All reads every row of a read with scan; what names the read in errors.
func All[T any](ctx context.Context, q Query, what string, scan func(Rows) (T, error), sql string, args ...any) ([]T, error) {
	rows, release, err := q(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer release()
	out := []T{}
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, item)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// FindRuns reads a page of runs, newest first, selecting columns and
// reading each row with scan; mark writes the store's placeholders.
func FindRuns(ctx context.Context, q Query, mark func(int) string, columns string, f cdp.RunFilter, scan func(Rows) (*cdp.Run, int64, error)) ([]*cdp.Run, string, error) {
	w, err := Runs(f)
	if err != nil {
		return nil, "", err
	}
	return newest(ctx, q, mark, "runs", columns, w, f.Limit, scan)
}

// newest reads a page of a table's rows matching w, newest (greatest seq)
// first; the cursor continues after the page.
func newest[T any](ctx context.Context, q Query, mark func(int) string, table, columns string, w *Where, limit int, scan func(Rows) (T, int64, error)) ([]T, string, error) {
	limit = Limit(limit)
	where, n := w.SQL(mark)
	rows, release, err := q(ctx, "SELECT "+columns+" FROM "+table+where+" ORDER BY seq DESC LIMIT "+mark(n), w.Args(limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("find %s: %w", table, err)
	}
	defer release()
	items, cursor, err := Page(rows, limit, scan, RunCursor)
	if err != nil {
		return nil, "", fmt.Errorf("find %s: %w", table, err)
	}
	return items, cursor, nil
}

// seqCursor adds a listing's cursor (a seq in base 36) as a condition.
func seqCursor(w *Where, cursor string) error {
	if cursor == "" {
		return nil
	}
	seq, err := strconv.ParseInt(cursor, 36, 64)
	if err != nil {
		return cdp.Errorf(cdp.EINVALID, "invalid cursor %q", cursor)
	}
	w.Add("seq < ?", seq)
	return nil
}

// NullText is s as a column value: NULL when empty.
func NullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CountWaitingOn is the statement that counts the waiting runs held by
// each destination's breaker.
const CountWaitingOn = `SELECT waiting_on, COUNT(*) FROM runs WHERE status = 'waiting' AND waiting_on IS NOT NULL GROUP BY waiting_on`

// WaitingCounts reads the rows of CountWaitingOn.
func WaitingCounts(ctx context.Context, q Query) (map[string]int, error) {
	type count struct {
		dest string
		n    int
	}
	rows, err := All(ctx, q, "count waiting runs", func(r Rows) (count, error) {
		var c count
		return c, r.Scan(&c.dest, &c.n)
	}, CountWaitingOn)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, c := range rows {
		out[c.dest] = c.n
	}
	return out, nil
}

// DeadLetters counts the failed runs of each workflow; run ids are
// time-ordered, so the greatest is the newest.
func DeadLetters(ctx context.Context, q Query) (map[string]cdp.DeadLetter, error) {
	type row struct {
		workflow string
		dl       cdp.DeadLetter
	}
	rows, err := All(ctx, q, "count dead letters", func(r Rows) (row, error) {
		var x row
		return x, r.Scan(&x.workflow, &x.dl.Runs, &x.dl.Newest)
	}, `SELECT workflow_id, COUNT(*), MAX(id) FROM runs WHERE status = 'failed' GROUP BY workflow_id`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]cdp.DeadLetter, len(rows))
	for _, x := range rows {
		out[x.workflow] = x.dl
	}
	return out, nil
}

// Page reads a listing's page: the query asked for limit+1 rows, newest
// first, and scan returns each row's item and sequence number. If the
// extra row came, cursor (made from its sequence number) continues the
// listing there.
func Page[T any](rows Rows, limit int, scan func(Rows) (T, int64, error), cursor func(seq int64) string) ([]T, string, error) {
	items := []T{}
	for rows.Next() {
		item, seq, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		if len(items) == limit {
			return items, cursor(seq), nil
		}
		items = append(items, item)
	}
	return items, "", rows.Err()
}

// MinuteCount reads a row of `SELECT minute, source_id, events FROM
// event_minutes …`, minutes since the epoch.
func MinuteCount(row Rows) (cdp.MinuteCount, error) {
	var c cdp.MinuteCount
	var minute int64
	if err := row.Scan(&minute, &c.SourceID, &c.Events); err != nil {
		return c, err
	}
	c.Minute = time.Unix(minute*60, 0).UTC()
	return c, nil
}

// ArchivesTable keeps where each archive stands (the start of the next
// window to write, Unix nanoseconds; 0 before the first) and which node
// holds its lease.
const ArchivesTable = `CREATE TABLE IF NOT EXISTS archives (
	name        TEXT PRIMARY KEY,
	next_window BIGINT NOT NULL,
	holder      TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0
);`

// Archive statements, with ? placeholders: claim inserts the archive or
// takes its lease when it is free (or this node's), returning where it
// stands; advance moves it on under the lease.
const (
	ClaimArchiveSQL = `INSERT INTO archives (name, next_window, holder, lease_until) VALUES (?, 0, ?, ?)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
	WHERE archives.holder = excluded.holder OR archives.lease_until < ?
	RETURNING next_window`
	AdvanceArchiveSQL = `UPDATE archives SET next_window = ? WHERE name = ? AND holder = ? AND next_window = ?`
)
