package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The identity half of the contract: profiles, identifiers, sessions,
// merges and erasure.

func testProfileVersions(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	p := cdp.NewProfile("p1", t0)
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if ok, err := tx.InsertProfile(ctx, p); err != nil || !ok {
			t.Fatalf("InsertProfile = %v, %v; want true", ok, err)
		}
		if ok, err := tx.InsertProfile(ctx, cdp.NewProfile("p1", t0)); err != nil || ok {
			t.Fatalf("second InsertProfile = %v, %v; want false", ok, err)
		}
		return nil
	})
	stale := *p
	p.Traits["plan"] = "pro"
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.UpdateProfile(ctx, p) })
	err := s.Update(ctx, func(tx cdp.Tx) error { return tx.UpdateProfile(ctx, &stale) })
	wantCode(t, err, cdp.ECONFLICT)
	got, err := s.FindProfileByID(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Traits["plan"] != "pro" || got.Version != p.Version {
		t.Fatalf("profile = %+v (version %d), want plan=pro at version %d", got.Traits, got.Version, p.Version)
	}
	_, err = s.FindProfileByID(ctx, "nope")
	wantCode(t, err, cdp.ENOTFOUND)

	// Counters are incremented in place and bump the version.
	v1, v2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if _, err := tx.InsertProfile(ctx, cdp.NewProfile("p2", t0)); err != nil {
			return err
		}
		return tx.AddProfileStats(ctx, []cdp.StatsDelta{{ID: "p1", Events: 3, At: t0.Add(time.Minute)}, {ID: "p2", Events: 5, At: t0},
			{ID: "p1", Events: 1, VisitAt: &v1, At: v1}, {ID: "p1", VisitAt: &v2, At: v2}})
	})
	if p2, err := s.FindProfileByID(ctx, "p2"); err != nil || p2.Stats.Events != 5 || p2.Stats.Visits != 0 {
		t.Fatalf("p2 = %+v, %v", p2, err)
	}
	got, err = s.FindProfileByID(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stats.Events != 4 || got.Stats.Visits != 2 || !got.Stats.LastVisitAt.Equal(v1) || !got.Stats.CurrentVisitAt.Equal(v2) ||
		!got.UpdatedAt.Equal(v2) || got.Traits["plan"] != "pro" {
		t.Fatalf("after AddProfileStats: stats %+v updated %v traits %v", got.Stats, got.UpdatedAt, got.Traits)
	}
	err = s.Update(ctx, func(tx cdp.Tx) error { return tx.UpdateProfile(ctx, p) }) // p's version is stale now
	wantCode(t, err, cdp.ECONFLICT)
	err = s.Update(ctx, func(tx cdp.Tx) error {
		return tx.AddProfileStats(ctx, []cdp.StatsDelta{{ID: "p1", Events: 1, At: t0}, {ID: "nope", Events: 1, At: t0}})
	})
	wantCode(t, err, cdp.ENOTFOUND)
}

func testIdentifierClaims(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	email := cdp.Identifier{Kind: cdp.IdentifierEmail, Value: "a@b.c"}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, id := range []string{"p1", "p2"} {
			if _, err := tx.InsertProfile(ctx, cdp.NewProfile(id, t0)); err != nil {
				return err
			}
		}
		if owner, err := tx.ClaimIdentifier(ctx, email, "p1"); err != nil || owner != "p1" {
			t.Fatalf("first claim = %q, %v; want p1", owner, err)
		}
		if owner, err := tx.ClaimIdentifier(ctx, email, "p2"); err != nil || owner != "p1" {
			t.Fatalf("second claim = %q, %v; want p1 to keep it", owner, err)
		}
		userID := cdp.Identifier{Kind: cdp.IdentifierID, Value: "a@b.c"} // same value, other kind
		if _, err := tx.ClaimIdentifier(ctx, userID, "p2"); err != nil {
			return err
		}
		unknown := cdp.Identifier{Kind: cdp.IdentifierEmail, Value: "x@y.z"}
		owners, err := tx.ProfileIDsByIdentifiers(ctx, []cdp.Identifier{email, unknown, userID, email})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[cdp.Identifier]string{email: "p1", userID: "p2"}, owners); diff != "" {
			t.Errorf("ProfileIDsByIdentifiers (-want +got):\n%s", diff)
		}
		// Many at once: the new ones go to whom they are given, the owned
		// ones stay.
		p3, p4 := cdp.NewProfile("p3", t0), cdp.NewProfile("p4", t0)
		p3.Identifiers.Add(unknown)
		if err := tx.InsertProfiles(ctx, []*cdp.Profile{p3, p4, cdp.NewProfile("p1", t0.Add(time.Hour))}); err != nil {
			return err
		}
		if p3.Version != 1 {
			t.Errorf("InsertProfiles left version %d on a new profile", p3.Version)
		}
		if got, err := tx.Profile(ctx, "p3"); err != nil || got.Identifiers.Email != unknown.Value {
			t.Errorf("InsertProfiles stored %+v, %v", got, err)
		}
		if got, err := tx.Profile(ctx, "p1"); err != nil || !got.UpdatedAt.Equal(t0) {
			t.Errorf("InsertProfiles replaced an existing profile: %+v, %v", got, err)
		}
		phone := cdp.Identifier{Kind: cdp.IdentifierID, Value: "p4-id"}
		owners, err = tx.ClaimIdentifiers(ctx, map[cdp.Identifier]string{unknown: "p3", email: "p4", phone: "p4"})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[cdp.Identifier]string{unknown: "p3", email: "p1", phone: "p4"}, owners); diff != "" {
			t.Errorf("ClaimIdentifiers (-want +got):\n%s", diff)
		}
		return nil
	})
	p, err := s.FindProfileByIdentifier(ctx, email)
	if err != nil || p.ID != "p1" {
		t.Fatalf("FindProfileByIdentifier = %v, %v; want p1", p, err)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.ReleaseIdentifier(ctx, email) })
	_, err = s.FindProfileByIdentifier(ctx, email)
	wantCode(t, err, cdp.ENOTFOUND)
}

func testConcurrentClaims(t *testing.T, s cdp.Store) {
	ident := cdp.Identifier{Kind: cdp.IdentifierID, Value: "user-42"}
	owners := make([]string, 50)
	var wg sync.WaitGroup
	for i := range owners {
		wg.Go(func() {
			ctx := context.Background()
			err := s.Update(ctx, func(tx cdp.Tx) error {
				candidate := fmt.Sprintf("cand-%d", i)
				if _, err := tx.InsertProfile(ctx, cdp.NewProfile(candidate, t0)); err != nil {
					return err
				}
				owner, err := tx.ClaimIdentifier(ctx, ident, candidate)
				owners[i] = owner
				if err == nil && owner != candidate {
					return cdp.Errorf(cdp.ECONFLICT, "lost the claim") // roll back the candidate profile
				}
				return err
			})
			if err != nil && cdp.ErrorCode(err) != cdp.ECONFLICT {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	for i, o := range owners {
		if o != owners[0] {
			t.Fatalf("claim %d saw owner %q, claim 0 saw %q: want one owner", i, o, owners[0])
		}
	}
	p, err := s.FindProfileByIdentifier(t.Context(), ident)
	if err != nil || p.ID != owners[0] {
		t.Fatalf("owner profile = %v, %v; want %s", p, err, owners[0])
	}
}

func testSessions(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	sess := &cdp.Session{ID: "s1", ProfileID: "p1", SourceID: "web", Context: map[string]any{"a": 1.0}, CreatedAt: t0, UpdatedAt: t0}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if ok, err := tx.InsertSession(ctx, sess); err != nil || !ok {
			t.Fatalf("InsertSession = %v, %v; want true", ok, err)
		}
		if ok, err := tx.InsertSession(ctx, &cdp.Session{ID: "s1", ProfileID: "other"}); err != nil || ok {
			t.Fatalf("second InsertSession = %v, %v; want false", ok, err)
		}
		got, err := tx.Session(ctx, "s1")
		if err != nil || got.ProfileID != "p1" {
			t.Fatalf("Session = %+v, %v; want profile p1", got, err)
		}
		got.Properties["x"] = "y"
		return tx.UpdateSession(ctx, got)
	})
	got, err := s.FindSessionByID(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Properties["x"] != "y" || got.Context["a"] != 1.0 || got.SourceID != "web" {
		t.Fatalf("FindSessionByID = %+v", got)
	}
	_, err = s.FindSessionByID(ctx, "nope")
	wantCode(t, err, cdp.ENOTFOUND)
	err = s.Update(ctx, func(tx cdp.Tx) error { return tx.UpdateSession(ctx, &cdp.Session{ID: "nope"}) })
	wantCode(t, err, cdp.ENOTFOUND)
}

// seedProfile stores a profile with an identifier, a session and an event.
func seedProfile(ctx context.Context, tx cdp.Tx, id string) error {
	if _, err := tx.InsertProfile(ctx, cdp.NewProfile(id, t0)); err != nil {
		return err
	}
	if _, err := tx.ClaimIdentifier(ctx, cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: "anon-" + id}, id); err != nil {
		return err
	}
	if _, err := tx.InsertSession(ctx, &cdp.Session{ID: "sess-" + id, ProfileID: id, CreatedAt: t0}); err != nil {
		return err
	}
	_, err := tx.InsertEvent(ctx, event("ev-"+id, "web", "", "view", id, "sess-"+id))
	return err
}

func testMerge(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, id := range []string{"a", "b", "c"} {
			if err := seedProfile(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := tx.MergeProfile(ctx, "a", "b"); err != nil {
			return err
		}
		return tx.MergeProfile(ctx, "b", "c") // a's alias must follow to c
	})
	for _, id := range []string{"a", "b", "c"} {
		p, err := s.FindProfileByID(ctx, id)
		if err != nil || p.ID != "c" {
			t.Fatalf("FindProfileByID(%s) = %v, %v; want c", id, p, err)
		}
		p, err = s.FindProfileByIdentifier(ctx, cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: "anon-" + id})
		if err != nil || p.ID != "c" {
			t.Fatalf("identifier of %s resolves to %v, %v; want c", id, p, err)
		}
		sess, err := s.FindSessionByID(ctx, "sess-"+id)
		if err != nil || sess.ProfileID != "c" {
			t.Fatalf("session of %s = %+v, %v; want profile c", id, sess, err)
		}
		ev, err := s.FindEventByID(ctx, "ev-"+id)
		if err != nil || ev.ProfileID != "c" {
			t.Fatalf("event of %s = %+v, %v; want profile c", id, ev, err)
		}
	}
	events, _, err := s.FindEvents(ctx, cdp.EventFilter{ProfileID: "c"})
	if err != nil || len(events) != 3 {
		t.Fatalf("events of c: %d, %v; want 3", len(events), err)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		got, err := tx.ResolveProfileID(ctx, "a")
		if err != nil || got != "c" {
			t.Fatalf("ResolveProfileID(a) = %q, %v; want c", got, err)
		}
		_, err = tx.Profile(ctx, "a")
		wantCode(t, err, cdp.ENOTFOUND)
		return nil
	})
}

func testErase(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, id := range []string{"a", "b", "keep"} {
			if err := seedProfile(ctx, tx, id); err != nil {
				return err
			}
		}
		// A profile-less event in a's session goes too.
		if _, err := tx.InsertEvent(ctx, event("ev-anon", "web", "", "view", "", "sess-a")); err != nil {
			return err
		}
		if err := tx.MergeProfile(ctx, "a", "b"); err != nil {
			return err
		}
		return tx.DeleteProfile(ctx, "b")
	})
	for _, id := range []string{"a", "b"} {
		_, err := s.FindProfileByID(ctx, id)
		wantCode(t, err, cdp.ENOTFOUND)
		_, err = s.FindSessionByID(ctx, "sess-"+id)
		wantCode(t, err, cdp.ENOTFOUND)
		_, err = s.FindEventByID(ctx, "ev-"+id)
		wantCode(t, err, cdp.ENOTFOUND)
		_, err = s.FindProfileByIdentifier(ctx, cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: "anon-" + id})
		wantCode(t, err, cdp.ENOTFOUND)
	}
	_, err := s.FindEventByID(ctx, "ev-anon")
	wantCode(t, err, cdp.ENOTFOUND)
	if _, err := s.FindProfileByID(ctx, "keep"); err != nil {
		t.Fatalf("an unrelated profile was erased: %v", err)
	}
	if _, err := s.FindEventByID(ctx, "ev-keep"); err != nil {
		t.Fatalf("an unrelated event was erased: %v", err)
	}
}
