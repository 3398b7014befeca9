package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
)

// tx implements cdp.Tx inside a transaction.
type tx struct {
	tx pgx.Tx
}

var _ cdp.Tx = (*tx)(nil)

func (t *tx) InsertEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	body, err := storebody.EncodeEvent(e)
	if err != nil {
		return false, fmt.Errorf("encode event: %w", err)
	}
	// The message id is claimed first, in the same statement: a repeat of
	// it inserts nothing, on whichever node it arrives.
	tag, err := t.tx.Exec(ctx, `WITH claim AS (
			INSERT INTO event_messages (source_id, message_id, received_at)
			SELECT $2, $3, $9 WHERE $3::text IS NOT NULL
			ON CONFLICT DO NOTHING RETURNING 1)
		INSERT INTO events (id, source_id, message_id, type, profile_id, session_id, anonymous_id, timestamp, received_at, request_id, body)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
		WHERE ($3::text IS NULL OR EXISTS (SELECT 1 FROM claim))
		  AND NOT EXISTS (SELECT 1 FROM events WHERE id = $1)
		ON CONFLICT DO NOTHING`,
		e.ID, e.SourceID, nullable(e.MessageID), e.Type, nullable(e.ProfileID), nullable(e.SessionID), nullable(e.AnonymousID),
		e.Timestamp.UnixNano(), e.ReceivedAt.UnixNano(), nullable(e.RequestID), body)
	if err != nil {
		return false, fmt.Errorf("insert event: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) HasEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	var found bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)
		OR ($3::text IS NOT NULL AND EXISTS (SELECT 1 FROM event_messages WHERE source_id = $2 AND message_id = $3))`,
		e.ID, e.SourceID, nullable(e.MessageID)).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("find event: %w", err)
	}
	return found, nil
}

func (t *tx) AttachAnonymousEvents(ctx context.Context, anonymousID, profileID string, since time.Time) (int64, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE events SET profile_id = $1 WHERE anonymous_id = $2 AND profile_id IS NULL AND received_at >= $3`,
		profileID, anonymousID, since.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("attach anonymous events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// profileColumns is what every profile read selects, in scanProfile's order.
const profileColumns = `p.version, p.body, p.events, p.visits, p.last_visit_at, p.current_visit_at, p.updated_at`

func scanProfile(row pgx.Row, id string) (*cdp.Profile, error) {
	var body []byte
	var updated int64
	var last, current *int64
	p := &cdp.Profile{}
	if err := row.Scan(&p.Version, &body, &p.Stats.Events, &p.Stats.Visits, &last, &current, &updated); err != nil {
		return nil, notFound(err, "profile %s not found", id)
	}
	stats, version := p.Stats, p.Version
	if err := json.Unmarshal(body, p); err != nil {
		return nil, fmt.Errorf("decode profile %s: %w", id, err)
	}
	p.Stats, p.Version = stats, version
	p.Stats.LastVisitAt, p.Stats.CurrentVisitAt = fromNanos(last), fromNanos(current)
	p.UpdatedAt = time.Unix(0, updated).UTC()
	p.Normalize()
	return p, nil
}

func (t *tx) Profile(ctx context.Context, id string) (*cdp.Profile, error) {
	return scanProfile(t.tx.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles p WHERE p.id = $1`, id), id)
}

func (t *tx) ResolveProfileID(ctx context.Context, id string) (string, error) {
	var got string
	err := t.tx.QueryRow(ctx, `SELECT id FROM profiles WHERE id = COALESCE((SELECT profile_id FROM profile_aliases WHERE alias = $1), $1)`, id).Scan(&got)
	if err != nil {
		return "", notFound(err, "profile %s not found", id)
	}
	return got, nil
}

func (t *tx) InsertProfile(ctx context.Context, p *cdp.Profile) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode profile: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO profiles (id, version, body, events, visits, last_visit_at, current_visit_at, updated_at)
		VALUES ($1, 1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, p.ID, body, p.Stats.Events, p.Stats.Visits,
		toNanos(p.Stats.LastVisitAt), toNanos(p.Stats.CurrentVisitAt), p.UpdatedAt.UnixNano())
	if err != nil {
		return false, fmt.Errorf("insert profile: %w", err)
	}
	if tag.RowsAffected() == 1 {
		p.Version = 1
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) UpdateProfile(ctx context.Context, p *cdp.Profile) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE profiles SET version = version + 1, body = $1, events = $2, visits = $3,
		last_visit_at = $4, current_visit_at = $5, updated_at = $6 WHERE id = $7 AND version = $8`,
		body, p.Stats.Events, p.Stats.Visits, toNanos(p.Stats.LastVisitAt), toNanos(p.Stats.CurrentVisitAt),
		p.UpdatedAt.UnixNano(), p.ID, p.Version)
	if err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "profile %s changed concurrently or is gone", p.ID)
	}
	p.Version++
	return nil
}

func (t *tx) AddProfileStats(ctx context.Context, id string, events int64, visitAt *time.Time, at time.Time) error {
	var q string
	args := []any{events, at.UnixNano(), id}
	if visitAt == nil {
		q = `UPDATE profiles SET version = version + 1, events = events + $1, updated_at = GREATEST(updated_at, $2) WHERE id = $3`
	} else {
		q = `UPDATE profiles SET version = version + 1, events = events + $1, visits = visits + 1,
			last_visit_at = current_visit_at, current_visit_at = $4, updated_at = GREATEST(updated_at, $2) WHERE id = $3`
		args = append(args, visitAt.UnixNano())
	}
	tag, err := t.tx.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("add profile stats: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "profile %s not found", id)
	}
	return nil
}

func (t *tx) DeleteProfile(ctx context.Context, id string) error {
	for _, q := range []string{
		// The requests that carried the profile's events hold its data too,
		// and so do the events' message ids.
		`DELETE FROM raw_requests WHERE id IN (SELECT request_id FROM events WHERE request_id IS NOT NULL
			AND (profile_id = $1 OR session_id IN (SELECT id FROM sessions WHERE profile_id = $1)))`,
		`DELETE FROM event_messages m USING events e WHERE e.source_id = m.source_id AND e.message_id = m.message_id
			AND (e.profile_id = $1 OR e.session_id IN (SELECT id FROM sessions WHERE profile_id = $1))`,
		`DELETE FROM events WHERE profile_id = $1`,
		`DELETE FROM events WHERE session_id IN (SELECT id FROM sessions WHERE profile_id = $1)`,
		`DELETE FROM sessions WHERE profile_id = $1`,
		`DELETE FROM identifiers WHERE profile_id = $1`,
		`DELETE FROM profile_aliases WHERE profile_id = $1`,
		`DELETE FROM profiles WHERE id = $1`,
	} {
		if _, err := t.tx.Exec(ctx, q, id); err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
	}
	return nil
}

func (t *tx) MergeProfile(ctx context.Context, from, into string) error {
	for _, q := range []string{
		`UPDATE identifiers SET profile_id = $2 WHERE profile_id = $1`,
		`UPDATE sessions SET profile_id = $2 WHERE profile_id = $1`,
		`UPDATE events SET profile_id = $2 WHERE profile_id = $1`,
		`UPDATE profile_aliases SET profile_id = $2 WHERE profile_id = $1`,
		`INSERT INTO profile_aliases (alias, profile_id) VALUES ($1, $2) ON CONFLICT (alias) DO UPDATE SET profile_id = $2`,
		`DELETE FROM profiles WHERE id = $1 AND $2::text IS NOT NULL`,
	} {
		if _, err := t.tx.Exec(ctx, q, from, into); err != nil {
			return fmt.Errorf("merge profile: %w", err)
		}
	}
	return nil
}

func (t *tx) ProfileIDByIdentifier(ctx context.Context, ident cdp.Identifier) (string, error) {
	var id string
	err := t.tx.QueryRow(ctx, `SELECT profile_id FROM identifiers WHERE kind = $1 AND value = $2`, ident.Kind, ident.Value).Scan(&id)
	if err != nil {
		return "", notFound(err, "no profile has identifier %s", ident)
	}
	return id, nil
}

func (t *tx) ClaimIdentifier(ctx context.Context, ident cdp.Identifier, profileID string) (string, error) {
	// A concurrent claim of the same identifier on another node makes this
	// insert wait for it, then do nothing; the select sees the winner.
	if _, err := t.tx.Exec(ctx, `INSERT INTO identifiers (kind, value, profile_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		ident.Kind, ident.Value, profileID); err != nil {
		return "", fmt.Errorf("claim identifier: %w", err)
	}
	return t.ProfileIDByIdentifier(ctx, ident)
}

func (t *tx) ReleaseIdentifier(ctx context.Context, ident cdp.Identifier) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM identifiers WHERE kind = $1 AND value = $2`, ident.Kind, ident.Value); err != nil {
		return fmt.Errorf("release identifier: %w", err)
	}
	return nil
}

func scanSession(row pgx.Row, id string) (*cdp.Session, error) {
	var profileID *string
	var body []byte
	if err := row.Scan(&profileID, &body); err != nil {
		return nil, notFound(err, "session %s not found", id)
	}
	s := &cdp.Session{}
	if err := json.Unmarshal(body, s); err != nil {
		return nil, fmt.Errorf("decode session %s: %w", id, err)
	}
	s.ProfileID = ""
	if profileID != nil {
		s.ProfileID = *profileID
	}
	s.Normalize()
	return s, nil
}

func (t *tx) Session(ctx context.Context, id string) (*cdp.Session, error) {
	return scanSession(t.tx.QueryRow(ctx, `SELECT profile_id, body FROM sessions WHERE id = $1`, id), id)
}

func (t *tx) InsertSession(ctx context.Context, s *cdp.Session) (bool, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("encode session: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO sessions (id, profile_id, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		s.ID, nullable(s.ProfileID), body)
	if err != nil {
		return false, fmt.Errorf("insert session: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) UpdateSession(ctx context.Context, s *cdp.Session) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE sessions SET profile_id = $1, body = $2 WHERE id = $3`, nullable(s.ProfileID), body, s.ID)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "session %s not found", s.ID)
	}
	return nil
}

func (t *tx) InsertRawRequest(ctx context.Context, id string, r *cdp.RawRequest) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO raw_requests (id, received_at, method, path, remote_addr, header, body, body_size, truncated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		id, r.ReceivedAt.UnixNano(), r.Method, r.Path, r.RemoteAddr, r.Header, r.Body, r.BodySize, r.Truncated); err != nil {
		return fmt.Errorf("insert raw request: %w", err)
	}
	return nil
}

func (t *tx) DeleteRawRequestsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := t.tx.Exec(ctx, `DELETE FROM raw_requests WHERE id IN (SELECT id FROM raw_requests WHERE received_at < $1
		ORDER BY received_at LIMIT $2)`, before.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete raw requests: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (t *tx) CountEvents(ctx context.Context, counts []cdp.MinuteCount) error {
	for _, c := range counts {
		if _, err := t.tx.Exec(ctx, `INSERT INTO event_minutes (minute, source_id, events) VALUES ($1, $2, $3)
			ON CONFLICT (minute, source_id) DO UPDATE SET events = event_minutes.events + excluded.events`,
			c.Minute.Unix()/60, c.SourceID, c.Events); err != nil {
			return fmt.Errorf("count events: %w", err)
		}
	}
	return nil
}

func (t *tx) DeleteEventCountsBefore(ctx context.Context, before time.Time) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM event_minutes WHERE minute < $1`, before.Unix()/60); err != nil {
		return fmt.Errorf("delete event counts: %w", err)
	}
	return nil
}
