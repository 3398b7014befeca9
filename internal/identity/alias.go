package identity

import (
	"context"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// AliasResult is the outcome of AliasTx.
type AliasResult struct {
	// ProfileID is the person's profile after the call.
	ProfileID string
	// Merged is the profile merged into it, if the two identities had a
	// profile each.
	Merged string
	// Anonymous are the anonymous ids now the profile's: stored events
	// sent with them belong to it.
	Anonymous []cdp.Identifier
}

// AliasTx applies an alias call (Segment's, as the Data Pipelines API
// carries it): previous, an earlier user id or anonymous id, names the
// person idents name. Two profiles are merged into the one idents name; a
// profile known only by previous takes the new identifiers; otherwise the
// profile idents name (made if none) gains previous as an anonymous id.
// Either way previous keeps resolving to the profile, as a user id and as
// an anonymous id, so an event sent later with the old id joins it.
func AliasTx(ctx context.Context, tx cdp.Tx, idents []cdp.Identifier, previous string, at time.Time) (AliasResult, error) {
	prevID := cdp.Identifier{Kind: cdp.IdentifierID, Value: previous}
	prevAnon := cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: previous}
	user, _, err := ownerOf(ctx, tx, idents)
	if err != nil {
		return AliasResult{}, err
	}
	prev, prevIdent, err := ownerOf(ctx, tx, []cdp.Identifier{prevID, prevAnon})
	if err != nil {
		return AliasResult{}, err
	}
	var res AliasResult
	switch {
	case user != "" && prev != "" && user != prev:
		if _, err := MergeTx(ctx, tx, user, prev, at); err != nil {
			return res, err
		}
		res.ProfileID, res.Merged = user, prev
	case user == "" && prev != "":
		if err := adopt(ctx, tx, prev, idents, at); err != nil {
			return res, err
		}
		fallthrough
	default:
		attach := idents
		if prevIdent != prevID {
			attach = append(attach, prevAnon)
		}
		r, err := IdentifyTx(ctx, tx, IdentifyRequest{Identifiers: attach, Create: true, At: at})
		if err != nil {
			return res, err
		}
		res.ProfileID = r.ProfileID
		for _, ident := range attach {
			if ident.Kind == cdp.IdentifierAnonymousID {
				res.Anonymous = append(res.Anonymous, ident)
			}
		}
	}
	// The old id resolves to the profile; one another profile owns stays
	// that profile's.
	if _, err := tx.ClaimIdentifier(ctx, prevID, res.ProfileID); err != nil {
		return res, err
	}
	return res, nil
}

// adopt gives profile pid the single-valued identifiers of idents (a new
// user id replaces its old one, which stays an alias of it), unless
// another profile owns them.
func adopt(ctx context.Context, tx cdp.Tx, pid string, idents []cdp.Identifier, at time.Time) error {
	var claimed []cdp.Identifier
	for _, ident := range idents {
		if ident.Kind == cdp.IdentifierAnonymousID {
			continue
		}
		owner, err := tx.ClaimIdentifier(ctx, ident, pid)
		if err != nil {
			return err
		}
		if owner == pid {
			claimed = append(claimed, ident)
		}
	}
	return UpdateProfileTx(ctx, tx, pid, at, func(p *cdp.Profile) bool {
		changed := false
		for _, ident := range claimed {
			changed = p.Identifiers.Add(ident) || changed
		}
		return changed
	})
}

// ownerOf returns the profile owning the strongest of idents that has an
// owner, and that identifier; "" if none has.
func ownerOf(ctx context.Context, tx cdp.Tx, idents []cdp.Identifier) (string, cdp.Identifier, error) {
	for _, ident := range ByPriority(idents) {
		pid, err := tx.ProfileIDByIdentifier(ctx, ident)
		if err == nil {
			return pid, ident, nil
		}
		if cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return "", ident, err
		}
	}
	return "", cdp.Identifier{}, nil
}
