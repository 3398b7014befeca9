package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// state is what one transaction has loaded and changed. Profile counters
// are summed per profile and applied once as increments; sessions touched
// by many events are read and written once.
type state struct {
	tx         cdp.Tx
	resolved   map[string]string // profile id as sent → live profile id
	owners     map[cdp.Identifier]string
	counts     map[string]*profileCount
	sessions   map[string]*cdp.Session
	newSession map[string]bool
	dirty      map[string]bool   // sessions to write
	applied    map[string]uint64 // session update fingerprints, cached after commit
	seen       *cache.Cache[string, uint64]
	stored     []*cdp.Event
	duplicates int
	ephemeral  int
	erased     bool       // a profile was erased or merged: cached sessions may be stale
	runs       []*cdp.Run // workflow runs the stored events started
}

// trigger creates, in the transaction, the workflow runs the stored events
// start; an event redelivered after its commit is not stored again, so its
// runs are never created twice.
func (st *state) trigger(ctx context.Context, t Triggers, now time.Time) error {
	if t == nil {
		return nil
	}
	for _, e := range st.stored {
		for _, r := range t.Runs(ctx, st.tx, e, now) {
			inserted, err := st.tx.InsertRun(ctx, r)
			if err != nil {
				return err
			}
			if inserted {
				st.runs = append(st.runs, r)
			}
		}
	}
	return nil
}

type profileCount struct {
	events int64
	visits []time.Time
	at     time.Time
}

func newState(tx cdp.Tx, seen *cache.Cache[string, uint64]) *state {
	return &state{tx: tx, resolved: map[string]string{}, owners: map[cdp.Identifier]string{}, counts: map[string]*profileCount{},
		sessions: map[string]*cdp.Session{}, newSession: map[string]bool{}, dirty: map[string]bool{},
		applied: map[string]uint64{}, seen: seen}
}

func (st *state) apply(ctx context.Context, b *cdp.Batch) (err error) {
	if b.Session != nil {
		if err := st.updateSession(ctx, b); err != nil {
			return err
		}
	}
	stored := len(st.stored)
	defer func() {
		if b.Raw != nil && len(st.stored) > stored && err == nil {
			err = st.tx.InsertRawRequest(ctx, b.ID, b.Raw)
		}
	}()
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
		inserted, err := st.tx.InsertEvent(ctx, e)
		if err != nil {
			return err
		}
		if !inserted {
			st.duplicates++
			continue
		}
		st.stored = append(st.stored, e)
		if e.ProfileID != "" {
			st.count(e)
		}
	}
	return nil
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
// counts, and a visit-started event starts a visit (Tracardi §5.3).
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
		s, err = st.tx.Session(ctx, u.ID)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			s = &cdp.Session{ID: u.ID, SourceID: b.SourceID, CreatedAt: b.ReceivedAt, UpdatedAt: b.ReceivedAt}
			s.Normalize()
			st.newSession[u.ID], st.dirty[u.ID] = true, true
		} else if err != nil {
			return err
		}
		st.sessions[u.ID] = s
	}
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
	for id, c := range st.counts {
		if len(c.visits) == 0 {
			if err := st.tx.AddProfileStats(ctx, id, c.events, nil, c.at); err != nil {
				return err
			}
		}
		for i, v := range c.visits {
			events := int64(0)
			if i == 0 {
				events = c.events
			}
			if err := st.tx.AddProfileStats(ctx, id, events, &v, c.at); err != nil {
				return err
			}
		}
	}
	for id := range st.dirty {
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
