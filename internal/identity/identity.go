// Package identity resolves who an event belongs to: sessions to profiles,
// identifiers (id, email, cio_id, anonymous ids) to profiles, merges and
// erasure. It is the one place these rules live; every ingest API and the
// processor use it, and it talks to storage only through cdp.Store.
package identity

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// maxAttempts bounds retries of a transaction that lost a race (ECONFLICT).
const maxAttempts = 8

// Service resolves identities. It is safe for concurrent use.
type Service struct {
	store cdp.Store
	now   func() time.Time
	// sessions caches session id → profile id for sessions that exist, so
	// that the many events of one visit do not each cost a store round trip.
	sessions *cache.Cache[string, string]
	announce func() // tells the other nodes of ProfilesChanged; nil alone
	// epoch counts ProfilesChanged calls (here or elsewhere), so that a
	// cache of who owns an identifier (the processor's) knows when to drop
	// itself.
	epoch atomic.Uint64
}

// New returns a Service on store.
//
// announce, when other nodes merge and erase profiles in the same store,
// tells them of every ProfilesChanged; their announcements must call
// ProfilesChangedElsewhere here. nil: this process is the store's only
// writer. The announcement is best effort (it can arrive a moment after
// the change, or be lost while a node is cut off), so with announce a
// remembered session is kept only a minute instead of 5: a stale entry can
// only hand a request a merged-away profile id, which the processor
// resolves to the survivor, for that long at most.
func New(store cdp.Store, announce func()) *Service {
	ttl := 5 * time.Minute
	if announce != nil {
		ttl = time.Minute
	}
	return &Service{store: store, now: time.Now, sessions: cache.New[string, string](100_000, ttl), announce: announce}
}

// update runs fn in a store transaction, retrying when it lost a race.
func (s *Service) update(ctx context.Context, fn func(tx cdp.Tx) error) error {
	var err error
	for range maxAttempts {
		if err = s.store.Update(ctx, fn); cdp.ErrorCode(err) != cdp.ECONFLICT {
			return err
		}
	}
	return fmt.Errorf("identity: gave up after %d conflicting attempts: %w", maxAttempts, err)
}

// SessionRequest asks for the session and profile of a tracker request.
type SessionRequest struct {
	SourceID string
	// SessionID is the client's session id; empty starts a new session.
	SessionID string
	// ProfileID is the profile the client believes it is; it is used only
	// for a new session and only if it exists (or existed and was merged).
	ProfileID string
	// ProfileLess resolves no profile at all.
	ProfileLess bool
	// Save stores a new session; unsaved sessions are not remembered.
	Save bool
}

// SessionResult is the outcome of ResolveSession.
type SessionResult struct {
	SessionID  string
	ProfileID  string // "" for profile-less requests
	NewSession bool
	NewProfile bool
}

// ResolveSession finds or opens the session of a tracker request and the
// profile it belongs to, following Tracardi (Tracardi's code):
// a known session's profile wins over the one the client sends; a new
// session adopts the client's profile only if it exists (an unknown id gets
// a fresh one, so ids cannot be guessed into existence); merged ids resolve
// to the survivor. Concurrent first requests of one session all get the
// same profile: the session row is the arbiter.
func (s *Service) ResolveSession(ctx context.Context, r SessionRequest) (SessionResult, error) {
	if r.SessionID == "" {
		r.SessionID = cdp.NewID()
	} else if !r.ProfileLess {
		if pid, ok := s.sessions.Get(r.SessionID); ok {
			return SessionResult{SessionID: r.SessionID, ProfileID: pid}, nil
		}
		// A returning visitor: one read, no transaction. A new session, or
		// one whose profile is gone, is opened or repaired below.
		if pid, err := s.store.SessionProfile(ctx, r.SessionID); err == nil {
			s.sessions.Put(r.SessionID, pid)
			return SessionResult{SessionID: r.SessionID, ProfileID: pid}, nil
		} else if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return SessionResult{}, fmt.Errorf("resolve session: %w", err)
		}
	}
	var res SessionResult
	err := s.update(ctx, func(tx cdp.Tx) error {
		res = SessionResult{SessionID: r.SessionID}
		now := s.now().UTC()
		sess, err := tx.Session(ctx, r.SessionID)
		switch {
		case err == nil:
			if r.ProfileLess {
				return nil
			}
			return s.profileOfSession(ctx, tx, sess, now, &res)
		case cdp.ErrorCode(err) != cdp.ENOTFOUND:
			return err
		}
		res.NewSession = true
		if !r.ProfileLess {
			if r.ProfileID != "" {
				res.ProfileID, err = tx.ResolveProfileID(ctx, r.ProfileID)
				if err != nil && cdp.ErrorCode(err) != cdp.ENOTFOUND {
					return err
				}
			}
			if res.ProfileID == "" {
				if res.ProfileID, err = newProfile(ctx, tx, now); err != nil {
					return err
				}
				res.NewProfile = true
			}
		}
		if !r.Save {
			return nil
		}
		created, err := tx.InsertSession(ctx, &cdp.Session{ID: r.SessionID, ProfileID: res.ProfileID, SourceID: r.SourceID,
			Context: map[string]any{}, Properties: map[string]any{}, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			return err
		}
		if !created { // another request opened it first: retry and adopt it
			return cdp.Errorf(cdp.ECONFLICT, "session %s opened concurrently", r.SessionID)
		}
		return nil
	})
	if err != nil {
		return SessionResult{}, fmt.Errorf("resolve session: %w", err)
	}
	if res.ProfileID != "" && (r.Save || !res.NewSession) {
		s.sessions.Put(res.SessionID, res.ProfileID)
	}
	return res, nil
}

// profileOfSession sets res.ProfileID from an existing session, repairing
// the session if its profile was merged away, erased or never set.
func (s *Service) profileOfSession(ctx context.Context, tx cdp.Tx, sess *cdp.Session, now time.Time, res *SessionResult) error {
	if sess.ProfileID != "" {
		pid, err := tx.ResolveProfileID(ctx, sess.ProfileID)
		if err == nil {
			res.ProfileID = pid
			if pid == sess.ProfileID {
				return nil
			}
			sess.ProfileID = pid
			return tx.UpdateSession(ctx, sess)
		}
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return err
		}
	}
	pid, err := newProfile(ctx, tx, now)
	if err != nil {
		return err
	}
	res.ProfileID, res.NewProfile = pid, true
	sess.ProfileID, sess.UpdatedAt = pid, now
	return tx.UpdateSession(ctx, sess)
}

func newProfile(ctx context.Context, tx cdp.Tx, now time.Time) (string, error) {
	p := cdp.NewProfile(cdp.NewID(), now)
	if _, err := tx.InsertProfile(ctx, p); err != nil {
		return "", err
	}
	return p.ID, nil
}

// identifierPriority orders identifiers by how strongly they name a person:
// when a request carries several that belong to different profiles, the
// strongest decides which profile it is.
var identifierPriority = map[string]int{
	cdp.IdentifierCioID: 0, cdp.IdentifierID: 1, cdp.IdentifierEmail: 2, cdp.IdentifierAnonymousID: 3,
}

// IdentifyRequest names a person and what to record about them.
type IdentifyRequest struct {
	Identifiers []cdp.Identifier
	// Create makes a profile if none matches; otherwise ENOTFOUND.
	Create bool
	// Traits are merged into the profile's traits (a key replaces its
	// value; a nil value removes the key).
	Traits map[string]any
	// At is when the change happened (the profile's UpdatedAt).
	At time.Time
	// TraitsAt is the time of the event that carries the traits (its own
	// timestamp): traits set by a newer event are kept (zero: now).
	TraitsAt time.Time
}

// IdentifyResult is the outcome of Identify.
type IdentifyResult struct {
	ProfileID string
	Created   bool
	// Conflicts are identifiers that already belong to another profile and
	// were therefore not added (Customer.io's "attribute update failure").
	Conflicts []cdp.Identifier
}

// Identify runs IdentifyTx in its own transaction, retrying lost races.
func (s *Service) Identify(ctx context.Context, r IdentifyRequest) (IdentifyResult, error) {
	var res IdentifyResult
	err := s.update(ctx, func(tx cdp.Tx) error {
		var err error
		res, err = IdentifyTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return IdentifyResult{}, fmt.Errorf("identify: %w", err)
	}
	return res, nil
}

// IdentifyTx finds the profile named by r.Identifiers, or creates one if
// r.Create is set, attaches every identifier no other profile owns and
// merges r.Traits. The strongest identifier that has an owner decides the
// profile. A single-valued identifier (id, email, cio_id) new to the
// profile replaces its old one; one it already owns as an alias (from a
// merge) resolves to it without replacing anything. When two transactions
// create the same identity concurrently, the loser gets ECONFLICT and must
// retry (its candidate profile rolls back), so concurrent first sightings
// make one profile.
func IdentifyTx(ctx context.Context, tx cdp.Tx, r IdentifyRequest) (IdentifyResult, error) {
	if len(r.Identifiers) == 0 {
		return IdentifyResult{}, cdp.Errorf(cdp.EINVALID, "no identifier given")
	}
	sorted := ByPriority(r.Identifiers)
	at := r.At.UTC()
	if r.At.IsZero() {
		at = time.Now().UTC()
	}
	p, res, err := findOrCreate(ctx, tx, sorted, r.Create, at)
	if err != nil {
		return res, err
	}
	changed, err := claimAll(ctx, tx, p, sorted, &res)
	if err != nil {
		return res, err
	}
	traitsAt := r.TraitsAt
	if traitsAt.IsZero() {
		traitsAt = at
	}
	if traitsChanged := setTraits(p, r.Traits, traitsAt.UTC()); !changed && !traitsChanged {
		return res, nil
	}
	p.UpdatedAt = later(p.UpdatedAt, at)
	return res, tx.UpdateProfile(ctx, p)
}

// findOrCreate returns the profile of the first identifier (by priority)
// that has one, or a new profile if create is set.
func findOrCreate(ctx context.Context, tx cdp.Tx, sorted []cdp.Identifier, create bool, at time.Time) (*cdp.Profile, IdentifyResult, error) {
	var res IdentifyResult
	for _, ident := range sorted {
		pid, err := tx.ProfileIDByIdentifier(ctx, ident)
		if err == nil {
			res.ProfileID = pid
			break
		}
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return nil, res, err
		}
	}
	if res.ProfileID != "" {
		p, err := tx.Profile(ctx, res.ProfileID)
		return p, res, err
	}
	if !create {
		return nil, res, cdp.Errorf(cdp.ENOTFOUND, "no profile has identifier %s", sorted[0])
	}
	p := cdp.NewProfile(cdp.NewID(), at)
	if _, err := tx.InsertProfile(ctx, p); err != nil {
		return nil, res, err
	}
	res.ProfileID, res.Created = p.ID, true
	return p, res, nil
}

// claimAll claims each identifier for p, recording in res those another
// profile owns, and reports whether p's identifiers changed.
func claimAll(ctx context.Context, tx cdp.Tx, p *cdp.Profile, sorted []cdp.Identifier, res *IdentifyResult) (bool, error) {
	changed := false
	for _, ident := range sorted {
		if old := single(p.Identifiers, ident.Kind); old != "" && old != ident.Value {
			// A new id or email replaces the profile's; one the profile
			// already owns is an alias (a merged-away profile's) and
			// leaves its own in place.
			owner, err := tx.ProfileIDByIdentifier(ctx, ident)
			if err == nil && owner == p.ID {
				continue
			}
			if err != nil && cdp.ErrorCode(err) != cdp.ENOTFOUND {
				return changed, err
			}
		}
		owner, err := tx.ClaimIdentifier(ctx, ident, p.ID)
		if err != nil {
			return changed, err
		}
		if owner != p.ID {
			if res.Created && ident == sorted[0] {
				return changed, cdp.Errorf(cdp.ECONFLICT, "identifier %s claimed concurrently", ident)
			}
			res.Conflicts = append(res.Conflicts, ident)
			continue
		}
		if old := single(p.Identifiers, ident.Kind); old != "" && old != ident.Value {
			if err := tx.ReleaseIdentifier(ctx, cdp.Identifier{Kind: ident.Kind, Value: old}); err != nil {
				return changed, err
			}
		}
		if p.Identifiers.Add(ident) {
			changed = true
		}
	}
	return changed, nil
}

// setTraits sets traits on p (a nil value removes the trait), as of an
// event at the time at, and reports whether anything changed. Changes
// apply in event-time order: a trait a newer event set is left alone, so
// a late or replayed older event only adds the traits the profile lacks.
func setTraits(p *cdp.Profile, traits map[string]any, at time.Time) bool {
	changed := false
	for k, v := range traits {
		if set, ok := p.TraitsAt[k]; ok && set.After(at) {
			continue // a newer event set (or removed) it
		}
		if p.TraitsAt == nil {
			p.TraitsAt = map[string]time.Time{}
		}
		if v == nil {
			if _, ok := p.Traits[k]; ok {
				delete(p.Traits, k)
				changed = true
			}
		} else if old, ok := p.Traits[k]; !ok || !reflect.DeepEqual(old, v) {
			p.Traits[k] = v
			changed = true
		}
		if p.TraitsAt[k].Before(at) {
			p.TraitsAt[k], changed = at, true
		}
	}
	return changed
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ByPriority returns a copy of idents, strongest first (cio_id, id, email,
// anonymous ids).
func ByPriority(in []cdp.Identifier) []cdp.Identifier {
	idents := slices.Clone(in)
	slices.SortStableFunc(idents, func(a, b cdp.Identifier) int {
		return identifierPriority[a.Kind] - identifierPriority[b.Kind]
	})
	return idents
}

// single returns the profile's value of a single-valued identifier kind.
func single(ids cdp.Identifiers, kind string) string {
	switch kind {
	case cdp.IdentifierID:
		return ids.ID
	case cdp.IdentifierEmail:
		return ids.Email
	case cdp.IdentifierCioID:
		return ids.CioID
	}
	return ""
}

// UpdateProfileTx loads profile id, lets change edit it and stores it if
// change reports a change.
func UpdateProfileTx(ctx context.Context, tx cdp.Tx, id string, at time.Time, change func(p *cdp.Profile) bool) error {
	p, err := tx.Profile(ctx, id)
	if err != nil {
		return err
	}
	if !change(p) {
		return nil
	}
	p.UpdatedAt = later(p.UpdatedAt, at.UTC())
	return tx.UpdateProfile(ctx, p)
}

// Merge folds profile secondary into primary: the primary keeps its own
// identifiers and traits and gains those it lacks, plus the secondary's
// anonymous ids, devices, segments, sessions, events and counters. The
// secondary id (and any id merged into it before) resolves to the primary
// afterwards, and so do the secondary's identifiers: those of a kind the
// primary has as aliases. Merging a profile into itself is a no-op.
func (s *Service) Merge(ctx context.Context, primaryID, secondaryID string) (*cdp.Profile, error) {
	var merged *cdp.Profile
	err := s.update(ctx, func(tx cdp.Tx) error {
		var err error
		merged, err = MergeTx(ctx, tx, primaryID, secondaryID, time.Now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("merge profiles: %w", err)
	}
	s.ProfilesChanged() // sessions of the secondary now belong to the primary
	return merged, nil
}

// MergeTx is Merge inside tx; call ProfilesChanged after the transaction
// commits.
func MergeTx(ctx context.Context, tx cdp.Tx, primaryID, secondaryID string, at time.Time) (*cdp.Profile, error) {
	pid, err := tx.ResolveProfileID(ctx, primaryID)
	if err != nil {
		return nil, err
	}
	sid, err := tx.ResolveProfileID(ctx, secondaryID)
	if err != nil {
		return nil, err
	}
	primary, err := tx.Profile(ctx, pid)
	if err != nil || pid == sid {
		return primary, err
	}
	secondary, err := tx.Profile(ctx, sid)
	if err != nil {
		return nil, err
	}
	// Every identifier of the secondary moves to the primary and keeps
	// resolving to it, so that an event sent later with the old id or
	// email joins the survivor. Single-valued ones the primary already has
	// stay its own (combine keeps them); the secondary's become aliases.
	if err := tx.MergeProfile(ctx, sid, pid); err != nil {
		return nil, err
	}
	combine(primary, secondary, at.UTC())
	return primary, tx.UpdateProfile(ctx, primary)
}

// combine folds b into a (the survivor), following Tracardi:
// a's values win, b fills gaps, collections are unioned and counters
// summed.
func combine(a, b *cdp.Profile, now time.Time) {
	for _, ident := range b.Identifiers.List() {
		if ident.Kind == cdp.IdentifierAnonymousID || single(a.Identifiers, ident.Kind) == "" {
			a.Identifiers.Add(ident)
		}
	}
	for k, v := range b.Traits {
		if _, ok := a.Traits[k]; !ok {
			if set, ok := b.TraitsAt[k]; ok {
				if a.TraitsAt == nil {
					a.TraitsAt = map[string]time.Time{}
				}
				a.TraitsAt[k] = set
			}
			a.Traits[k] = v
		}
	}
	a.MergedIDs = appendNew(a.MergedIDs, append([]string{b.ID}, b.MergedIDs...)...)
	for _, d := range b.Devices {
		found := false
		for _, ad := range a.Devices {
			found = found || ad.ID == d.ID
		}
		if !found {
			a.Devices = append(a.Devices, d)
		}
	}
	a.Segments = appendNew(a.Segments, b.Segments...)
	a.Suppressed = a.Suppressed || b.Suppressed
	if b.CreatedAt.Before(a.CreatedAt) {
		a.CreatedAt = b.CreatedAt
	}
	a.Stats.Events += b.Stats.Events
	a.Stats.Visits += b.Stats.Visits
	if laterPtr(b.Stats.CurrentVisitAt, a.Stats.CurrentVisitAt) {
		a.Stats.LastVisitAt, a.Stats.CurrentVisitAt = a.Stats.CurrentVisitAt, b.Stats.CurrentVisitAt
	}
	a.UpdatedAt = now
}

func laterPtr(x, y *time.Time) bool { return x != nil && (y == nil || x.After(*y)) }

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, l := range list {
			found = found || l == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

// Erase deletes a profile (addressed by its id or a merged-away id) with
// its identifiers, sessions and events: the GDPR right to erasure.
func (s *Service) Erase(ctx context.Context, profileID string) error {
	err := s.update(ctx, func(tx cdp.Tx) error { return EraseTx(ctx, tx, profileID) })
	if err != nil {
		return fmt.Errorf("erase profile: %w", err)
	}
	s.ProfilesChanged()
	return nil
}

// EraseTx is Erase inside tx; call ProfilesChanged after the transaction
// commits.
func EraseTx(ctx context.Context, tx cdp.Tx, profileID string) error {
	pid, err := tx.ResolveProfileID(ctx, profileID)
	if err != nil {
		return err
	}
	if err := endWaitingRuns(ctx, tx, pid); err != nil {
		return err
	}
	return tx.DeleteProfile(ctx, pid)
}

// endWaitingRuns ends, as exited, the workflow runs waiting for what the
// person does next: an erased person does nothing more, and a run that
// went on at its timeout would act on someone who asked to be forgotten.
// Their waits go with the profile.
func endWaitingRuns(ctx context.Context, tx cdp.Tx, pid string) error {
	waits, err := tx.ProfileWaits(ctx, []string{pid})
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, w := range waits {
		if done[w.RunID] {
			continue
		}
		done[w.RunID] = true
		run, err := tx.Run(ctx, w.RunID)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			continue
		} else if err != nil {
			return err
		}
		switch run.Status {
		case cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped, cdp.RunExited:
			continue
		}
		run.Status, run.Error, run.NextAt = cdp.RunExited, "exited: the person was erased", nil
		if err := tx.UpdateRun(ctx, run); err != nil {
			return err
		}
		if run.OrderKey != "" {
			if err := tx.ReleaseLine(ctx, run.WorkflowID, run.OrderKey, run.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// ProfilesChanged drops what the service remembers about sessions; call
// it after a transaction of the caller's erased or merged profiles.
func (s *Service) ProfilesChanged() {
	s.sessions.Clear()
	s.epoch.Add(1)
	if s.announce != nil {
		s.announce()
	}
}

// ProfilesChangedElsewhere drops what the service remembers about
// sessions because another node erased or merged profiles.
func (s *Service) ProfilesChangedElsewhere() {
	s.sessions.Clear()
	s.epoch.Add(1)
}

// Epoch changes whenever profiles were erased or merged (here, or on
// another node): whoever remembers which profile owns an
// identifier must forget it then.
func (s *Service) Epoch() uint64 { return s.epoch.Load() }
