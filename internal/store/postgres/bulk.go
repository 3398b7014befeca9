package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
	storebody "github.com/switchyardhq/switchyard/internal/store/body"
)

// The many-row methods of cdp.Tx send one statement whatever the number
// of rows: the rows travel as arrays, one per column, that unnest turns
// back into rows. A processor transaction of hundreds of events costs a
// few round trips instead of a few per event.

// insertEvents claims the message ids first, in the same statement, so a
// repeat of one inserts nothing on whichever node it arrives. An event
// redelivered by the log has the id and receive time the edge gave it, so
// the primary key skips it in its own partition; probing every partition
// for the id instead cost each event an index lookup per day kept.
const insertEvents = `WITH input AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::bigint[], $9::bigint[], $10::text[], $11::bytea[])
		AS i(id, source_id, message_id, type, profile_id, session_id, anonymous_id, "timestamp", received_at, request_id, body)),
	claim AS (
		INSERT INTO event_messages (source_id, message_id, received_at)
		SELECT source_id, message_id, received_at FROM input WHERE message_id IS NOT NULL
		ON CONFLICT DO NOTHING RETURNING source_id, message_id)
	INSERT INTO events (id, source_id, message_id, type, profile_id, session_id, anonymous_id, "timestamp", received_at, request_id, body)
	SELECT i.* FROM input i
	WHERE i.message_id IS NULL OR EXISTS (SELECT 1 FROM claim c WHERE c.source_id = i.source_id AND c.message_id = i.message_id)
	ON CONFLICT DO NOTHING
	RETURNING id`

func (t *tx) InsertEvents(ctx context.Context, events []*cdp.Event) ([]bool, error) {
	stored := make([]bool, len(events))
	// One statement sees the table as it was before it: repeats within the
	// call are dropped here, the first occurrence kept.
	type messageKey struct{ source, message string }
	ids := map[string]bool{}
	messages := map[messageKey]bool{}
	var c eventArrays
	for _, e := range events {
		mk := messageKey{e.SourceID, e.MessageID}
		if ids[e.ID] || (e.MessageID != "" && messages[mk]) {
			continue
		}
		ids[e.ID] = true
		if e.MessageID != "" {
			messages[mk] = true
		}
		if err := c.add(e); err != nil {
			return nil, err
		}
	}
	if len(c.id) == 0 {
		return stored, nil
	}
	rows, err := t.tx.Query(ctx, insertEvents, c.id, c.source, c.message, c.typ, c.profile, c.session, c.anonymous,
		c.timestamp, c.received, c.request, c.body)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	inserted := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert events: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	for i, e := range events {
		// An id inserted once answers only for its first event.
		stored[i] = inserted[e.ID]
		delete(inserted, e.ID)
	}
	return stored, nil
}

// eventArrays holds events as the column arrays of insertEvents.
type eventArrays struct {
	id, source, typ                               []string
	message, profile, session, anonymous, request []*string
	timestamp, received                           []int64
	body                                          [][]byte
}

func (c *eventArrays) add(e *cdp.Event) error {
	body, err := storebody.EncodeEvent(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	c.id, c.source, c.typ = append(c.id, e.ID), append(c.source, e.SourceID), append(c.typ, e.Type)
	c.message, c.profile = append(c.message, orNull(e.MessageID)), append(c.profile, orNull(e.ProfileID))
	c.session, c.anonymous = append(c.session, orNull(e.SessionID)), append(c.anonymous, orNull(e.AnonymousID))
	c.request = append(c.request, orNull(e.RequestID))
	c.timestamp, c.received = append(c.timestamp, e.Timestamp.UnixNano()), append(c.received, e.ReceivedAt.UnixNano())
	c.body = append(c.body, body)
	return nil
}

// orNull is NULL for an empty string, in a column or an array.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (t *tx) InsertRawRequests(ctx context.Context, reqs map[string]*cdp.RawRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	var ids, methods, paths, addrs []string
	var received, sizes []int64
	var data [][]byte
	var truncated []bool
	for id, r := range reqs {
		headerBody := r.Packed
		if headerBody == nil {
			headerBody = packed.EncodeRaw(r)
		}
		ids, methods, paths, addrs = append(ids, id), append(methods, r.Method), append(paths, r.Path), append(addrs, r.RemoteAddr)
		received, sizes = append(received, r.ReceivedAt.UnixNano()), append(sizes, r.BodySize)
		data, truncated = append(data, headerBody), append(truncated, r.Truncated)
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO raw_requests (id, received_at, method, path, remote_addr, data, body_size, truncated)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], $8::bool[])
		ON CONFLICT DO NOTHING`, ids, received, methods, paths, addrs, data, sizes, truncated); err != nil {
		return fmt.Errorf("insert raw requests: %w", err)
	}
	return nil
}

func (t *tx) Sessions(ctx context.Context, ids []string) (map[string]*cdp.Session, error) {
	out := make(map[string]*cdp.Session, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.tx.Query(ctx, `SELECT id, profile_id, body FROM sessions WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var profileID *string
		var body []byte
		if err := rows.Scan(&id, &profileID, &body); err != nil {
			return nil, fmt.Errorf("read sessions: %w", err)
		}
		s, err := decodeSession(id, profileID, body)
		if err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

func (t *tx) ResolveProfileIDs(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.tx.Query(ctx, `SELECT i.id, p.id FROM unnest($1::text[]) AS i(id)
		JOIN profiles p ON p.id = COALESCE((SELECT profile_id FROM profile_aliases WHERE alias = i.id), i.id)`, ids)
	if err != nil {
		return nil, fmt.Errorf("resolve profiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, live string
		if err := rows.Scan(&id, &live); err != nil {
			return nil, fmt.Errorf("resolve profiles: %w", err)
		}
		out[id] = live
	}
	return out, rows.Err()
}

func (t *tx) ProfileIDsByIdentifiers(ctx context.Context, idents []cdp.Identifier) (map[cdp.Identifier]string, error) {
	out := make(map[cdp.Identifier]string, len(idents))
	if len(idents) == 0 {
		return out, nil
	}
	kinds, values := make([]string, len(idents)), make([]string, len(idents))
	for i, ident := range idents {
		kinds[i], values[i] = ident.Kind, ident.Value
	}
	rows, err := t.tx.Query(ctx, `SELECT i.kind, i.value, i.profile_id FROM identifiers i
		JOIN unnest($1::text[], $2::text[]) AS u(kind, value) ON i.kind = u.kind AND i.value = u.value`, kinds, values)
	if err != nil {
		return nil, fmt.Errorf("find identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ident cdp.Identifier
		var pid string
		if err := rows.Scan(&ident.Kind, &ident.Value, &pid); err != nil {
			return nil, fmt.Errorf("find identifiers: %w", err)
		}
		out[ident] = pid
	}
	return out, rows.Err()
}

func (t *tx) InsertProfiles(ctx context.Context, ps []*cdp.Profile) error {
	if len(ps) == 0 {
		return nil
	}
	var ids []string
	var bodies [][]byte
	var events, visits, updated []int64
	var last, current []*int64
	for _, p := range ps {
		body, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode profile: %w", err)
		}
		ids, bodies, updated = append(ids, p.ID), append(bodies, body), append(updated, p.UpdatedAt.UnixNano())
		events, visits = append(events, p.Stats.Events), append(visits, p.Stats.Visits)
		last, current = append(last, toNanos(p.Stats.LastVisitAt)), append(current, toNanos(p.Stats.CurrentVisitAt))
	}
	rows, err := t.tx.Query(ctx, `INSERT INTO profiles (id, version, body, events, visits, last_visit_at, current_visit_at, updated_at)
		SELECT id, 1, body, events, visits, last_visit_at, current_visit_at, updated_at
		FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
		AS p(id, body, events, visits, last_visit_at, current_visit_at, updated_at)
		ON CONFLICT DO NOTHING RETURNING id`, ids, bodies, events, visits, last, current, updated)
	if err != nil {
		return fmt.Errorf("insert profiles: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("insert profiles: %w", err)
	}
	byID := make(map[string]*cdp.Profile, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	for _, id := range inserted {
		byID[id].Version = 1
	}
	return nil
}

func (t *tx) ClaimIdentifiers(ctx context.Context, claims map[cdp.Identifier]string) (map[cdp.Identifier]string, error) {
	if len(claims) == 0 {
		return map[cdp.Identifier]string{}, nil
	}
	// In key order, as on every node, so that two transactions claiming
	// some of the same identifiers wait for each other instead of
	// deadlocking.
	idents := slices.SortedFunc(maps.Keys(claims), func(a, b cdp.Identifier) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	kinds, values, owners := make([]string, len(idents)), make([]string, len(idents)), make([]string, len(idents))
	for i, ident := range idents {
		kinds[i], values[i], owners[i] = ident.Kind, ident.Value, claims[ident]
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO identifiers (kind, value, profile_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`, kinds, values, owners); err != nil {
		return nil, fmt.Errorf("claim identifiers: %w", err)
	}
	return t.ProfileIDsByIdentifiers(ctx, idents)
}
