package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// tx implements cdp.Tx on the writer connection inside an open transaction.
type tx struct {
	relational.Waits // the journey tables (set by newTx)
	s                *Store
	ctx              context.Context
}

// newTx is a transaction of s.
func newTx(s *Store, ctx context.Context) *tx {
	t := &tx{s: s, ctx: ctx}
	t.Waits = t.waits()
	return t
}

var _ cdp.Tx = (*tx)(nil)

// exec runs a statement of the transaction. Its context does not cancel
// the statement: with a context that can end, the driver starts a
// goroutine per statement to interrupt it, which cost a fifth of the
// writer's statement time (pprof), while every statement here is a point
// write or read of microseconds. The writer checks each Update's context
// before running it.
func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	st, err := t.s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx) // as exec
	st, err := t.s.stmt(ctx, query)
	if err != nil {
		// Surface the prepare error through the row's Scan.
		return t.s.wconn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *tx) InsertEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	body, err := storebody.EncodeEvent(e)
	if err != nil {
		return false, fmt.Errorf("encode event: %w", err)
	}
	res, err := t.exec(ctx, `INSERT INTO events (id, source_id, message_id, type, profile_id, session_id, anonymous_id, timestamp, received_at, request_id, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		packID(e.ID), e.SourceID, nullable(e.MessageID), e.Type, packID(e.ProfileID), nullable(e.SessionID), nullable(e.AnonymousID),
		e.Timestamp.UnixNano(), e.ReceivedAt.UnixNano(), packID(e.RequestID), body)
	if err != nil {
		return false, fmt.Errorf("insert event: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// profileColumns is what every profile read selects, in scanProfile's order.
const profileColumns = `version, body, events, visits, last_visit_at, current_visit_at, updated_at`

func (t *tx) HasEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	var found bool
	err := t.queryRow(ctx, `SELECT EXISTS(SELECT 1 FROM events WHERE id = ?1)
		OR (?3 IS NOT NULL AND EXISTS(SELECT 1 FROM events WHERE source_id = ?2 AND message_id = ?3))`,
		packID(e.ID), e.SourceID, nullable(e.MessageID)).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("find event: %w", err)
	}
	return found, nil
}

func (t *tx) AttachAnonymousEvents(ctx context.Context, anonymousID, profileID string, since time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE events SET profile_id = ? WHERE anonymous_id = ? AND profile_id IS NULL AND received_at >= ?`,
		packID(profileID), anonymousID, since.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("attach anonymous events: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) Profile(ctx context.Context, id string) (*cdp.Profile, error) {
	return scanProfile(t.queryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE id = ?`, id), id)
}

// scanProfile decodes a profile row; the counter columns win over the body.
func scanProfile(row *sql.Row, id string) (*cdp.Profile, error) {
	var r storebody.ProfileRow
	err := row.Scan(r.Dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "profile %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	return r.Profile(id)
}

func fromNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}

func toNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func (t *tx) ResolveProfileID(ctx context.Context, id string) (string, error) {
	var got string
	err := t.queryRow(ctx, `SELECT id FROM profiles WHERE id = COALESCE((SELECT profile_id FROM profile_aliases WHERE alias = ?), ?)`, id, id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return "", cdp.Errorf(cdp.ENOTFOUND, "profile %s not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("resolve profile: %w", err)
	}
	return got, nil
}

func (t *tx) InsertProfile(ctx context.Context, p *cdp.Profile) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode profile: %w", err)
	}
	res, err := t.exec(ctx, `INSERT INTO profiles (id, version, body, events, visits, last_visit_at, current_visit_at, updated_at)
		VALUES (?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, p.ID, body, p.Stats.Events, p.Stats.Visits,
		toNanos(p.Stats.LastVisitAt), toNanos(p.Stats.CurrentVisitAt), p.UpdatedAt.UnixNano())
	if err != nil {
		return false, fmt.Errorf("insert profile: %w", err)
	}
	n, err := res.RowsAffected()
	if n == 1 {
		p.Version = 1
	}
	return n == 1, err
}

func (t *tx) UpdateProfile(ctx context.Context, p *cdp.Profile) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE profiles SET version = version + 1, body = ?, events = ?, visits = ?,
		last_visit_at = ?, current_visit_at = ?, updated_at = ? WHERE id = ? AND version = ?`,
		body, p.Stats.Events, p.Stats.Visits, toNanos(p.Stats.LastVisitAt), toNanos(p.Stats.CurrentVisitAt),
		p.UpdatedAt.UnixNano(), p.ID, p.Version)
	if err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "profile %s changed concurrently or is gone", p.ID)
	}
	p.Version++
	return nil
}

func (t *tx) AddProfileStats(ctx context.Context, stats []cdp.StatsDelta) error {
	for _, st := range stats {
		var res sql.Result
		var err error
		if st.VisitAt == nil {
			res, err = t.exec(ctx, `UPDATE profiles SET version = version + 1, events = events + ?, updated_at = MAX(updated_at, ?)
				WHERE id = ?`, st.Events, st.At.UnixNano(), st.ID)
		} else {
			res, err = t.exec(ctx, `UPDATE profiles SET version = version + 1, events = events + ?, visits = visits + 1,
				last_visit_at = current_visit_at, current_visit_at = ?, updated_at = MAX(updated_at, ?) WHERE id = ?`,
				st.Events, st.VisitAt.UnixNano(), st.At.UnixNano(), st.ID)
		}
		if err != nil {
			return fmt.Errorf("add profile stats: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return cdp.Errorf(cdp.ENOTFOUND, "profile %s not found", st.ID)
		}
	}
	return nil
}

func (t *tx) DeleteProfile(ctx context.Context, id string) error {
	text, packed := id, packID(id) // as other tables hold it, as events do
	for _, st := range []statement{
		// The requests that carried the profile's events hold its data too.
		{`DELETE FROM raw_requests WHERE id IN (SELECT request_id FROM events WHERE request_id IS NOT NULL
			AND (profile_id = ?1 OR session_id IN (SELECT id FROM sessions WHERE profile_id = ?2)))`, []any{packed, text}},
		{`DELETE FROM events WHERE profile_id = ?`, []any{packed}},
		{`DELETE FROM events WHERE session_id IN (SELECT id FROM sessions WHERE profile_id = ?)`, []any{text}},
		{`DELETE FROM sessions WHERE profile_id = ?`, []any{text}},
		{`DELETE FROM identifiers WHERE profile_id = ?`, []any{text}},
		{`DELETE FROM profile_aliases WHERE profile_id = ?`, []any{text}},
		{`DELETE FROM waits WHERE profile_id = ?`, []any{text}},
		{`DELETE FROM frequencies WHERE profile_id = ?`, []any{text}},
		{`DELETE FROM profiles WHERE id = ?`, []any{text}},
	} {
		if _, err := t.exec(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
	}
	return nil
}

// statement is a query with its arguments.
type statement struct {
	query string
	args  []any
}

func (t *tx) MergeProfile(ctx context.Context, from, into string) error {
	ids := []any{from, into}
	for _, st := range []statement{
		{`UPDATE identifiers SET profile_id = ?2 WHERE profile_id = ?1`, ids},
		{`UPDATE sessions SET profile_id = ?2 WHERE profile_id = ?1`, ids},
		{`UPDATE events SET profile_id = ?2 WHERE profile_id = ?1`, []any{packID(from), packID(into)}},
		{`UPDATE profile_aliases SET profile_id = ?2 WHERE profile_id = ?1`, ids},
		{`UPDATE waits SET profile_id = ?2 WHERE profile_id = ?1`, ids},
		// The survivor keeps its own claims; the merged-away one's others move.
		{`DELETE FROM frequencies WHERE profile_id = ?1 AND workflow_id IN (SELECT workflow_id FROM frequencies WHERE profile_id = ?2)`, ids},
		{`UPDATE frequencies SET profile_id = ?2 WHERE profile_id = ?1`, ids},
		{`INSERT INTO profile_aliases (alias, profile_id) VALUES (?1, ?2) ON CONFLICT (alias) DO UPDATE SET profile_id = ?2`, ids},
		{`DELETE FROM profiles WHERE id = ?`, ids[:1]},
	} {
		if _, err := t.exec(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("merge profile: %w", err)
		}
	}
	return nil
}

func (t *tx) ProfileIDByIdentifier(ctx context.Context, ident cdp.Identifier) (string, error) {
	var id string
	err := t.queryRow(ctx, `SELECT profile_id FROM identifiers WHERE kind = ? AND value = ?`, ident.Kind, ident.Value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", cdp.Errorf(cdp.ENOTFOUND, "no profile has identifier %s", ident)
	}
	if err != nil {
		return "", fmt.Errorf("find identifier: %w", err)
	}
	return id, nil
}

func (t *tx) ClaimIdentifier(ctx context.Context, ident cdp.Identifier, profileID string) (string, error) {
	if _, err := t.exec(ctx, `INSERT INTO identifiers (kind, value, profile_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		ident.Kind, ident.Value, profileID); err != nil {
		return "", fmt.Errorf("claim identifier: %w", err)
	}
	return t.ProfileIDByIdentifier(ctx, ident)
}

func (t *tx) ReleaseIdentifier(ctx context.Context, ident cdp.Identifier) error {
	if _, err := t.exec(ctx, `DELETE FROM identifiers WHERE kind = ? AND value = ?`, ident.Kind, ident.Value); err != nil {
		return fmt.Errorf("release identifier: %w", err)
	}
	return nil
}

func (t *tx) Session(ctx context.Context, id string) (*cdp.Session, error) {
	var profileID sql.NullString
	var body []byte
	err := t.queryRow(ctx, `SELECT profile_id, body FROM sessions WHERE id = ?`, id).Scan(&profileID, &body)
	return decodeSession(profileID, body, err, id)
}

func decodeSession(profileID sql.NullString, body []byte, err error, id string) (*cdp.Session, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "session %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	s := &cdp.Session{}
	if err := json.Unmarshal(body, s); err != nil {
		return nil, fmt.Errorf("decode session %s: %w", id, err)
	}
	s.ProfileID = profileID.String
	s.Normalize()
	return s, nil
}

func (t *tx) InsertSession(ctx context.Context, s *cdp.Session) (bool, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("encode session: %w", err)
	}
	res, err := t.exec(ctx, `INSERT INTO sessions (id, profile_id, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		s.ID, nullable(s.ProfileID), body)
	if err != nil {
		return false, fmt.Errorf("insert session: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) UpdateSession(ctx context.Context, s *cdp.Session) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE sessions SET profile_id = ?, body = ? WHERE id = ?`, nullable(s.ProfileID), body, s.ID)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "session %s not found", s.ID)
	}
	return nil
}

func (t *tx) DeleteRawRequestsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	// Request ids are time-ordered (UUIDv7), so the oldest rows come first
	// in the primary key without an index on received_at (one less index
	// write per request); at most limit rows are examined.
	res, err := t.exec(ctx, `DELETE FROM raw_requests WHERE id IN (SELECT id FROM
		(SELECT id, received_at FROM raw_requests ORDER BY id LIMIT ?2) WHERE received_at < ?1)`, before.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete raw requests: %w", err)
	}
	return res.RowsAffected()
}
