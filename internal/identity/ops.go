package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Owners finds the profile owning the strongest of idents, or "" if none
// does. The processor's remembers what it found for its transaction.
type Owners interface {
	Owner(ctx context.Context, idents []cdp.Identifier) (string, error)
}

// Direct returns Owners that look every identifier up in tx, remembering
// nothing.
func Direct(tx cdp.Tx) Owners { return direct{tx} }

type direct struct{ tx cdp.Tx }

func (d direct) Owner(ctx context.Context, idents []cdp.Identifier) (string, error) {
	pid, _, err := ownerOf(ctx, d.tx, idents)
	return pid, err
}

// Outcome is what Apply did, for the caller to bring what it remembers of
// profiles up to date.
type Outcome struct {
	// ProfileID is the event's profile ("" if the event names no one
	// known and asks for no one to be made).
	ProfileID string
	// Merged is a profile merged into ProfileID; Erased a profile erased.
	Merged, Erased string
	// Anonymous are anonymous ids now ProfileID's: stored events sent with
	// them belong to it.
	Anonymous []cdp.Identifier
}

// Apply carries out the identity side of an event that names its person
// by identifiers (the Customer.io APIs) rather than by a profile id: its
// operation (e.Op: identify, delete, merge, alias, devices, suppression,
// segments), or for a plain event, finding the named person, made if new.
// It runs in the transaction that stores the event, once per event.
func Apply(ctx context.Context, tx cdp.Tx, owners Owners, e *cdp.Event) (Outcome, error) {
	switch e.Op {
	case cdp.OpDelete:
		pid, err := owners.Owner(ctx, e.Identifiers)
		if err != nil || pid == "" {
			return Outcome{}, err
		}
		return Outcome{Erased: pid}, EraseTx(ctx, tx, pid)
	case cdp.OpDeviceAdd, cdp.OpDeviceDelete, cdp.OpSuppress, cdp.OpUnsuppress:
		return profileOp(ctx, tx, owners, e)
	case cdp.OpMerge:
		return merge(ctx, tx, owners, e)
	case cdp.OpAlias:
		var props struct {
			PreviousID string `json:"previous_id"`
		}
		if err := json.Unmarshal(e.Properties, &props); err != nil || props.PreviousID == "" {
			return Outcome{}, fmt.Errorf("alias: no previous id")
		}
		res, err := AliasTx(ctx, tx, e.Identifiers, props.PreviousID, e.ReceivedAt)
		return Outcome{ProfileID: res.ProfileID, Merged: res.Merged, Anonymous: res.Anonymous}, err
	case cdp.OpSegmentAdd, cdp.OpSegmentRemove:
		return Outcome{}, segment(ctx, tx, owners, e)
	case cdp.OpIdentify, cdp.OpIdentifyExisting:
		return identify(ctx, tx, e)
	}
	// A track-like event: a named person is made if new; an anonymous id
	// joins the profile it was identified with, if any.
	var named []cdp.Identifier
	for _, ident := range e.Identifiers {
		if ident.Kind != cdp.IdentifierAnonymousID {
			named = append(named, ident)
		}
	}
	if len(named) == 0 {
		pid, err := owners.Owner(ctx, e.Identifiers)
		return Outcome{ProfileID: pid}, err
	}
	// A known person is the common case: one lookup, which Owners caches.
	if pid, err := owners.Owner(ctx, named); err != nil || pid != "" {
		return Outcome{ProfileID: pid}, err
	}
	res, err := IdentifyTx(ctx, tx, IdentifyRequest{Identifiers: named, Create: true, At: e.ReceivedAt})
	return Outcome{ProfileID: res.ProfileID}, err
}

// identify records an identify call: the person is made if new (unless
// the call only updates people that exist), takes the identifiers no one
// else owns and the traits, and gets the events of its anonymous ids.
func identify(ctx context.Context, tx cdp.Tx, e *cdp.Event) (Outcome, error) {
	var traits map[string]any
	if len(e.Traits) > 0 {
		if err := json.Unmarshal(e.Traits, &traits); err != nil {
			return Outcome{}, fmt.Errorf("identify traits: %w", err)
		}
	}
	res, err := IdentifyTx(ctx, tx, IdentifyRequest{Identifiers: e.Identifiers,
		Create: e.Op == cdp.OpIdentify, Traits: traits, At: e.ReceivedAt, TraitsAt: e.Timestamp})
	if cdp.ErrorCode(err) == cdp.ENOTFOUND { // an update of an unknown person: recorded, nothing else
		return Outcome{}, nil
	} else if err != nil {
		return Outcome{}, err
	}
	out := Outcome{ProfileID: res.ProfileID}
	for _, ident := range e.Identifiers {
		if ident.Kind == cdp.IdentifierAnonymousID {
			out.Anonymous = append(out.Anonymous, ident)
		}
	}
	return out, nil
}

// merge folds the person properties.secondary names into the one the
// event's identifiers name (Customer.io's merge_customers); nothing
// happens unless both exist.
func merge(ctx context.Context, tx cdp.Tx, owners Owners, e *cdp.Event) (Outcome, error) {
	var props struct{ Secondary cdp.Identifier }
	if err := json.Unmarshal(e.Properties, &props); err != nil {
		return Outcome{}, fmt.Errorf("merge: %w", err)
	}
	primary, err := owners.Owner(ctx, e.Identifiers)
	if err != nil || primary == "" {
		return Outcome{}, err
	}
	secondary, err := owners.Owner(ctx, []cdp.Identifier{props.Secondary})
	if err != nil || secondary == "" || secondary == primary {
		return Outcome{}, err
	}
	if _, err := MergeTx(ctx, tx, primary, secondary, e.ReceivedAt); err != nil {
		return Outcome{}, err
	}
	return Outcome{ProfileID: primary, Merged: secondary}, nil
}

// profileOp applies a device or suppression operation to the person the
// event names; adding a device makes the person if new.
func profileOp(ctx context.Context, tx cdp.Tx, owners Owners, e *cdp.Event) (Outcome, error) {
	pid, err := owners.Owner(ctx, e.Identifiers)
	if err == nil && pid == "" && e.Op == cdp.OpDeviceAdd {
		var res IdentifyResult
		res, err = IdentifyTx(ctx, tx, IdentifyRequest{Identifiers: e.Identifiers, Create: true, At: e.ReceivedAt})
		pid = res.ProfileID
	}
	if err != nil || pid == "" {
		return Outcome{}, err
	}
	return Outcome{ProfileID: pid}, UpdateProfileTx(ctx, tx, pid, e.ReceivedAt, func(p *cdp.Profile) bool { return applyProfileOp(p, e) })
}

// segment adds the people the event names to a segment, or removes them;
// people it does not know are ignored, as Customer.io does.
func segment(ctx context.Context, tx cdp.Tx, owners Owners, e *cdp.Event) error {
	var props struct {
		SegmentID string `json:"segment_id"`
	}
	if err := json.Unmarshal(e.Properties, &props); err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	for _, ident := range e.Identifiers {
		pid, err := owners.Owner(ctx, []cdp.Identifier{ident})
		if err != nil {
			return err
		}
		if pid == "" {
			continue
		}
		err = UpdateProfileTx(ctx, tx, pid, e.ReceivedAt, func(p *cdp.Profile) bool {
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
	d, ok := cdp.DeviceOf(e.Properties)
	if !ok {
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
