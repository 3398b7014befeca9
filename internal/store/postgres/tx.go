package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/body"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// tx implements cdp.Tx inside a transaction.
type tx struct {
	relational.Waits // the journey tables (set by newTx)
	tx               pgx.Tx
}

// newTx is a transaction of ptx.
func newTx(ptx pgx.Tx) *tx {
	t := &tx{tx: ptx}
	t.Waits = t.waits()
	return t
}

var _ cdp.Tx = (*tx)(nil)

func (t *tx) InsertEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	stored, err := t.InsertEvents(ctx, []*cdp.Event{e})
	if err != nil {
		return false, err
	}
	return stored[0], nil
}

func (t *tx) HasEvent(ctx context.Context, e *cdp.Event) (bool, error) {
	var found bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)
		OR ($3::text IS NOT NULL AND EXISTS (SELECT 1 FROM event_messages WHERE source_id = $2 AND message_id = $3))`,
		e.ID, e.SourceID, orNull(e.MessageID)).Scan(&found)
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
	var r body.ProfileRow
	if err := row.Scan(r.Dest()...); err != nil {
		return nil, notFound(err, "profile %s not found", id)
	}
	return r.Profile(id)
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

func (t *tx) AddProfileStats(ctx context.Context, deltas []cdp.StatsDelta) error {
	// One statement per round: the first adds every profile's events and
	// its first visit, the next (rare: two new sessions of one profile in
	// a transaction) each profile's next visit. Rows are locked in id
	// order, as on every node, so that two transactions do not deadlock.
	type sum struct {
		events int64
		visits []int64
		at     time.Time
	}
	sums := map[string]*sum{}
	rounds := 1
	for _, d := range deltas {
		s := sums[d.ID]
		if s == nil {
			s = &sum{}
			sums[d.ID] = s
		}
		s.events += d.Events
		if d.At.After(s.at) {
			s.at = d.At
		}
		if d.VisitAt != nil {
			s.visits = append(s.visits, d.VisitAt.UnixNano())
			rounds = max(rounds, len(s.visits))
		}
	}
	ids := slices.Sorted(maps.Keys(sums))
	for r := range rounds {
		var round []string
		var events []int64
		var visits []*int64
		var at []int64
		for _, id := range ids {
			s := sums[id]
			if r > 0 && len(s.visits) <= r {
				continue
			}
			round, at = append(round, id), append(at, s.at.UnixNano())
			if r == 0 {
				events = append(events, s.events)
			} else {
				events = append(events, 0)
			}
			var v *int64
			if r < len(s.visits) {
				v = &s.visits[r]
			}
			visits = append(visits, v)
		}
		if len(round) == 0 {
			continue
		}
		tag, err := t.tx.Exec(ctx, `UPDATE profiles p SET version = p.version + 1, events = p.events + u.events,
			visits = p.visits + (u.visit IS NOT NULL)::int,
			last_visit_at = CASE WHEN u.visit IS NULL THEN p.last_visit_at ELSE p.current_visit_at END,
			current_visit_at = COALESCE(u.visit, p.current_visit_at),
			updated_at = GREATEST(p.updated_at, u.at)
			FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, events, visit, at)
			WHERE p.id = u.id`, round, events, visits, at)
		if err != nil {
			return fmt.Errorf("add profile stats: %w", err)
		}
		if tag.RowsAffected() != int64(len(round)) {
			return cdp.Errorf(cdp.ENOTFOUND, "%d of profiles %v not found", len(round)-int(tag.RowsAffected()), round)
		}
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
		`DELETE FROM waits WHERE profile_id = $1`,
		`DELETE FROM frequencies WHERE profile_id = $1`,
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
		`UPDATE waits SET profile_id = $2 WHERE profile_id = $1`,
		// The survivor keeps its own claims; the merged-away one's others move.
		`DELETE FROM frequencies WHERE profile_id = $1 AND workflow_id IN (SELECT workflow_id FROM frequencies WHERE profile_id = $2)`,
		`UPDATE frequencies SET profile_id = $2 WHERE profile_id = $1`,
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
	return decodeSession(id, profileID, body)
}

func decodeSession(id string, profileID *string, body []byte) (*cdp.Session, error) {
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
		s.ID, orNull(s.ProfileID), body)
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
	tag, err := t.tx.Exec(ctx, `UPDATE sessions SET profile_id = $1, body = $2 WHERE id = $3`, orNull(s.ProfileID), body, s.ID)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ENOTFOUND, "session %s not found", s.ID)
	}
	return nil
}

func (t *tx) DeleteRawRequestsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	// The oldest by id (time-ordered), as the primary key lists them.
	tag, err := t.tx.Exec(ctx, `DELETE FROM raw_requests WHERE id IN (SELECT id FROM raw_requests ORDER BY id LIMIT $2)
		AND received_at < $1`, before.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete raw requests: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (t *tx) CountEvents(ctx context.Context, counts []cdp.MinuteCount) error {
	if len(counts) == 0 {
		return nil
	}
	minutes, sources, events := make([]int64, len(counts)), make([]string, len(counts)), make([]int64, len(counts))
	for i, c := range counts {
		minutes[i], sources[i], events[i] = c.Minute.Unix()/60, c.SourceID, int64(c.Events)
	}
	// Each connection adds to its own row (its backend's pid): no two
	// transactions running at once share one, so none waits for another's
	// commit here.
	if _, err := t.tx.Exec(ctx, `INSERT INTO event_minutes (minute, source_id, writer, events)
		SELECT minute, source_id, pg_backend_pid(), SUM(events) FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS c(minute, source_id, events)
		GROUP BY minute, source_id
		ON CONFLICT (minute, source_id, writer) DO UPDATE SET events = event_minutes.events + excluded.events`,
		minutes, sources, events); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	return nil
}

func (t *tx) DeleteEventCountsBefore(ctx context.Context, before time.Time) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM event_minutes WHERE minute < $1`, before.Unix()/60); err != nil {
		return fmt.Errorf("delete event counts: %w", err)
	}
	return nil
}
