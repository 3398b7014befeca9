package identity

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Newcomer is a person to make: identifiers that no profile owned when
// read, first seen at At.
type Newcomer struct {
	Identifiers []cdp.Identifier
	At          time.Time
}

// CreateAll makes a profile for each newcomer, owning its identifiers, in
// a few writes whatever their number: what IdentifyTx does for a person
// new to the store, for many at once. ids[i] is newcomers[i]'s profile, or
// "" where another profile claimed one of its identifiers first (a
// transaction elsewhere, or an earlier newcomer of the call): that
// profile is not kept, and the caller resolves the person one by one.
func CreateAll(ctx context.Context, tx cdp.Tx, newcomers []Newcomer) (ids []string, err error) {
	profiles := make([]*cdp.Profile, len(newcomers))
	claims := map[cdp.Identifier]string{}
	for i, n := range newcomers {
		p := cdp.NewProfile(cdp.NewID(), n.At)
		for _, ident := range ByPriority(n.Identifiers) {
			if _, taken := claims[ident]; !taken {
				claims[ident] = p.ID
			}
			p.Identifiers.Add(ident)
		}
		profiles[i] = p
	}
	if err := tx.InsertProfiles(ctx, profiles); err != nil {
		return nil, err
	}
	owners, err := tx.ClaimIdentifiers(ctx, claims)
	if err != nil {
		return nil, err
	}
	ids = make([]string, len(newcomers))
	for i, p := range profiles {
		won := true
		for _, ident := range newcomers[i].Identifiers {
			won = won && owners[ident] == p.ID
		}
		if won {
			ids[i] = p.ID
			continue
		}
		// Lost a claim: the identifiers it won go with it.
		if err := tx.DeleteProfile(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
