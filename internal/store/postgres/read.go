package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// eventColumns is what every event read selects, in scanEvent's order.
const eventColumns = `id, source_id, message_id, type, profile_id, session_id, anonymous_id, timestamp, received_at, request_id, body`

func scanEvent(row pgx.Row) (*cdp.Event, error) {
	var messageID, profileID, sessionID, anonymousID, requestID *string
	var ts, received int64
	var body []byte
	e := &cdp.Event{}
	if err := row.Scan(&e.ID, &e.SourceID, &messageID, &e.Type, &profileID, &sessionID, &anonymousID, &ts, &received, &requestID, &body); err != nil {
		return nil, err
	}
	if err := storebody.DecodeEvent(body, e); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", e.ID, err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	e.MessageID, e.ProfileID, e.SessionID, e.AnonymousID, e.RequestID = str(messageID), str(profileID), str(sessionID), str(anonymousID), str(requestID)
	e.Timestamp, e.ReceivedAt = time.Unix(0, ts).UTC(), time.Unix(0, received).UTC()
	return e, nil
}

// FindEvents implements cdp.EventReader: newest first by id (UUIDv7s sort
// by time), the cursor being the last id of the page.
func (s *Store) FindEvents(ctx context.Context, f cdp.EventFilter) ([]*cdp.Event, string, error) {
	w := &relational.Where{}
	relational.Events(w, f, relational.Text)
	if !f.Since.IsZero() {
		// The same bound on the partition key (a day early: an id is made a
		// moment before the receipt time is taken) lets PostgreSQL skip
		// older partitions.
		w.Add("id >= ? AND received_at >= ?", cdp.MinIDAt(f.Since), f.Since.Add(-24*time.Hour).UnixNano())
	}
	order, after := " ORDER BY id DESC", "id < ?"
	if f.Oldest {
		order, after = " ORDER BY id", "id > ?"
	}
	if f.Cursor != "" {
		w.Add(after, f.Cursor)
	}
	limit := relational.Limit(f.Limit)
	where, n := w.SQL(relational.Dollar)
	rows, err := s.pool.Query(ctx, "SELECT "+eventColumns+" FROM events"+where+order+" LIMIT "+relational.Dollar(n), w.Args(limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	events := []*cdp.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, "", fmt.Errorf("find events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("find events: %w", err)
	}
	next := ""
	if len(events) > limit || (f.Oldest && len(events) > 0) {
		events = events[:min(limit, len(events))]
		next = events[len(events)-1].ID // with Oldest, a walk resumes there when more are stored
	}
	return events, next, nil
}

// FindEventByID implements cdp.EventReader.
func (s *Store) FindEventByID(ctx context.Context, id string) (*cdp.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1 LIMIT 1`, id))
	if err != nil {
		return nil, notFound(err, "event %s not found", id)
	}
	return e, nil
}

// FindRawRequest implements cdp.EventReader.
func (s *Store) FindRawRequest(ctx context.Context, id string) (*cdp.RawRequest, error) {
	r, err := scanRaw(s.pool.QueryRow(ctx, `SELECT `+rawColumns+` FROM raw_requests WHERE id = $1`, id), id)
	if err != nil {
		return nil, notFound(err, "raw request %s not found", id)
	}
	return r, nil
}

// rawColumns are what scanRaw reads: rows stored before the capture was
// packed have header and body, later ones data.
const rawColumns = `received_at, method, path, remote_addr, header, body, data, body_size, truncated`

func scanRaw(row pgx.Row, id string) (*cdp.RawRequest, error) {
	r := &cdp.RawRequest{}
	var received int64
	var header *string
	var data []byte
	if err := row.Scan(&received, &r.Method, &r.Path, &r.RemoteAddr, &header, &r.Body, &data, &r.BodySize, &r.Truncated); err != nil {
		return nil, err
	}
	r.ReceivedAt = time.Unix(0, received).UTC()
	if data != nil {
		if err := packed.DecodeRaw(data, r); err != nil {
			return nil, fmt.Errorf("decode raw request %s: %w", id, err)
		}
	} else if header != nil {
		r.Header = *header
	}
	return r, nil
}

// FindRawRequests implements cdp.ArchiveStore, in one query.
func (s *Store) FindRawRequests(ctx context.Context, ids []string) (map[string]*cdp.RawRequest, error) {
	out := make(map[string]*cdp.RawRequest, len(ids))
	rows, err := s.pool.Query(ctx, `SELECT id, `+rawColumns+` FROM raw_requests WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("find raw requests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r, err := scanRaw(idRow{&id, rows}, id)
		if err != nil {
			return nil, fmt.Errorf("find raw requests: %w", err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find raw requests: %w", err)
	}
	return out, nil
}

// idRow is a row whose first column, an id, goes to id and the rest to
// the scan of a row without it.
type idRow struct {
	id  *string
	row pgx.Row
}

func (r idRow) Scan(dest ...any) error { return r.row.Scan(append([]any{r.id}, dest...)...) }

// EventsPerMinute implements cdp.EventReader.
func (s *Store) EventsPerMinute(ctx context.Context, since time.Time) ([]cdp.MinuteCount, error) {
	return relational.All(ctx, s.rows, "events per minute", relational.MinuteCount,
		`SELECT minute, source_id, SUM(events)::bigint FROM event_minutes WHERE minute >= $1 GROUP BY minute, source_id ORDER BY minute, source_id`, since.Unix()/60)
}

// exec runs a write for the helpers of package query.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// atomic runs fn's statements in one transaction.
func (s *Store) atomic(ctx context.Context, fn func(exec relational.Exec) error) error {
	return pgx.BeginFunc(ctx, s.pool.Pool, func(tx pgx.Tx) error {
		return fn(func(ctx context.Context, sql string, args ...any) (int64, error) {
			tag, err := tx.Exec(ctx, sql, args...)
			return tag.RowsAffected(), err
		})
	})
}

// rows runs a read for the helpers of package query.
func (s *Store) rows(ctx context.Context, sql string, args ...any) (relational.Rows, func(), error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

// FindProfileByID implements cdp.ProfileReader.
func (s *Store) FindProfileByID(ctx context.Context, id string) (*cdp.Profile, error) {
	return scanProfile(s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles p
		WHERE p.id = COALESCE((SELECT profile_id FROM profile_aliases WHERE alias = $1), $1)`, id), id)
}

// FindProfileByIdentifier implements cdp.ProfileReader.
func (s *Store) FindProfileByIdentifier(ctx context.Context, ident cdp.Identifier) (*cdp.Profile, error) {
	return scanProfile(s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM identifiers i JOIN profiles p ON p.id = i.profile_id
		WHERE i.kind = $1 AND i.value = $2`, ident.Kind, ident.Value), ident.String())
}

// FindSessionByID implements cdp.ProfileReader.
func (s *Store) FindSessionByID(ctx context.Context, id string) (*cdp.Session, error) {
	return scanSession(s.pool.QueryRow(ctx, `SELECT profile_id, body FROM sessions WHERE id = $1`, id), id)
}

// SessionProfile implements cdp.ProfileReader.
func (s *Store) SessionProfile(ctx context.Context, id string) (string, error) {
	var pid string
	err := s.pool.QueryRow(ctx, `SELECT p.id FROM sessions s JOIN profiles p ON p.id = s.profile_id WHERE s.id = $1`, id).Scan(&pid)
	return pid, notFound(err, "session %s has no live profile", id)
}

// FindSources implements cdp.SourceStore.
func (s *Store) FindSources(ctx context.Context) ([]*cdp.Source, error) {
	rows, err := s.pool.Query(ctx, `SELECT body FROM sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find sources: %w", err)
	}
	bodies, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("find sources: %w", err)
	}
	out := make([]*cdp.Source, 0, len(bodies))
	for _, b := range bodies {
		src := &cdp.Source{}
		if err := json.Unmarshal(b, src); err != nil {
			return nil, fmt.Errorf("decode source: %w", err)
		}
		out = append(out, src)
	}
	return out, nil
}

// CreateSource implements cdp.SourceStore.
func (s *Store) CreateSource(ctx context.Context, src *cdp.Source) error {
	body, err := json.Marshal(src)
	if err != nil {
		return fmt.Errorf("encode source: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO sources (id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING`, src.ID, body)
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "source %s already exists", src.ID)
	}
	return nil
}

// UpdateSource implements cdp.SourceStore.
func (s *Store) UpdateSource(ctx context.Context, src *cdp.Source) error {
	body, err := json.Marshal(src)
	if err != nil {
		return fmt.Errorf("encode source: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sources SET body = $1 WHERE id = $2`, body, src.ID)
	if err != nil {
		return fmt.Errorf("update source: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "source %s not found", src.ID)
	}
	return nil
}

// DeleteSource implements cdp.SourceStore.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sources WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "source %s not found", id)
	}
	return nil
}

const workflowColumns = `id, version, deleted, created_at, definition`

func scanWorkflow(row pgx.Row) (*cdp.WorkflowVersion, error) {
	w := &cdp.WorkflowVersion{}
	var created int64
	var def []byte
	if err := row.Scan(&w.ID, &w.Version, &w.Deleted, &created, &def); err != nil {
		return nil, err
	}
	w.CreatedAt, w.Definition = time.Unix(0, created).UTC(), def
	return w, nil
}

func (s *Store) findWorkflows(ctx context.Context, what, q string, args ...any) ([]*cdp.WorkflowVersion, error) {
	return relational.All(ctx, s.rows, "find "+what, func(r relational.Rows) (*cdp.WorkflowVersion, error) { return scanWorkflow(r) }, q, args...)
}

// FindWorkflows implements cdp.WorkflowStore.
func (s *Store) FindWorkflows(ctx context.Context) ([]*cdp.WorkflowVersion, error) {
	return s.findWorkflows(ctx, "workflows", `SELECT DISTINCT ON (id) `+workflowColumns+` FROM workflows ORDER BY id, version DESC`)
}

// FindWorkflowVersions implements cdp.WorkflowStore.
func (s *Store) FindWorkflowVersions(ctx context.Context, id string) ([]*cdp.WorkflowVersion, error) {
	out, err := s.findWorkflows(ctx, "workflow versions", `SELECT `+workflowColumns+` FROM workflows WHERE id = $1 ORDER BY version`, id)
	if err == nil && len(out) == 0 {
		err = cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", id)
	}
	return out, err
}

// FindWorkflowVersion implements cdp.WorkflowStore.
func (s *Store) FindWorkflowVersion(ctx context.Context, id string, version int) (*cdp.WorkflowVersion, error) {
	w, err := scanWorkflow(s.pool.QueryRow(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1 AND version = $2`, id, version))
	if err != nil {
		return nil, notFound(err, "workflow %s version %d not found", id, version)
	}
	return w, nil
}

// SaveWorkflow implements cdp.WorkflowStore: the primary key (id, version)
// makes a second save of one version fail, on whichever node it runs.
func (s *Store) SaveWorkflow(ctx context.Context, w *cdp.WorkflowVersion) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO workflows (`+workflowColumns+`)
		SELECT $1, $2, $3, $4, $5 WHERE $2 = (SELECT COALESCE(MAX(version), 0) + 1 FROM workflows WHERE id = $1)
		ON CONFLICT DO NOTHING`, w.ID, w.Version, w.Deleted, w.CreatedAt.UnixNano(), []byte(w.Definition))
	if err != nil {
		return fmt.Errorf("save workflow %s: %w", w.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "workflow %s: version %d does not follow the latest stored version", w.ID, w.Version)
	}
	return nil
}
