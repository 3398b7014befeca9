package relational

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Waits keeps the journey tables alike in both stores (cdp.WaitStore and
// cdp.FrequencyStore) inside one of their transactions: a store's
// transaction embeds one. Lock is what a claim adds to the select of the
// rows it deletes: nothing in SQLite, whose one writer needs nothing,
// "FOR UPDATE SKIP LOCKED" in PostgreSQL, so that nodes claiming at the
// same moment take different waits instead of queueing behind each other.
// List says the store takes a list as one argument (PostgreSQL's = ANY);
// without, the waits of several people are read one person at a time
// (in-process, a prepared point lookup is as cheap, and its text stays
// the same).
type Waits struct {
	Exec  Exec
	Query Query
	Mark  func(int) string
	Lock  string
	List  bool
}

// WaitsTable is the table and its indexes; blob is the store's type for
// bytes, bigint its integer.
func WaitsTable(blob, bigint string) string {
	return `CREATE TABLE IF NOT EXISTS waits (
		run_id      TEXT NOT NULL,
		step_id     TEXT NOT NULL,
		workflow_id TEXT NOT NULL,
		version     INTEGER NOT NULL,
		kind        TEXT NOT NULL,
		profile_id  TEXT NOT NULL,
		after_at    ` + bigint + ` NOT NULL,
		deadline    ` + bigint + `,
		created_at  ` + bigint + ` NOT NULL,
		scope       ` + blob + `,
		PRIMARY KEY (run_id, step_id)
	);
	CREATE INDEX IF NOT EXISTS waits_profile ON waits (profile_id);
	CREATE INDEX IF NOT EXISTS waits_deadline ON waits (deadline) WHERE deadline IS NOT NULL;`
}

const waitColumns = `run_id, step_id, workflow_id, version, kind, profile_id, after_at, deadline, created_at, scope`

func scanWait(r Rows) (*cdp.Wait, error) {
	w := &cdp.Wait{}
	var after, created int64
	var deadline *int64
	var scope []byte
	if err := r.Scan(&w.RunID, &w.StepID, &w.WorkflowID, &w.Version, &w.Kind, &w.ProfileID, &after, &deadline, &created, &scope); err != nil {
		return nil, err
	}
	w.After, w.CreatedAt = time.Unix(0, after).UTC(), time.Unix(0, created).UTC()
	if deadline != nil {
		d := time.Unix(0, *deadline).UTC()
		w.Deadline = &d
	}
	if len(scope) > 0 {
		w.Scope = scope
	}
	return w, nil
}

// InsertWait implements cdp.WaitStore.
func (s Waits) InsertWait(ctx context.Context, w *cdp.Wait) error {
	var deadline any
	if w.Deadline != nil {
		deadline = w.Deadline.UnixNano()
	}
	var scope any
	if len(w.Scope) > 0 {
		scope = []byte(w.Scope)
	}
	_, err := s.Exec(ctx, render(`INSERT INTO waits (`+waitColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, s.Mark),
		w.RunID, w.StepID, w.WorkflowID, w.Version, w.Kind, w.ProfileID, w.After.UnixNano(), deadline, w.CreatedAt.UnixNano(), scope)
	if err != nil {
		return fmt.Errorf("insert wait: %w", err)
	}
	return nil
}

// DeleteWait implements cdp.WaitStore.
func (s Waits) DeleteWait(ctx context.Context, runID, stepID string) (bool, error) {
	n, err := s.Exec(ctx, render(`DELETE FROM waits WHERE run_id = ? AND step_id = ?`, s.Mark), runID, stepID)
	if err != nil {
		return false, fmt.Errorf("delete wait: %w", err)
	}
	return n == 1, nil
}

// DeleteRunWaits implements cdp.WaitStore.
func (s Waits) DeleteRunWaits(ctx context.Context, runID string) error {
	if _, err := s.Exec(ctx, render(`DELETE FROM waits WHERE run_id = ?`, s.Mark), runID); err != nil {
		return fmt.Errorf("delete run waits: %w", err)
	}
	return nil
}

// HasWaits implements cdp.WaitStore.
func (s Waits) HasWaits(ctx context.Context) (bool, error) {
	found, err := All(ctx, s.Query, "any wait", func(r Rows) (int, error) {
		var one int
		return one, r.Scan(&one)
	}, `SELECT 1 FROM waits LIMIT 1`)
	return len(found) > 0, err
}

// ProfileWaits implements cdp.WaitStore.
func (s Waits) ProfileWaits(ctx context.Context, profileIDs []string) ([]*cdp.Wait, error) {
	const q = `SELECT ` + waitColumns + ` FROM waits WHERE profile_id `
	switch {
	case len(profileIDs) == 0:
		return nil, nil
	case s.List:
		return All(ctx, s.Query, "find waits", scanWait, render(q+`= ANY(?) ORDER BY created_at`, s.Mark), profileIDs)
	}
	var out []*cdp.Wait
	for _, id := range profileIDs {
		ws, err := All(ctx, s.Query, "find waits", scanWait, render(q+`= ? ORDER BY created_at`, s.Mark), id)
		if err != nil {
			return nil, err
		}
		out = append(out, ws...)
	}
	return out, nil
}

// ClaimDueWaits implements cdp.WaitStore.
func (s Waits) ClaimDueWaits(ctx context.Context, now time.Time, limit int) ([]*cdp.Wait, error) {
	return All(ctx, s.Query, "claim due waits", scanWait, render(`DELETE FROM waits WHERE (run_id, step_id) IN (
		SELECT run_id, step_id FROM waits WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ? `+s.Lock+`)
		RETURNING `+waitColumns, s.Mark), now.UnixNano(), limit)
}

// FrequenciesTable is the table of claims of cdp.FrequencyStore.
func FrequenciesTable(bigint string) string {
	return `CREATE TABLE IF NOT EXISTS frequencies (
		workflow_id TEXT NOT NULL,
		profile_id  TEXT NOT NULL,
		until_at    ` + bigint + `,
		PRIMARY KEY (workflow_id, profile_id)
	);
	CREATE INDEX IF NOT EXISTS frequencies_profile ON frequencies (profile_id);`
}

// ClaimFrequency implements cdp.FrequencyStore: the insert, or the
// update of a claim that has ended, is the claim; the primary key makes
// two at once conflict.
func (s Waits) ClaimFrequency(ctx context.Context, workflowID, profileID string, until *time.Time, now time.Time) (bool, error) {
	var end any
	if until != nil {
		end = until.UnixNano()
	}
	n, err := s.Exec(ctx, render(`INSERT INTO frequencies (workflow_id, profile_id, until_at) VALUES (?, ?, ?)
		ON CONFLICT (workflow_id, profile_id) DO UPDATE SET until_at = excluded.until_at
		WHERE frequencies.until_at IS NOT NULL AND frequencies.until_at <= ?`, s.Mark), workflowID, profileID, end, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("claim frequency: %w", err)
	}
	return n == 1, nil
}

// CountWaits implements cdp.RunReader with a read of q.
func CountWaits(ctx context.Context, q Query) ([]cdp.WaitCount, error) {
	return All(ctx, q, "count waits", func(r Rows) (cdp.WaitCount, error) {
		var c cdp.WaitCount
		return c, r.Scan(&c.WorkflowID, &c.StepID, &c.Runs)
	}, `SELECT workflow_id, step_id, COUNT(*) FROM waits WHERE kind <> 'exit' GROUP BY workflow_id, step_id ORDER BY workflow_id, step_id`)
}

// DebouncesTable keeps the latest debounced run of each workflow and key.
const DebouncesTable = `
	CREATE TABLE IF NOT EXISTS debounces (
		workflow_id TEXT NOT NULL,
		key         TEXT NOT NULL,
		run_id      TEXT NOT NULL,
		PRIMARY KEY (workflow_id, key)
	);`

// SetDebounce implements cdp.FrequencyStore.
func (s Waits) SetDebounce(ctx context.Context, workflowID, key, runID string) error {
	if _, err := s.Exec(ctx, render(`INSERT INTO debounces (workflow_id, key, run_id) VALUES (?, ?, ?)
		ON CONFLICT (workflow_id, key) DO UPDATE SET run_id = excluded.run_id`, s.Mark), workflowID, key, runID); err != nil {
		return fmt.Errorf("set debounce: %w", err)
	}
	return nil
}

// DebouncedRun implements cdp.RunReader with a read of q.
func DebouncedRun(ctx context.Context, q Query, mark func(int) string, workflowID, key string) (string, error) {
	ids, err := All(ctx, q, "debounced run", func(r Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, render(`SELECT run_id FROM debounces WHERE workflow_id = ? AND key = ?`, mark), workflowID, key)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// LinesTable keeps the run that holds each workflow's line for a key.
const LinesTable = `
	CREATE TABLE IF NOT EXISTS lines (
		workflow_id TEXT NOT NULL,
		order_key   TEXT NOT NULL,
		run_id      TEXT NOT NULL,
		PRIMARY KEY (workflow_id, order_key)
	);`

// ClaimLine implements cdp.FrequencyStore: the insert, or the holder's
// own update, is the claim; the primary key makes two at once conflict.
func (s Waits) ClaimLine(ctx context.Context, workflowID, key, runID string) (bool, error) {
	n, err := s.Exec(ctx, render(`INSERT INTO lines (workflow_id, order_key, run_id) VALUES (?, ?, ?)
		ON CONFLICT (workflow_id, order_key) DO UPDATE SET run_id = excluded.run_id WHERE lines.run_id = excluded.run_id`, s.Mark),
		workflowID, key, runID)
	if err != nil {
		return false, fmt.Errorf("claim line: %w", err)
	}
	return n == 1, nil
}

// ReleaseLine implements cdp.FrequencyStore.
func (s Waits) ReleaseLine(ctx context.Context, workflowID, key, runID string) error {
	if _, err := s.Exec(ctx, render(`DELETE FROM lines WHERE workflow_id = ? AND order_key = ? AND run_id = ?`, s.Mark), workflowID, key, runID); err != nil {
		return fmt.Errorf("release line: %w", err)
	}
	return nil
}

// OrderKeyColumn adds runs' order key (a workflow's order_by), with the
// index that finds the first run in line.
const OrderKeyColumn = `
	ALTER TABLE runs ADD COLUMN order_key TEXT;
	CREATE INDEX IF NOT EXISTS runs_order ON runs (workflow_id, order_key, seq) WHERE order_key IS NOT NULL;`

// FirstInLine implements cdp.RunReader with a read of q.
func FirstInLine(ctx context.Context, q Query, mark func(int) string, workflowID, key string) (string, error) {
	ids, err := All(ctx, q, "first run in line", func(r Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, render(`SELECT id FROM runs WHERE workflow_id = ? AND order_key = ?
		AND status NOT IN ('succeeded', 'failed', 'skipped', 'exited')
		ORDER BY CASE WHEN status = 'pending' THEN 1 ELSE 0 END, seq LIMIT 1`, mark), workflowID, key)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}
