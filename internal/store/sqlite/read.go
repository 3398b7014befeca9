package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// FindEvents implements cdp.EventReader.
func (s *Store) FindEvents(ctx context.Context, f cdp.EventFilter) ([]*cdp.Event, string, error) {
	w := &relational.Where{}
	relational.Events(w, f, packID)
	if !f.Since.IsZero() {
		// The first event at or after Since, found through the id index;
		// everything inserted after it follows in rowid order.
		w.Add("seq >= COALESCE((SELECT seq FROM events WHERE id >= ? ORDER BY id LIMIT 1), 9223372036854775807)", packID(cdp.MinIDAt(f.Since)))
	}
	order, after := " ORDER BY seq DESC", "seq < ?"
	if f.Oldest {
		order, after = " ORDER BY seq", "seq > ?"
	}
	if f.Cursor != "" {
		seq, err := strconv.ParseInt(f.Cursor, 36, 64)
		if err != nil {
			return nil, "", cdp.Errorf(cdp.EINVALID, "invalid cursor %q", f.Cursor)
		}
		w.Add(after, seq)
	}
	limit := relational.Limit(f.Limit)
	where, _ := w.SQL(relational.Question)
	rows, err := s.read(ctx, "SELECT seq, "+eventColumns+" FROM events"+where+order+" LIMIT ?", w.Args(limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	events := []*cdp.Event{}
	var seqs []int64
	for rows.Next() {
		var seq int64
		e, err := scanEvent(rows, &seq)
		if err != nil {
			return nil, "", err
		}
		events, seqs = append(events, e), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("find events: %w", err)
	}
	next := ""
	if len(events) > limit {
		events, seqs = events[:limit], seqs[:limit]
		next = strconv.FormatInt(seqs[limit-1], 36)
	} else if f.Oldest && len(events) > 0 {
		next = strconv.FormatInt(seqs[len(seqs)-1], 36) // a walk resumes there when more are stored
	}
	return events, next, nil
}

// FindEventByID implements cdp.EventReader.
func (s *Store) FindEventByID(ctx context.Context, id string) (*cdp.Event, error) {
	e, err := scanEvent(s.readRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, packID(id)), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "event %s not found", id)
	}
	return e, err
}

// eventColumns is what every event read selects, in scanEvent's order.
const eventColumns = `id, source_id, message_id, type, profile_id, session_id, anonymous_id, timestamp, received_at, request_id, body`

// scanEvent decodes an event row; a non-nil seq also receives the row's
// sequence, which must then be the first column.
func scanEvent(row interface{ Scan(...any) error }, seq *int64) (*cdp.Event, error) {
	var messageID, sessionID, anonymousID sql.NullString
	var ts, received int64
	var body []byte
	e := &cdp.Event{}
	dest := []any{idColumn{&e.ID}, &e.SourceID, &messageID, &e.Type, idColumn{&e.ProfileID}, &sessionID, &anonymousID, &ts, &received,
		idColumn{&e.RequestID}, &body}
	if seq != nil {
		dest = append([]any{seq}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("load event: %w", err)
	}
	if err := storebody.DecodeEvent(body, e); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", e.ID, err)
	}
	e.MessageID, e.SessionID, e.AnonymousID = messageID.String, sessionID.String, anonymousID.String
	e.Timestamp, e.ReceivedAt = time.Unix(0, ts).UTC(), time.Unix(0, received).UTC()
	return e, nil
}

// FindRawRequest implements cdp.EventReader.
func (s *Store) FindRawRequest(ctx context.Context, id string) (*cdp.RawRequest, error) {
	r := &cdp.RawRequest{}
	var received int64
	var data []byte
	err := s.readRow(ctx, `SELECT received_at, method, path, remote_addr, data, body_size, truncated
		FROM raw_requests WHERE id = ?`, packID(id)).Scan(&received, &r.Method, &r.Path, &r.RemoteAddr, &data, &r.BodySize, &r.Truncated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "raw request %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("load raw request: %w", err)
	}
	if err := packed.DecodeRaw(data, r); err != nil {
		return nil, fmt.Errorf("decode raw request %s: %w", id, err)
	}
	r.ReceivedAt = time.Unix(0, received).UTC()
	return r, nil
}

// FindProfileByID implements cdp.ProfileReader.
func (s *Store) FindProfileByID(ctx context.Context, id string) (*cdp.Profile, error) {
	return scanProfile(s.readRow(ctx, `SELECT `+profileColumns+` FROM profiles
		WHERE id = COALESCE((SELECT profile_id FROM profile_aliases WHERE alias = ?), ?)`, id, id), id)
}

// FindProfileByIdentifier implements cdp.ProfileReader.
func (s *Store) FindProfileByIdentifier(ctx context.Context, ident cdp.Identifier) (*cdp.Profile, error) {
	return scanProfile(s.readRow(ctx, `SELECT `+profileColumns+` FROM identifiers i JOIN profiles p ON p.id = i.profile_id
		WHERE i.kind = ? AND i.value = ?`, ident.Kind, ident.Value), ident.String())
}

// FindSessionByID implements cdp.ProfileReader.
func (s *Store) FindSessionByID(ctx context.Context, id string) (*cdp.Session, error) {
	var profileID sql.NullString
	var body []byte
	err := s.readRow(ctx, `SELECT profile_id, body FROM sessions WHERE id = ?`, id).Scan(&profileID, &body)
	return decodeSession(profileID, body, err, id)
}

// SessionProfile implements cdp.ProfileReader.
func (s *Store) SessionProfile(ctx context.Context, id string) (string, error) {
	var pid string
	err := s.readRow(ctx, `SELECT p.id FROM sessions s JOIN profiles p ON p.id = s.profile_id WHERE s.id = ?`, id).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", cdp.Errorf(cdp.ENOTFOUND, "session %s has no live profile", id)
	}
	return pid, err
}

// FindSources implements cdp.SourceStore.
func (s *Store) FindSources(ctx context.Context) ([]*cdp.Source, error) {
	rows, err := s.read(ctx, `SELECT body FROM sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find sources: %w", err)
	}
	defer rows.Close()
	out := []*cdp.Source{}
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("find sources: %w", err)
		}
		src := &cdp.Source{}
		if err := json.Unmarshal(body, src); err != nil {
			return nil, fmt.Errorf("decode source: %w", err)
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

// CreateSource implements cdp.SourceStore.
func (s *Store) CreateSource(ctx context.Context, src *cdp.Source) error {
	return s.Update(ctx, func(cdp.Tx) error {
		body, err := json.Marshal(src)
		if err != nil {
			return fmt.Errorf("encode source: %w", err)
		}
		res, err := s.wconn.ExecContext(ctx, `INSERT INTO sources (id, body) VALUES (?, ?) ON CONFLICT DO NOTHING`, src.ID, body)
		if err != nil {
			return fmt.Errorf("create source: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return cdp.Errorf(cdp.ECONFLICT, "source %s already exists", src.ID)
		}
		return nil
	})
}

// UpdateSource implements cdp.SourceStore.
func (s *Store) UpdateSource(ctx context.Context, src *cdp.Source) error {
	return s.Update(ctx, func(cdp.Tx) error {
		body, err := json.Marshal(src)
		if err != nil {
			return fmt.Errorf("encode source: %w", err)
		}
		res, err := s.wconn.ExecContext(ctx, `UPDATE sources SET body = ? WHERE id = ?`, body, src.ID)
		if err != nil {
			return fmt.Errorf("update source: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return cdp.Errorf(cdp.ENOTFOUND, "source %s not found", src.ID)
		}
		return nil
	})
}

// DeleteSource implements cdp.SourceStore.
func (s *Store) DeleteSource(ctx context.Context, id string) error {
	return s.Update(ctx, func(cdp.Tx) error {
		res, err := s.wconn.ExecContext(ctx, `DELETE FROM sources WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete source: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return cdp.Errorf(cdp.ENOTFOUND, "source %s not found", id)
		}
		return nil
	})
}
