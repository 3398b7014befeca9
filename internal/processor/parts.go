package processor

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
)

// On a store that runs transactions side by side (PostgreSQL), one
// delivery batch is stored by several transactions at once: each request's
// batch goes to the part its person hashes to, so that one person's
// requests stay in one transaction, in the order they arrived, while the
// store works on the others' meanwhile. A transaction waits on the network
// and on the commit's flush most of its time; with one in flight the
// store's cores idled while the processor waited, and the processor while
// the store worked.

// processParts stores msgs in up to p.parallel transactions, one per part
// of the people they name, and acks each message whose every part
// committed. The messages of a part that failed go through handle's
// one-by-one path; what their other parts stored is found stored again
// and skipped.
func (p *Processor) processParts(ctx context.Context, msgs []message) (failed []message, err error) {
	parts := make([][]*cdp.Batch, p.parallel)
	in := make([][]int, len(msgs)) // the parts each message has batches in
	for i, m := range msgs {
		for _, b := range m.env {
			k := int(partitionKey(b) % uint64(p.parallel))
			parts[k] = append(parts[k], b)
			if n := len(in[i]); n == 0 || in[i][n-1] != k {
				in[i] = append(in[i], k)
			}
		}
	}
	errs := make([]error, p.parallel)
	var wg sync.WaitGroup
	for k, batches := range parts {
		if len(batches) > 0 {
			wg.Go(func() { errs[k] = p.commit(ctx, batches) })
		}
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil && (err == nil || cdp.ErrorCode(e) == cdp.EUNAVAILABLE) {
			err = e
		}
	}
	for i, m := range msgs {
		ok := true
		for _, k := range in[i] {
			ok = ok && errs[k] == nil
		}
		if ok {
			_ = m.d.Ack()
		} else {
			failed = append(failed, m)
		}
	}
	return failed, err
}

// hasOperation reports whether msgs hold an identity operation (identify,
// alias, merge, delete…). Such a delivery batch is stored in one
// transaction, in order: an operation can tie together people that the
// parts would have kept apart (an alias of an anonymous id to a user id).
func hasOperation(msgs []message) bool {
	for _, m := range msgs {
		for _, b := range m.env {
			for _, e := range b.Events {
				if e.Op != "" {
					return true
				}
			}
		}
	}
	return false
}

var partitionSeed = maphash.MakeSeed()

// partitionKey hashes what names a request's person, so that requests of
// one person fall in one part: a device's anonymous id first (the thread
// that ties its events before and after an identify), then a profile id,
// the strongest identifier, the session; a request naming none of them
// has no order to keep.
func partitionKey(b *cdp.Batch) uint64 {
	key := b.ID
	if len(b.Events) > 0 {
		e := b.Events[0]
		key = personKey(e)
	}
	if key == "" && b.Session != nil {
		key = b.Session.ID
	}
	if key == "" {
		key = b.ID
	}
	return maphash.String(partitionSeed, key)
}

func personKey(e *cdp.Event) string {
	if e.AnonymousID != "" {
		return "anonymous_id:" + e.AnonymousID
	}
	for _, ident := range e.Identifiers {
		if ident.Kind == cdp.IdentifierAnonymousID {
			return "anonymous_id:" + ident.Value
		}
	}
	if e.ProfileID != "" {
		return "profile:" + e.ProfileID
	}
	if len(e.Identifiers) > 0 {
		ident := identity.ByPriority(e.Identifiers)[0]
		return ident.Kind + ":" + ident.Value
	}
	if e.SessionID != "" {
		return "session:" + e.SessionID
	}
	return ""
}
