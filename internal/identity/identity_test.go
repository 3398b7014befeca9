package identity_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
)

func open(t *testing.T) (*identity.Service, cdp.Store) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return identity.New(s, nil), s
}

func ident(kind, value string) cdp.Identifier {
	i, err := cdp.NewIdentifier(kind, value)
	if err != nil {
		panic(err)
	}
	return i
}

func TestResolveSession(t *testing.T) {
	ctx := t.Context()
	svc, store := open(t)
	first, err := svc.ResolveSession(ctx, identity.SessionRequest{SourceID: "web", SessionID: "s1", Save: true})
	if err != nil {
		t.Fatal(err)
	}
	if !first.NewSession || !first.NewProfile || first.ProfileID == "" {
		t.Fatalf("first request = %+v, want a new session with a new profile", first)
	}
	t.Run("KnownSessionWins", func(t *testing.T) {
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s1", ProfileID: "someone-else", Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProfileID != first.ProfileID || got.NewSession || got.NewProfile {
			t.Fatalf("got %+v, want the session's profile %s", got, first.ProfileID)
		}
	})
	t.Run("NewSessionAdoptsKnownProfile", func(t *testing.T) {
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s2", ProfileID: first.ProfileID, Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProfileID != first.ProfileID || !got.NewSession || got.NewProfile {
			t.Fatalf("got %+v, want new session s2 on profile %s", got, first.ProfileID)
		}
	})
	t.Run("UnknownProfileGetsFreshID", func(t *testing.T) {
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s3", ProfileID: "guessed", Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProfileID == "guessed" || !got.NewProfile {
			t.Fatalf("got %+v, want a fresh profile id", got)
		}
	})
	t.Run("NoSessionIDOpensOne", func(t *testing.T) {
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionID == "" || !got.NewSession {
			t.Fatalf("got %+v, want a generated session", got)
		}
		if _, err := store.FindSessionByID(ctx, got.SessionID); err != nil {
			t.Fatalf("generated session not stored: %v", err)
		}
	})
	t.Run("ProfileLess", func(t *testing.T) {
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s4", ProfileLess: true, Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProfileID != "" || !got.NewSession {
			t.Fatalf("got %+v, want a session without profile", got)
		}
		sess, err := store.FindSessionByID(ctx, "s4")
		if err != nil || sess.ProfileID != "" {
			t.Fatalf("stored session %+v, %v; want it without profile", sess, err)
		}
	})
	t.Run("UnsavedSessionIsForgotten", func(t *testing.T) {
		if _, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s5"}); err != nil {
			t.Fatal(err)
		}
		_, err := store.FindSessionByID(ctx, "s5")
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			t.Fatalf("unsaved session was stored (err %v)", err)
		}
	})
	t.Run("MergedProfileResolvesToSurvivor", func(t *testing.T) {
		other, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s6", Save: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Merge(ctx, first.ProfileID, other.ProfileID); err != nil {
			t.Fatal(err)
		}
		got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s6", Save: true})
		if err != nil || got.ProfileID != first.ProfileID {
			t.Fatalf("session of the merged profile = %+v, %v; want %s", got, err, first.ProfileID)
		}
		got, err = svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "s7", ProfileID: other.ProfileID, Save: true})
		if err != nil || got.ProfileID != first.ProfileID {
			t.Fatalf("new session with the merged id = %+v, %v; want %s", got, err, first.ProfileID)
		}
	})
}

func TestConcurrentFirstHitsOneProfile(t *testing.T) {
	svc, store := open(t)
	const n = 64
	got := make([]identity.SessionResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			got[i], err = svc.ResolveSession(context.Background(), identity.SessionRequest{SessionID: "same", Save: true})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	newProfiles := 0
	for _, r := range got {
		if r.ProfileID != got[0].ProfileID {
			t.Fatalf("profiles %s and %s for one session", r.ProfileID, got[0].ProfileID)
		}
		if r.NewProfile {
			newProfiles++
		}
	}
	if newProfiles != 1 {
		t.Fatalf("%d requests reported creating the profile, want 1", newProfiles)
	}
	if _, err := store.FindProfileByID(t.Context(), got[0].ProfileID); err != nil {
		t.Fatal(err)
	}
}

func TestIdentify(t *testing.T) {
	ctx := t.Context()
	svc, store := open(t)
	a, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("email", "Ann@Example.com")}, Create: true})
	if err != nil || !a.Created {
		t.Fatalf("Identify = %+v, %v; want a new profile", a, err)
	}
	t.Run("EmailIsCaseInsensitive", func(t *testing.T) {
		got, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("email", "ann@example.COM"), ident("id", "42")}, Create: true})
		if err != nil || got.ProfileID != a.ProfileID || got.Created {
			t.Fatalf("got %+v, %v; want profile %s", got, err, a.ProfileID)
		}
		p, err := store.FindProfileByIdentifier(ctx, ident("id", "42"))
		if err != nil || p.ID != a.ProfileID || p.Identifiers.Email != "ann@example.com" {
			t.Fatalf("lookup by id:42 = %+v, %v", p, err)
		}
	})
	t.Run("UnknownWithoutCreate", func(t *testing.T) {
		_, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "nobody")}, Create: false})
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			t.Fatalf("err = %v, want not_found", err)
		}
	})
	t.Run("StrongestIdentifierDecides", func(t *testing.T) {
		b, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "7")}, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		// id:7 is b's; the email is a's. The id wins, the email conflicts.
		got, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("email", "ann@example.com"), ident("id", "7")}, Create: true})
		if err != nil || got.ProfileID != b.ProfileID || len(got.Conflicts) != 1 || got.Conflicts[0].Kind != "email" {
			t.Fatalf("got %+v, %v; want profile %s with the email as a conflict", got, err, b.ProfileID)
		}
	})
	t.Run("AnonymousIDsAccumulate", func(t *testing.T) {
		for _, anon := range []string{"x1", "x2", "x1"} {
			if _, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "42"), ident("anonymous_id", anon)}, Create: true}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := store.FindProfileByIdentifier(ctx, ident("anonymous_id", "x2"))
		if err != nil || p.ID != a.ProfileID || len(p.Identifiers.AnonymousIDs) != 2 {
			t.Fatalf("profile = %+v, %v; want 2 anonymous ids on %s", p, err, a.ProfileID)
		}
	})
}

func TestConcurrentIdentifyOneProfile(t *testing.T) {
	svc, _ := open(t)
	const n = 64
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := svc.Identify(context.Background(), identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("email", "race@example.com")}, Create: true})
			if err != nil {
				t.Error(err)
			}
			ids[i] = r.ProfileID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("profiles %s and %s for one email", id, ids[0])
		}
	}
}

func TestMergeAndErase(t *testing.T) {
	ctx := t.Context()
	svc, store := open(t)
	a, _ := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "a"), ident("email", "a@x.io"), ident("anonymous_id", "anon-a")}, Create: true})
	b, _ := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "b"), ident("anonymous_id", "anon-b")}, Create: true})
	sess, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "sb", ProfileID: b.ProfileID, Save: true})
	if err != nil || sess.ProfileID != b.ProfileID {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	err = store.Update(ctx, func(tx cdp.Tx) error {
		p, err := tx.Profile(ctx, b.ProfileID)
		if err != nil {
			return err
		}
		p.Traits = map[string]any{"plan": "pro", "name": "B"}
		p.Stats.Events = 3
		return tx.UpdateProfile(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := svc.Merge(ctx, a.ProfileID, b.ProfileID)
	if err != nil {
		t.Fatal(err)
	}
	if merged.ID != a.ProfileID || merged.Identifiers.ID != "a" || merged.Identifiers.Email != "a@x.io" ||
		len(merged.Identifiers.AnonymousIDs) != 2 || merged.Traits["plan"] != "pro" || merged.Stats.Events != 3 ||
		len(merged.MergedIDs) != 1 || merged.MergedIDs[0] != b.ProfileID {
		t.Fatalf("merged = %+v", merged)
	}
	for _, lookup := range []cdp.Identifier{ident("anonymous_id", "anon-b"), ident("email", "a@x.io")} {
		p, err := store.FindProfileByIdentifier(ctx, lookup)
		if err != nil || p.ID != a.ProfileID {
			t.Fatalf("%s resolves to %v, %v; want %s", lookup, p, err, a.ProfileID)
		}
	}
	// b's id conflicted with a's: it is kept as an alias of a, so that an
	// event sent later as b joins a, while a's own id stays a.
	if p, err := store.FindProfileByIdentifier(ctx, ident("id", "b")); err != nil || p.ID != a.ProfileID || p.Identifiers.ID != "a" {
		t.Fatalf("id:b resolves to %+v, %v; want %s with its own id a", p, err, a.ProfileID)
	}
	later, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "b")}, Traits: map[string]any{"seen": true}})
	if err != nil || later.ProfileID != a.ProfileID || later.Created {
		t.Fatalf("identify as b: %+v, %v", later, err)
	}
	if p, _ := store.FindProfileByID(ctx, a.ProfileID); p.Identifiers.ID != "a" || p.Traits["seen"] != true {
		t.Fatalf("identify by the alias changed the survivor's id or missed it: %+v", p)
	}
	if p, err := store.FindProfileByID(ctx, b.ProfileID); err != nil || p.ID != a.ProfileID {
		t.Fatalf("merged id resolves to %v, %v", p, err)
	}
	got, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "sb", Save: true})
	if err != nil || got.ProfileID != a.ProfileID {
		t.Fatalf("b's session now = %+v, %v; want %s", got, err, a.ProfileID)
	}

	if err := svc.Erase(ctx, b.ProfileID); err != nil { // by the merged-away id
		t.Fatal(err)
	}
	if _, err := store.FindProfileByID(ctx, a.ProfileID); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("erased profile still found (err %v)", err)
	}
	if _, err := store.FindSessionByID(ctx, "sb"); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("erased profile's session still found (err %v)", err)
	}
	// After erasure the session starts over with a new profile.
	again, err := svc.ResolveSession(ctx, identity.SessionRequest{SessionID: "sb", Save: true})
	if err != nil || again.ProfileID == a.ProfileID || !again.NewProfile {
		t.Fatalf("after erase = %+v, %v; want a new profile", again, err)
	}
}
