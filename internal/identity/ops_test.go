package identity_test

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/store/postgres"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// The identity rules of events that name people by identifiers, applied
// in a transaction of each store: a plain event makes its person, an
// identify attaches identifiers and traits, devices, suppression and
// segments change the profile, merge and delete report what they did so
// the caller can follow.
func TestApply(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		checkApply(t, s)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		s, err := postgres.Open(t.Context(), postgres.Options{URL: testenv.Postgres(t), Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		checkApply(t, s)
	})
}

func checkApply(t *testing.T, store cdp.Store) {
	ctx := t.Context()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	apply := func(e *cdp.Event) identity.Outcome {
		t.Helper()
		e.ReceivedAt = at
		var out identity.Outcome
		err := store.Update(ctx, func(tx cdp.Tx) error {
			var err error
			out, err = identity.Apply(ctx, tx, identity.Direct(tx), e)
			return err
		})
		if err != nil {
			t.Fatalf("%s %s: %v", e.Op, e.Type, err)
		}
		return out
	}
	props := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	profile := func(id string) *cdp.Profile {
		t.Helper()
		p, err := store.FindProfileByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	u1 := apply(&cdp.Event{Type: "clicked", Identifiers: []cdp.Identifier{ident("id", "u1")}})
	if u1.ProfileID == "" || apply(&cdp.Event{Type: "clicked", Identifiers: []cdp.Identifier{ident("id", "u1")}}).ProfileID != u1.ProfileID {
		t.Fatalf("a plain event did not make, then find, its person: %+v", u1)
	}
	if out := apply(&cdp.Event{Type: "seen", Identifiers: []cdp.Identifier{ident("anonymous_id", "a-unknown")}}); out.ProfileID != "" {
		t.Fatalf("an unknown anonymous id made a profile: %+v", out)
	}
	out := apply(&cdp.Event{Op: cdp.OpIdentify, Identifiers: []cdp.Identifier{ident("id", "u1"), ident("email", "U1@x.io"), ident("anonymous_id", "a1")},
		Traits: props(map[string]any{"plan": "pro"})})
	if out.ProfileID != u1.ProfileID || len(out.Anonymous) != 1 || out.Anonymous[0].Value != "a1" {
		t.Fatalf("identify: %+v", out)
	}
	if p := profile(u1.ProfileID); p.Identifiers.Email != "u1@x.io" || p.Traits["plan"] != "pro" {
		t.Fatalf("after identify: %+v", p)
	}
	// Trait changes apply in event-time order: an identify an hour older
	// than the last (a mobile SDK's offline queue, a replay) adds the
	// traits the profile lacks and overwrites none a newer one set.
	newer, older, latest := at.Add(time.Hour), at.Add(time.Minute), at.Add(2*time.Hour)
	apply(&cdp.Event{Op: cdp.OpIdentify, Timestamp: newer, Identifiers: []cdp.Identifier{ident("id", "u1")}, Traits: props(map[string]any{"plan": "new"})})
	apply(&cdp.Event{Op: cdp.OpIdentify, Timestamp: older, Identifiers: []cdp.Identifier{ident("id", "u1")},
		Traits: props(map[string]any{"plan": "old", "city": "Oslo"})})
	if p := profile(u1.ProfileID); p.Traits["plan"] != "new" || p.Traits["city"] != "Oslo" {
		t.Fatalf("an older identify overwrote a newer trait or added none: %v", p.Traits)
	}
	apply(&cdp.Event{Op: cdp.OpIdentify, Timestamp: latest, Identifiers: []cdp.Identifier{ident("id", "u1")}, Traits: props(map[string]any{"plan": "pro"})})
	if p := profile(u1.ProfileID); p.Traits["plan"] != "pro" || !p.TraitsAt["plan"].Equal(latest) {
		t.Fatalf("a newer identify did not set the trait: %v %v", p.Traits, p.TraitsAt)
	}
	if out := apply(&cdp.Event{Op: cdp.OpIdentifyExisting, Identifiers: []cdp.Identifier{ident("id", "nobody")}}); out.ProfileID != "" {
		t.Fatalf("an update made a profile: %+v", out)
	}

	apply(&cdp.Event{Op: cdp.OpDeviceAdd, Identifiers: []cdp.Identifier{ident("id", "u1")}, Properties: props(cdp.Device{ID: "tok", Platform: "ios"})})
	apply(&cdp.Event{Op: cdp.OpSuppress, Identifiers: []cdp.Identifier{ident("id", "u1")}})
	apply(&cdp.Event{Op: cdp.OpSegmentAdd, Identifiers: []cdp.Identifier{ident("id", "u1"), ident("id", "ghost")}, Properties: props(map[string]string{"segment_id": "7"})})
	if p := profile(u1.ProfileID); len(p.Devices) != 1 || p.Devices[0].ID != "tok" || !p.Suppressed || !slices.Equal(p.Segments, []string{"7"}) {
		t.Fatalf("after device, suppress, segment: %+v", p)
	}
	apply(&cdp.Event{Op: cdp.OpSegmentRemove, Identifiers: []cdp.Identifier{ident("id", "u1")}, Properties: props(map[string]string{"segment_id": "7"})})
	if p := profile(u1.ProfileID); len(p.Segments) != 0 {
		t.Fatalf("segment not removed: %v", p.Segments)
	}
	if out := apply(&cdp.Event{Op: cdp.OpDeviceAdd, Identifiers: []cdp.Identifier{ident("id", "new-d")}, Properties: props(cdp.Device{ID: "t2"})}); out.ProfileID == "" {
		t.Fatal("a device of an unknown person made no profile")
	}

	u2 := apply(&cdp.Event{Op: cdp.OpIdentify, Identifiers: []cdp.Identifier{ident("id", "u2")}})
	out = apply(&cdp.Event{Op: cdp.OpMerge, Identifiers: []cdp.Identifier{ident("id", "u1")}, Properties: props(map[string]any{"secondary": ident("id", "u2")})})
	if out.ProfileID != u1.ProfileID || out.Merged != u2.ProfileID {
		t.Fatalf("merge: %+v", out)
	}
	if again := apply(&cdp.Event{Type: "late", Identifiers: []cdp.Identifier{ident("id", "u2")}}); again.ProfileID != u1.ProfileID {
		t.Fatalf("the merged-away id leads to %s, not the survivor", again.ProfileID)
	}
	out = apply(&cdp.Event{Op: cdp.OpDelete, Identifiers: []cdp.Identifier{ident("email", "u1@x.io")}})
	if out.Erased != u1.ProfileID {
		t.Fatalf("delete: %+v", out)
	}
	if _, err := store.FindProfileByID(ctx, u1.ProfileID); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("erased profile still found: %v", err)
	}
}
