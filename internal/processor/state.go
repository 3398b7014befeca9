package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
)

// state is what one transaction has loaded and changed. Profile counters
// are summed per profile and applied once as increments; sessions touched
// by many events are read and written once.
type state struct {
	tx         cdp.Tx
	resolved   map[string]string // profile id as sent → live profile id
	owners     map[cdp.Identifier]string
	counts     map[string]*profileCount
	sessions   map[string]*cdp.Session // nil: known not to be stored
	newSession map[string]bool
	dirty      map[string]bool   // sessions to write
	applied    map[string]uint64 // session update fingerprints, cached after commit
	seen       *cache.Cache[string, uint64]
	// known is the processor's memory of identifier owners from earlier
	// transactions; nil once this one ran an operation (which may move
	// identifiers). learned is what this one read from the store.
	known      *cache.Cache[cdp.Identifier, string]
	learned    map[cdp.Identifier]string
	stored     []*cdp.Event
	pending    []pendingEvent // applied, not yet inserted
	duplicates int
	ephemeral  int
	erased     bool       // a profile was erased or merged: cached sessions may be stale
	runs       []*cdp.Run // workflow runs the stored events started
	spans      *storeSpans
}

// trigger creates, in the transaction, the workflow runs the stored events
// start; an event redelivered after its commit is not stored again, so its
// runs are never created twice.
func (st *state) trigger(ctx context.Context, t Triggers, now time.Time) error {
	if t == nil {
		return nil
	}
	for _, e := range st.stored {
		runs, err := t.Runs(ctx, st.tx, e, now)
		if err != nil {
			return err
		}
		for _, r := range runs {
			r.TraceParent = st.spans.of(e)
			inserted, err := st.tx.InsertRun(ctx, r)
			if err != nil {
				return err
			}
			if inserted {
				if err := t.Started(ctx, st.tx, r, e); err != nil {
					return err
				}
				st.runs = append(st.runs, r)
				st.spans.started(e, r)
			}
		}
	}
	woken, err := t.Wake(ctx, st.tx, st.stored, now)
	st.runs = append(st.runs, woken...)
	return err
}

type profileCount struct {
	events int64
	visits []time.Time
	at     time.Time
}

func newState(tx cdp.Tx, seen *cache.Cache[string, uint64], known *cache.Cache[cdp.Identifier, string]) *state {
	return &state{tx: tx, resolved: map[string]string{}, owners: map[cdp.Identifier]string{}, counts: map[string]*profileCount{},
		sessions: map[string]*cdp.Session{}, newSession: map[string]bool{}, dirty: map[string]bool{},
		applied: map[string]uint64{}, seen: seen, known: known, learned: map[cdp.Identifier]string{}}
}

func (st *state) apply(ctx context.Context, b *cdp.Batch) error {
	if b.Session != nil {
		if err := st.updateSession(ctx, b); err != nil {
			return err
		}
	}
	for _, e := range b.Events {
		named := e.ProfileID == ""
		if err := st.resolve(ctx, e); err != nil {
			return err
		}
		if named && e.ProfileID != "" {
			// Found through the identifiers, which merges re-point: live.
			st.resolved[e.ProfileID] = e.ProfileID
		}
		if e.Ephemeral {
			st.ephemeral++
			continue
		}
		if e.ProfileID != "" {
			pid, err := st.profileID(ctx, e.ProfileID, e.ReceivedAt)
			if err != nil {
				return err
			}
			e.ProfileID = pid
		}
		st.pending = append(st.pending, pendingEvent{e, b})
	}
	return nil
}

// pendingEvent is an event waiting for insertPending, with its batch.
type pendingEvent struct {
	e *cdp.Event
	b *cdp.Batch
}

// insertPending stores the events applied since its last call in one
// write, with the raw requests of the batches that had one stored. Events
// wait so that a transaction of many costs one write, not one each; what
// reads or moves stored events (operations) calls it first.
func (st *state) insertPending(ctx context.Context) error {
	if len(st.pending) == 0 {
		return nil
	}
	events := make([]*cdp.Event, len(st.pending))
	for i, p := range st.pending {
		events[i] = p.e
	}
	stored, err := st.tx.InsertEvents(ctx, events)
	if err != nil {
		return err
	}
	raw := map[string]*cdp.RawRequest{}
	for i, p := range st.pending {
		if !stored[i] {
			st.duplicates++
			continue
		}
		st.stored = append(st.stored, p.e)
		if p.e.ProfileID != "" {
			st.count(p.e)
		}
		if p.b.Raw != nil {
			raw[p.b.ID] = p.b.Raw
		}
	}
	st.pending = st.pending[:0]
	return st.tx.InsertRawRequests(ctx, raw)
}

// prefetch reads, one query for all, the sessions and profiles batches
// name, which apply would otherwise read one at a time. A session whose
// update is skipped (see updateSession) is not read.
func (st *state) prefetch(ctx context.Context, batches []*cdp.Batch) error {
	var sessions, profiles []string
	seen := map[string]bool{}
	add := func(list *[]string, id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			*list = append(*list, id)
		}
	}
	for _, b := range batches {
		if u := b.Session; u != nil {
			if last, ok := st.lastUpdate(u.ID); !ok || last != fingerprint(u) {
				add(&sessions, u.ID)
				add(&profiles, u.ProfileID)
			}
		}
		for _, e := range b.Events {
			add(&profiles, e.ProfileID)
		}
	}
	found, err := st.tx.Sessions(ctx, sessions)
	if err != nil {
		return err
	}
	for _, id := range sessions {
		st.sessions[id] = found[id] // nil: known not to be stored
	}
	live, err := st.tx.ResolveProfileIDs(ctx, profiles)
	if err != nil {
		return err
	}
	for id, pid := range live {
		st.resolved[id] = pid
	}
	if err := st.prefetchOwners(ctx, batches); err != nil {
		return err
	}
	return st.createNewcomers(ctx, batches)
}

// prefetchOwners reads, one query for all, the owners of the identifiers
// that name the people of plain events (the Customer.io APIs' track
// calls), which Owner would otherwise look up one round trip at a time.
// An identifier found unowned is remembered as such ("") until an event
// claims it (resolve) or an operation moves identifiers.
func (st *state) prefetchOwners(ctx context.Context, batches []*cdp.Batch) error {
	var idents []cdp.Identifier
	seen := map[cdp.Identifier]bool{}
	for _, b := range batches {
		for _, e := range b.Events {
			if e.ProfileID != "" || e.Op != "" {
				continue
			}
			for _, ident := range e.Identifiers {
				if seen[ident] {
					continue
				}
				seen[ident] = true
				if st.known != nil {
					if _, ok := st.known.Get(ident); ok {
						continue
					}
				}
				idents = append(idents, ident)
			}
		}
	}
	if len(idents) == 0 {
		return nil
	}
	owners, err := st.tx.ProfileIDsByIdentifiers(ctx, idents)
	if err != nil {
		return err
	}
	for _, ident := range idents {
		st.own(ident, owners[ident])
	}
	return nil
}

// own records pid as ident's owner for the transaction ("": none).
func (st *state) own(ident cdp.Identifier, pid string) {
	st.owners[ident] = pid
	if pid != "" && st.learned != nil {
		st.learned[ident] = pid
	}
}

// createNewcomers makes, a few writes for all, the profiles of the people
// that plain events name only by identifiers found unowned, which resolve
// would otherwise make one by one, a few round trips each. A person whose
// making lost a race (identity.CreateAll) is left to resolve.
func (st *state) createNewcomers(ctx context.Context, batches []*cdp.Batch) error {
	var newcomers []identity.Newcomer
	taken := map[cdp.Identifier]bool{}
	// Only up to the first operation: making a person ahead of an alias,
	// merge or identify that comes first would change what it does.
batches:
	for _, b := range batches {
		for _, e := range b.Events {
			if e.Op != "" {
				break batches
			}
			if e.ProfileID != "" {
				continue
			}
			if named := st.unowned(e.Identifiers, taken); len(named) > 0 {
				newcomers = append(newcomers, identity.Newcomer{Identifiers: named, At: e.ReceivedAt})
			}
		}
	}
	if len(newcomers) == 0 {
		return nil
	}
	ids, err := identity.CreateAll(ctx, st.tx, newcomers)
	if err != nil {
		return err
	}
	for i, n := range newcomers {
		for _, ident := range n.Identifiers {
			if ids[i] != "" {
				st.own(ident, ids[i])
			} else {
				delete(st.owners, ident) // look it up again
			}
		}
	}
	return nil
}

// unowned returns the identifiers other than anonymous ids among idents if
// each was read unowned and none is taken (by an earlier newcomer), one
// of each kind, and marks them taken; otherwise none.
func (st *state) unowned(idents []cdp.Identifier, taken map[cdp.Identifier]bool) []cdp.Identifier {
	var named []cdp.Identifier
	kinds := map[string]bool{}
	for _, ident := range idents {
		if ident.Kind == cdp.IdentifierAnonymousID {
			continue
		}
		if pid, read := st.owners[ident]; !read || pid != "" || taken[ident] || kinds[ident.Kind] {
			return nil
		}
		kinds[ident.Kind] = true
		named = append(named, ident)
	}
	for _, ident := range named {
		taken[ident] = true
	}
	return named
}

func (st *state) countEvents(pid string, n int64, at time.Time) {
	if n == 0 {
		return
	}
	c := st.counts[pid]
	if c == nil {
		c = &profileCount{}
		st.counts[pid] = c
	}
	c.events += n
	c.at = later(c.at, at)
}

// count adds a newly stored event to its profile's counters: every event
// counts, and a visit-started event starts a visit.
func (st *state) count(e *cdp.Event) {
	st.countEvents(e.ProfileID, 1, e.ReceivedAt)
	if e.Type == cdp.EventVisitStarted {
		c := st.counts[e.ProfileID]
		c.visits = append(c.visits, e.Timestamp)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// profileID resolves a profile id as the edge sent it to the live profile.
// If it is gone (the store lost it, or it was erased while the event was in
// flight) the profile is recreated so that the event is not orphaned.
func (st *state) profileID(ctx context.Context, id string, now time.Time) (string, error) {
	if pid, ok := st.resolved[id]; ok {
		return pid, nil
	}
	pid, err := st.tx.ResolveProfileID(ctx, id)
	if cdp.ErrorCode(err) == cdp.ENOTFOUND {
		if _, err = st.tx.InsertProfile(ctx, cdp.NewProfile(id, now)); err != nil {
			return "", err
		}
		pid = id
	} else if err != nil {
		return "", err
	}
	st.resolved[id] = pid
	return pid, nil
}

// updateSession merges a batch's session change into the stored session
// (creating it if the edge's write was lost) and marks it for writing if
// anything changed. Merging the same keys again leaves the session as it
// was, so this is idempotent; an update identical to the last one this
// processor committed for the session is skipped without a read.
func (st *state) updateSession(ctx context.Context, b *cdp.Batch) error {
	u := b.Session
	fp := fingerprint(u)
	if last, ok := st.lastUpdate(u.ID); ok && last == fp {
		if _, pending := st.sessions[u.ID]; !pending {
			return nil
		}
	}
	s, ok := st.sessions[u.ID]
	if !ok {
		var err error
		if s, err = st.tx.Session(ctx, u.ID); cdp.ErrorCode(err) == cdp.ENOTFOUND {
			s = nil
		} else if err != nil {
			return err
		}
	}
	if s == nil {
		s = &cdp.Session{ID: u.ID, SourceID: b.SourceID, CreatedAt: b.ReceivedAt, UpdatedAt: b.ReceivedAt}
		s.Normalize()
		st.newSession[u.ID], st.dirty[u.ID] = true, true
	}
	st.sessions[u.ID] = s
	changed := false
	if u.ProfileID != "" {
		pid, err := st.profileID(ctx, u.ProfileID, b.ReceivedAt)
		if err != nil {
			return err
		}
		changed = s.ProfileID != pid
		s.ProfileID = pid
	}
	c1, err := mergeObject(s.Context, u.Context)
	if err != nil {
		return fmt.Errorf("session %s context: %w", u.ID, err)
	}
	c2, err := mergeObject(s.Properties, u.Properties)
	if err != nil {
		return fmt.Errorf("session %s properties: %w", u.ID, err)
	}
	if changed || c1 || c2 {
		s.UpdatedAt = later(s.UpdatedAt, b.ReceivedAt)
		st.dirty[u.ID] = true
	}
	st.applied[u.ID] = fp
	return nil
}

var fingerprintSeed = maphash.MakeSeed()

// fingerprint identifies a session update's content.
func fingerprint(u *cdp.SessionUpdate) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	h.WriteString(u.ProfileID)
	h.WriteByte(0)
	h.Write(u.Context)
	h.WriteByte(0)
	h.Write(u.Properties)
	return h.Sum64()
}

// mergeObject sets every top-level key of the JSON object raw into dst
// and reports whether that changed dst.
func mergeObject(dst map[string]any, raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var src map[string]any
	if err := json.Unmarshal(raw, &src); err != nil {
		return false, errors.New("not a JSON object")
	}
	changed := false
	for k, v := range src {
		if old, ok := dst[k]; !ok || !reflect.DeepEqual(old, v) {
			dst[k], changed = v, true
		}
	}
	return changed, nil
}

// flush applies the counters and writes the sessions that changed.
func (st *state) flush(ctx context.Context) error {
	var deltas []cdp.StatsDelta
	for id, c := range st.counts {
		if len(c.visits) == 0 {
			deltas = append(deltas, cdp.StatsDelta{ID: id, Events: c.events, At: c.at})
		}
		for i, v := range c.visits {
			d := cdp.StatsDelta{ID: id, VisitAt: &v, At: c.at}
			if i == 0 {
				d.Events = c.events
			}
			deltas = append(deltas, d)
		}
	}
	if len(deltas) > 0 {
		if err := st.tx.AddProfileStats(ctx, deltas); err != nil {
			return err
		}
	}
	// In id order, as on every node, so that two nodes' transactions
	// writing the same sessions wait for each other instead of deadlocking.
	for _, id := range slices.Sorted(maps.Keys(st.dirty)) {
		s := st.sessions[id]
		if st.newSession[id] {
			if _, err := st.tx.InsertSession(ctx, s); err != nil {
				return err
			}
		} else if err := st.tx.UpdateSession(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// committed remembers the session updates of a committed transaction.
// minuteCounts counts the stored events per source and minute.
func (st *state) minuteCounts() []cdp.MinuteCount {
	type key struct {
		source string
		minute int64
	}
	n := map[key]int{}
	for _, e := range st.stored {
		n[key{e.SourceID, e.ReceivedAt.Unix() / 60}]++
	}
	out := make([]cdp.MinuteCount, 0, len(n))
	for k, c := range n {
		out = append(out, cdp.MinuteCount{SourceID: k.source, Minute: time.Unix(k.minute*60, 0).UTC(), Events: c})
	}
	return out
}

// lastUpdate returns the fingerprint of the last session update this
// processor committed for session id (none when the store is shared).
func (st *state) lastUpdate(id string) (uint64, bool) {
	if st.seen == nil {
		return 0, false
	}
	return st.seen.Get(id)
}

func (st *state) committed() {
	if st.seen == nil {
		return
	}
	for id, fp := range st.applied {
		st.seen.Put(id, fp)
	}
}
