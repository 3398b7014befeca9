package identity_test

import (
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
)

// CreateAll makes one profile per newcomer owning its identifiers; a
// newcomer whose identifier someone owns by then, or an earlier newcomer
// of the call claims, gets none, and its candidate leaves nothing behind.
func TestCreateAll(t *testing.T) {
	ctx := t.Context()
	svc, store := open(t)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	owned, err := svc.Identify(ctx, identity.IdentifyRequest{Identifiers: []cdp.Identifier{ident("id", "taken")}, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	newcomers := []identity.Newcomer{
		{Identifiers: []cdp.Identifier{ident("email", "ann@example.com"), ident("id", "ann")}, At: at},
		{Identifiers: []cdp.Identifier{ident("id", "bob")}, At: at},
		{Identifiers: []cdp.Identifier{ident("id", "eve"), ident("email", "ann@example.com")}, At: at}, // Ann's email
		{Identifiers: []cdp.Identifier{ident("id", "taken"), ident("email", "tom@example.com")}, At: at},
	}
	var ids []string
	if err := store.Update(ctx, func(tx cdp.Tx) (err error) {
		ids, err = identity.CreateAll(ctx, tx, newcomers)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ids[0] == "" || ids[1] == "" || ids[0] == ids[1] || ids[2] != "" || ids[3] != "" {
		t.Fatalf("ids = %q; want Ann and Bob made, Eve and the owner of 'taken' not", ids)
	}
	ann, err := store.FindProfileByIdentifier(ctx, ident("email", "ann@example.com"))
	if err != nil || ann.ID != ids[0] || ann.Identifiers.ID != "ann" || !ann.CreatedAt.Equal(at) {
		t.Fatalf("Ann = %+v, %v", ann, err)
	}
	if p, err := store.FindProfileByIdentifier(ctx, ident("id", "taken")); err != nil || p.ID != owned.ProfileID {
		t.Fatalf("'taken' moved: %+v, %v", p, err)
	}
	for _, gone := range []cdp.Identifier{ident("id", "eve"), ident("email", "tom@example.com")} {
		if p, err := store.FindProfileByIdentifier(ctx, gone); cdp.ErrorCode(err) != cdp.ENOTFOUND {
			t.Errorf("%s is owned by %+v (%v); a candidate that lost a claim must leave nothing", gone, p, err)
		}
	}
}
