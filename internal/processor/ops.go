package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
)

// resolve applies e's operation and finds the profile of an event that
// names its person by identifiers (the Customer.io APIs) rather than by a
// profile id. An operation runs only for an event not stored yet, so a
// redelivered batch does not apply it twice.
func (st *state) resolve(ctx context.Context, e *cdp.Event) error {
	if e.ProfileID != "" || (len(e.Identifiers) == 0 && e.Op == "") {
		return nil
	}
	if e.Op != "" {
		// Operations read and move stored events: the events before this
		// one are stored first.
		if err := st.insertPending(ctx); err != nil {
			return err
		}
		if !e.Ephemeral {
			if seen, err := st.tx.HasEvent(ctx, e); err != nil || seen {
				return err
			}
		}
		// Operations may move identifiers between profiles: nothing known
		// before stands for the rest of the transaction.
		clear(st.owners)
		st.known, st.learned = nil, nil
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
		res, err := identity.AliasTx(ctx, st.tx, e.Identifiers, props.PreviousID, e.ReceivedAt)
		if err != nil {
			return err
		}
		e.ProfileID = res.ProfileID
		if res.Merged != "" {
			st.repoint(res.Merged, res.ProfileID)
		}
		return st.attachAnonymous(ctx, res.ProfileID, res.Anonymous, e.ReceivedAt)
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
// anonymous id among idents (Customer.io's documentation: 30 days).
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
		if st.known != nil {
			if pid, ok := st.known.Get(ident); ok {
				st.owners[ident] = pid
				return pid, nil
			}
		}
		pid, err := st.tx.ProfileIDByIdentifier(ctx, ident)
		if err == nil {
			st.owners[ident] = pid
			if st.learned != nil {
				st.learned[ident] = pid
			}
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
	// The store moved or deleted from's sessions; what the transaction
	// holds of them follows.
	for id, s := range st.sessions {
		switch {
		case s == nil || s.ProfileID != from:
		case to != "":
			s.ProfileID = to
		default:
			st.sessions[id] = nil
			delete(st.dirty, id)
			delete(st.newSession, id)
		}
	}
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
