package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
)

// The many-row methods of cdp.Tx are loops here: SQLite runs in the
// process, so a statement costs no round trip and one per row is as fast
// as a many-row statement would be.

func (t *tx) InsertEvents(ctx context.Context, events []*cdp.Event) ([]bool, error) {
	stored := make([]bool, len(events))
	for i, e := range events {
		var err error
		if stored[i], err = t.InsertEvent(ctx, e); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

func (t *tx) InsertRawRequests(ctx context.Context, reqs map[string]*cdp.RawRequest) error {
	// In the order received, which DeleteRawRequestsBefore relies on.
	ids := slices.SortedFunc(maps.Keys(reqs), func(a, b string) int { return reqs[a].ReceivedAt.Compare(reqs[b].ReceivedAt) })
	for _, id := range ids {
		r := reqs[id]
		data := r.Packed
		if data == nil {
			data = packed.EncodeRaw(r)
		}
		if _, err := t.exec(ctx, `INSERT INTO raw_requests (id, received_at, method, path, remote_addr, data, body_size, truncated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			packID(id), r.ReceivedAt.UnixNano(), r.Method, r.Path, r.RemoteAddr, data, r.BodySize, r.Truncated); err != nil {
			return fmt.Errorf("insert raw request: %w", err)
		}
	}
	return nil
}

func (t *tx) Sessions(ctx context.Context, ids []string) (map[string]*cdp.Session, error) {
	return found(ids, func(id string) (*cdp.Session, error) { return t.Session(ctx, id) })
}

func (t *tx) ResolveProfileIDs(ctx context.Context, ids []string) (map[string]string, error) {
	return found(ids, func(id string) (string, error) { return t.ResolveProfileID(ctx, id) })
}

func (t *tx) ProfileIDsByIdentifiers(ctx context.Context, idents []cdp.Identifier) (map[cdp.Identifier]string, error) {
	return found(idents, func(ident cdp.Identifier) (string, error) { return t.ProfileIDByIdentifier(ctx, ident) })
}

func (t *tx) InsertProfiles(ctx context.Context, ps []*cdp.Profile) error {
	for _, p := range ps {
		if _, err := t.InsertProfile(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) ClaimIdentifiers(ctx context.Context, claims map[cdp.Identifier]string) (map[cdp.Identifier]string, error) {
	out := make(map[cdp.Identifier]string, len(claims))
	for ident, pid := range claims {
		owner, err := t.ClaimIdentifier(ctx, ident, pid)
		if err != nil {
			return nil, err
		}
		out[ident] = owner
	}
	return out, nil
}

// found calls get for each id and keeps what it found, by id.
func found[K comparable, V any](ids []K, get func(id K) (V, error)) (map[K]V, error) {
	out := make(map[K]V, len(ids))
	for _, id := range ids {
		v, err := get(id)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, nil
}
