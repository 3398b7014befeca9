// Package processor consumes the event log: it stores each event once
// (dedup by id and by the client's message id), keeps profiles and
// sessions up to date, and feeds the live tail. Processing is at-least-
// once; everything a batch changes commits in one store transaction
// together with its events, so a redelivered batch changes nothing twice.
package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/tail"
)

// Group is the event-log consumer group every processor joins.
const Group = "processor"

// PoisonType is the type of the event stored in place of a message that
// could not be processed; its Error says why.
const PoisonType = "poison"

// Processor turns event-log messages into stored events.
type Processor struct {
	log      cdp.EventLog
	store    cdp.Store
	identity *identity.Service
	hub      *tail.Hub
	metrics  *metrics.Metrics
	logger   *slog.Logger
	// MaxAttempts is how often a failing message is tried before it is
	// stored as poison (default 5).
	MaxAttempts int
	// seen remembers the last session update committed per session.
	seen *cache.Cache[string, uint64]
}

// New returns a Processor.
func New(log cdp.EventLog, store cdp.Store, ids *identity.Service, hub *tail.Hub, m *metrics.Metrics, logger *slog.Logger) *Processor {
	return &Processor{log: log, store: store, identity: ids, hub: hub, metrics: m, logger: logger, MaxAttempts: 5,
		seen: cache.New[string, uint64](100_000, 0)}
}

// Run processes until ctx is done. Messages received but not processed
// when it stops are handed back to the log for redelivery.
func (p *Processor) Run(ctx context.Context) error {
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go p.watchLag(lagCtx)
	return p.log.Consume(ctx, Group, p.handle)
}

func (p *Processor) watchLag(ctx context.Context) {
	periodic.Run(ctx, 2*time.Second, func(ctx context.Context) {
		if n, err := p.log.Pending(ctx, Group); err == nil {
			p.metrics.ProcessorLag.Set(float64(n))
		}
	})
}

type message struct {
	d   cdp.Delivery
	env cdp.Envelope
}

// handle processes one delivery batch in a single store transaction; if
// that fails it retries message by message so one bad message cannot hold
// back the others.
func (p *Processor) handle(ctx context.Context, deliveries []cdp.Delivery) {
	p.metrics.ProcessorBatch.Observe(float64(len(deliveries)))
	msgs := make([]message, 0, len(deliveries))
	for _, d := range deliveries {
		var env cdp.Envelope
		if err := json.Unmarshal(d.Data(), &env); err != nil || len(env) == 0 || slices.Contains(env, nil) {
			p.poison(ctx, d, "", d.Data(), fmt.Errorf("decode event-log message: %v", err))
			continue
		}
		msgs = append(msgs, message{d, env})
	}
	if len(msgs) == 0 {
		return
	}
	if err := p.process(ctx, msgs...); err == nil {
		return
	} else if len(msgs) == 1 || ctx.Err() != nil {
		p.fail(ctx, msgs[0], err)
		for _, m := range msgs[1:] {
			_ = m.d.Nak(0)
		}
		return
	}
	for _, m := range msgs {
		if err := p.process(ctx, m); err != nil {
			p.fail(ctx, m, err)
		}
	}
}

// process stores the batches of msgs in one transaction, then acks them.
func (p *Processor) process(ctx context.Context, msgs ...message) error {
	var batches []*cdp.Batch
	for _, m := range msgs {
		batches = append(batches, m.env...)
	}
	if err := p.commit(ctx, batches); err != nil {
		return err
	}
	for _, m := range msgs {
		_ = m.d.Ack()
	}
	return nil
}

// commit stores batches in one transaction and, once it committed,
// reports them to the metrics and the tail.
func (p *Processor) commit(ctx context.Context, batches []*cdp.Batch) error {
	var st *state
	err := p.store.Update(ctx, func(tx cdp.Tx) error {
		st = newState(tx, p.seen)
		for _, b := range batches {
			if err := st.apply(ctx, b); err != nil {
				return err
			}
		}
		return st.flush(ctx)
	})
	if err != nil {
		return err
	}
	st.committed()
	if st.erased {
		p.identity.Forget()
	}
	p.metrics.Processed.WithLabelValues("stored").Add(float64(len(st.stored)))
	p.metrics.Processed.WithLabelValues("duplicate").Add(float64(st.duplicates))
	p.metrics.Processed.WithLabelValues("ephemeral").Add(float64(st.ephemeral))
	p.metrics.DedupHits.WithLabelValues("store").Add(float64(st.duplicates))
	p.hub.Publish(st.stored)
	return nil
}

// fail asks for a later retry; after MaxAttempts it salvages the message:
// each request's batch is stored on its own, and only the batches that
// still fail are stored as poison, so one bad request cannot take the
// others of its envelope with it.
func (p *Processor) fail(ctx context.Context, m message, err error) {
	attempt := m.d.Attempt()
	if ctx.Err() != nil || attempt < p.MaxAttempts {
		p.logger.Warn("processing failed, will retry", "batch_id", m.env[0].ID, "attempt", attempt, "err", err)
		_ = m.d.Nak(backoff(attempt))
		return
	}
	for _, b := range m.env {
		if err := p.commit(ctx, []*cdp.Batch{b}); err != nil {
			raw, _ := json.Marshal(b)
			if perr := p.storePoison(ctx, b.SourceID, raw, err); perr != nil {
				p.logger.Error("cannot store poison batch, will retry", "err", perr, "cause", err)
				_ = m.d.Nak(backoff(attempt))
				return
			}
		}
	}
	_ = m.d.Ack()
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * 100 * time.Millisecond
	return min(d, 30*time.Second)
}

// poison stores an undecodable message as poison and acks it.
func (p *Processor) poison(ctx context.Context, d cdp.Delivery, sourceID string, raw []byte, cause error) {
	if err := p.storePoison(ctx, sourceID, raw, cause); err != nil {
		p.logger.Error("cannot store poison message, will retry", "err", err, "cause", cause)
		_ = d.Nak(backoff(d.Attempt()))
		return
	}
	_ = d.Ack()
}

// storePoison stores raw as an event of type poison carrying the error, so
// that what could not be processed is visible and never retried forever.
func (p *Processor) storePoison(ctx context.Context, sourceID string, raw []byte, cause error) error {
	props, _ := json.Marshal(map[string]string{"message": string(raw)})
	now := time.Now().UTC()
	e := &cdp.Event{ID: cdp.NewID(), SourceID: sourceID, Type: PoisonType, Timestamp: now, ReceivedAt: now,
		Properties: props, Context: json.RawMessage(`{}`), Error: cause.Error()}
	err := p.store.Update(ctx, func(tx cdp.Tx) error {
		_, err := tx.InsertEvent(ctx, e)
		return err
	})
	if err != nil {
		return err
	}
	p.logger.Error("stored poison", "event_id", e.ID, "source_id", sourceID, "err", cause)
	p.metrics.Processed.WithLabelValues("poison").Inc()
	p.hub.Publish([]*cdp.Event{e})
	return nil
}

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
	erased     bool // a profile was erased or merged: cached sessions may be stale
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

func (st *state) apply(ctx context.Context, b *cdp.Batch) error {
	if b.Session != nil {
		if err := st.updateSession(ctx, b); err != nil {
			return err
		}
	}
	for _, e := range b.Events {
		if err := st.resolve(ctx, e); err != nil {
			return err
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

// resolve applies e's operation and finds the profile of an event that
// names its person by identifiers (the Customer.io APIs) rather than by a
// profile id. An operation runs only for an event not stored yet, so a
// redelivered batch does not apply it twice.
func (st *state) resolve(ctx context.Context, e *cdp.Event) error {
	if e.ProfileID != "" || (len(e.Identifiers) == 0 && e.Op == "") {
		return nil
	}
	if e.Op != "" {
		if !e.Ephemeral {
			if seen, err := st.tx.HasEvent(ctx, e); err != nil || seen {
				return err
			}
		}
		clear(st.owners) // operations may move identifiers between profiles
	}
	switch e.Op {
	case cdp.OpDelete:
		pid, err := st.owner(ctx, e.Identifiers)
		if err != nil || pid == "" {
			return err
		}
		if err := identity.EraseTx(ctx, st.tx, pid); err != nil {
			return err
		}
		st.repoint(pid, "")
		return nil
	case cdp.OpDeviceAdd, cdp.OpDeviceDelete, cdp.OpSuppress, cdp.OpUnsuppress:
		pid, err := st.owner(ctx, e.Identifiers)
		if err == nil && pid == "" && e.Op == cdp.OpDeviceAdd {
			var res identity.IdentifyResult
			res, err = identity.IdentifyTx(ctx, st.tx, identity.IdentifyRequest{Identifiers: e.Identifiers, Create: true, At: e.ReceivedAt})
			pid = res.ProfileID
		}
		if err != nil || pid == "" {
			return err
		}
		e.ProfileID = pid
		return identity.UpdateProfileTx(ctx, st.tx, pid, e.ReceivedAt, func(p *cdp.Profile) bool { return applyProfileOp(p, e) })
	case cdp.OpMerge:
		var props struct{ Secondary cdp.Identifier }
		if err := json.Unmarshal(e.Properties, &props); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		primary, err := st.owner(ctx, e.Identifiers)
		if err != nil || primary == "" {
			return err
		}
		secondary, err := st.owner(ctx, []cdp.Identifier{props.Secondary})
		if err != nil || secondary == "" || secondary == primary {
			return err
		}
		if _, err := identity.MergeTx(ctx, st.tx, primary, secondary, e.ReceivedAt); err != nil {
			return err
		}
		e.ProfileID = primary
		st.repoint(secondary, primary)
		return nil
	case cdp.OpAlias:
		var props struct {
			PreviousID string `json:"previous_id"`
		}
		if err := json.Unmarshal(e.Properties, &props); err != nil || props.PreviousID == "" {
			return fmt.Errorf("alias: no previous id")
		}
		user, err := st.owner(ctx, e.Identifiers)
		if err != nil {
			return err
		}
		// The previous id may have been a user id or an anonymous id.
		prev, prevIdent := "", cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: props.PreviousID}
		for _, ident := range []cdp.Identifier{{Kind: cdp.IdentifierID, Value: props.PreviousID}, prevIdent} {
			if prev, err = st.owner(ctx, []cdp.Identifier{ident}); err != nil {
				return err
			}
			if prev != "" {
				prevIdent = ident
				break
			}
		}
		if user != "" && prev != "" && user != prev {
			if _, err := identity.MergeTx(ctx, st.tx, user, prev, e.ReceivedAt); err != nil {
				return err
			}
			e.ProfileID = user
			st.repoint(prev, user)
			return nil
		}
		idents := append(e.Identifiers, prevIdent)
		res, err := identity.IdentifyTx(ctx, st.tx, identity.IdentifyRequest{Identifiers: idents, Create: true, At: e.ReceivedAt})
		if err != nil {
			return err
		}
		e.ProfileID = res.ProfileID
		return st.attachAnonymous(ctx, res.ProfileID, idents, e.ReceivedAt)
	case cdp.OpSegmentAdd, cdp.OpSegmentRemove:
		var props struct {
			SegmentID string `json:"segment_id"`
		}
		if err := json.Unmarshal(e.Properties, &props); err != nil {
			return fmt.Errorf("segment: %w", err)
		}
		for _, ident := range e.Identifiers {
			pid, err := st.owner(ctx, []cdp.Identifier{ident})
			if err != nil {
				return err
			}
			if pid == "" {
				continue // Customer.io ignores people it does not know
			}
			err = identity.UpdateProfileTx(ctx, st.tx, pid, e.ReceivedAt, func(p *cdp.Profile) bool {
				i := slices.Index(p.Segments, props.SegmentID)
				switch {
				case e.Op == cdp.OpSegmentAdd && i < 0:
					p.Segments = append(p.Segments, props.SegmentID)
				case e.Op == cdp.OpSegmentRemove && i >= 0:
					p.Segments = slices.Delete(p.Segments, i, i+1)
				default:
					return false
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	case cdp.OpIdentify, cdp.OpIdentifyExisting:
		var traits map[string]any
		if len(e.Traits) > 0 {
			if err := json.Unmarshal(e.Traits, &traits); err != nil {
				return fmt.Errorf("identify traits: %w", err)
			}
		}
		res, err := identity.IdentifyTx(ctx, st.tx, identity.IdentifyRequest{Identifiers: e.Identifiers,
			Create: e.Op == cdp.OpIdentify, Traits: traits, At: e.ReceivedAt})
		if cdp.ErrorCode(err) == cdp.ENOTFOUND { // _update of an unknown person: recorded, nothing else
			return nil
		} else if err != nil {
			return err
		}
		e.ProfileID = res.ProfileID
		return st.attachAnonymous(ctx, res.ProfileID, e.Identifiers, e.ReceivedAt)
	}
	// A track-like event: a named person is created if new; an anonymous
	// id joins the profile it was identified with, if any.
	var named []cdp.Identifier
	for _, ident := range e.Identifiers {
		if ident.Kind != cdp.IdentifierAnonymousID {
			named = append(named, ident)
		}
	}
	if len(named) > 0 {
		// A known person is the common case: one cached lookup.
		if pid, err := st.owner(ctx, named); err != nil || pid != "" {
			e.ProfileID = pid
			return err
		}
		res, err := identity.IdentifyTx(ctx, st.tx, identity.IdentifyRequest{Identifiers: named, Create: true, At: e.ReceivedAt})
		e.ProfileID = res.ProfileID
		return err
	}
	pid, err := st.owner(ctx, e.Identifiers)
	e.ProfileID = pid
	return err
}

// attachAnonymous gives profile pid the recent anonymous events of every
// anonymous id among idents (reference/customerio.md §2.3: 30 days).
func (st *state) attachAnonymous(ctx context.Context, pid string, idents []cdp.Identifier, at time.Time) error {
	for _, ident := range idents {
		if ident.Kind != cdp.IdentifierAnonymousID {
			continue
		}
		n, err := st.tx.AttachAnonymousEvents(ctx, ident.Value, pid, at.Add(-cdp.AnonymousWindow))
		if err != nil {
			return err
		}
		st.countEvents(pid, n, at)
	}
	return nil
}

// owner returns the profile owning the strongest of idents, or "". Owners
// found are remembered for the transaction (repoint forgets them).
func (st *state) owner(ctx context.Context, idents []cdp.Identifier) (string, error) {
	for _, ident := range identity.ByPriority(idents) {
		if pid, ok := st.owners[ident]; ok {
			return pid, nil
		}
		pid, err := st.tx.ProfileIDByIdentifier(ctx, ident)
		if err == nil {
			st.owners[ident] = pid
			return pid, nil
		}
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return "", err
		}
	}
	return "", nil
}

// repoint updates what this transaction knew about profile from, which was
// merged into profile to or, with to "", erased.
func (st *state) repoint(from, to string) {
	if c := st.counts[from]; c != nil && to != "" {
		dst := st.counts[to]
		if dst == nil {
			dst = &profileCount{}
			st.counts[to] = dst
		}
		dst.events, dst.at = dst.events+c.events, later(dst.at, c.at)
		dst.visits = append(dst.visits, c.visits...)
	}
	delete(st.counts, from)
	clear(st.owners) // identifiers moved or vanished
	for k, v := range st.resolved {
		if v == from {
			if to == "" {
				delete(st.resolved, k)
			} else {
				st.resolved[k] = to
			}
		}
	}
	st.erased = true
}

// applyProfileOp applies a device or suppression operation to p and
// reports whether it changed anything.
func applyProfileOp(p *cdp.Profile, e *cdp.Event) bool {
	switch e.Op {
	case cdp.OpSuppress, cdp.OpUnsuppress:
		want := e.Op == cdp.OpSuppress
		changed := p.Suppressed != want
		p.Suppressed = want
		return changed
	}
	var d cdp.Device
	if err := json.Unmarshal(e.Properties, &d); err != nil || d.ID == "" {
		return false
	}
	i := slices.IndexFunc(p.Devices, func(x cdp.Device) bool { return x.ID == d.ID })
	switch {
	case e.Op == cdp.OpDeviceDelete && i >= 0:
		p.Devices = slices.Delete(p.Devices, i, i+1)
	case e.Op == cdp.OpDeviceAdd && i >= 0:
		p.Devices[i] = d
	case e.Op == cdp.OpDeviceAdd:
		p.Devices = append(p.Devices, d)
	default:
		return false
	}
	return true
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
	if last, ok := st.seen.Get(u.ID); ok && last == fp {
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
func (st *state) committed() {
	for id, fp := range st.applied {
		st.seen.Put(id, fp)
	}
}
