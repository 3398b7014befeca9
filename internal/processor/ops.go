package processor

import (
	"context"
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
	out, err := identity.Apply(ctx, st.tx, st, e)
	if err != nil {
		return err
	}
	for _, ident := range e.Identifiers {
		if pid, ok := st.owners[ident]; ok && pid == "" {
			delete(st.owners, ident) // Apply may have claimed it
		}
	}
	if out.ProfileID != "" {
		e.ProfileID = out.ProfileID
	}
	switch {
	case out.Erased != "":
		st.repoint(out.Erased, "")
	case out.Merged != "":
		st.repoint(out.Merged, out.ProfileID)
	}
	return st.attachAnonymous(ctx, e.ProfileID, out.Anonymous, e.ReceivedAt)
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

// Owner returns the profile owning the strongest of idents, or "". Owners
// found are remembered for the transaction (repoint forgets them).
func (st *state) Owner(ctx context.Context, idents []cdp.Identifier) (string, error) {
	for _, ident := range identity.ByPriority(idents) {
		if pid, ok := st.owners[ident]; ok {
			if pid == "" {
				continue // read unowned in this transaction (prefetchOwners)
			}
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
