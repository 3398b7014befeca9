package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// batcher groups the action calls of concurrent runs to a destination
// that batches into one request. The run whose call opens a batch leads
// it: it waits until the batch is full (max_items, max_bytes) or its
// max_wait has passed, sends it through the outbound client (one slot,
// one rate-limit token, one breaker decision), and hands every run its
// own attempt, with its own outcome where the answer gives one. No
// goroutine of its own: every wait is a run's, under the run's context.
type batcher struct {
	mu   sync.Mutex
	open map[string]*batch // by destination and group
}

// batch is one batch being filled.
type batch struct {
	items []*batchItem
	bytes int
	full  chan struct{} // closed when no more items may join
}

// batchItem is one run's call in a batch, and where its attempt goes.
type batchItem struct {
	n    int // the run's attempt number
	call action.Call
	key  string // the step's idempotency key
	done chan batchResult
}

type batchResult struct {
	a   *httpclient.Attempt
	err error
}

// do adds the call to the destination's open batch of its group, or
// opens one and leads it, and returns the run's attempt once the batch
// was sent. The error is only ctx's, or httpclient.ErrHeld.
func (b *batcher) do(ctx context.Context, e *Engine, d *Destination, kind *action.Batching, client httpclient.Target, n int,
	call action.Call, key string) (*httpclient.Attempt, error) {
	limits := batchLimits(d.Batch, kind)
	it := &batchItem{n: n, call: call, key: key, done: make(chan batchResult, 1)}
	id := d.ID + "\x00" + call.Part.Group
	b.mu.Lock()
	if b.open == nil {
		b.open = map[string]*batch{}
	}
	cur := b.open[id]
	if cur != nil && cur.bytes+len(call.Part.Data) > limits.MaxBytes {
		delete(b.open, id) // this call would overflow it: it goes as it is
		close(cur.full)
		cur = nil
	}
	lead := cur == nil
	if lead {
		cur = &batch{full: make(chan struct{})}
		b.open[id] = cur
	}
	cur.items = append(cur.items, it)
	cur.bytes += len(call.Part.Data)
	if len(cur.items) >= limits.MaxItems || cur.bytes >= limits.MaxBytes {
		delete(b.open, id)
		close(cur.full)
	}
	b.mu.Unlock()

	if lead {
		b.lead(ctx, e, d, kind, client, id, cur, limits.MaxWait)
	}
	select {
	case r := <-it.done:
		return r.a, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// batchLimits are d's batch settings with the defaults and the kind's cap.
func batchLimits(set *action.Batch, kind *action.Batching) action.Batch {
	l := action.Batch{MaxItems: action.DefaultBatchItems, MaxBytes: action.DefaultBatchBytes, MaxWait: action.DefaultBatchWait}
	if set != nil {
		if set.MaxItems > 0 {
			l.MaxItems = set.MaxItems
		}
		if set.MaxBytes > 0 {
			l.MaxBytes = set.MaxBytes
		}
		if set.MaxWait > 0 {
			l.MaxWait = set.MaxWait
		}
	}
	if kind.MaxBytes > 0 && l.MaxBytes > kind.MaxBytes {
		l.MaxBytes = kind.MaxBytes
	}
	return l
}

// lead waits for the batch to fill or its time to pass, sends it and
// hands out the attempts.
func (b *batcher) lead(ctx context.Context, e *Engine, d *Destination, kind *action.Batching, client httpclient.Target,
	id string, cur *batch, wait time.Duration) {
	t := time.NewTimer(wait)
	select {
	case <-cur.full:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	b.mu.Lock()
	if b.open[id] == cur {
		delete(b.open, id)
		close(cur.full)
	}
	items := slices.Clone(cur.items)
	b.mu.Unlock()

	if ctx.Err() != nil { // shutting down: nothing was sent, nothing decided
		for _, it := range items {
			it.done <- batchResult{err: ctx.Err()}
		}
		return
	}
	parts := make([]action.Part, len(items))
	keys := make([]string, len(items))
	for i, it := range items {
		parts[i], keys[i] = *it.call.Part, it.key
	}
	batchID := batchKey(keys)
	req, err := kind.Join(d, items[0].call.Part.Group, parts, batchID)
	if err != nil {
		for _, it := range items {
			a := &httpclient.Attempt{Attempt: cdp.Attempt{N: it.n, StartedAt: e.Now().UTC(), Error: "joining the batch: " + err.Error()}}
			a.Class, a.Outcome = httpclient.Permanent, string(httpclient.Permanent)
			it.done <- batchResult{a: a}
		}
		return
	}
	a, err := e.Client.Do(ctx, client, 0, req)
	if err != nil { // ctx ended, or the breaker held the batch back
		for _, it := range items {
			it.done <- batchResult{err: err}
		}
		return
	}
	var results []action.Result
	if a.Class == httpclient.Succeeded && kind.Split != nil {
		results = kind.Split(a.Response.Status, a.Body, len(items))
	}
	for i, it := range items {
		place := &cdp.AttemptBatch{ID: batchID, Size: len(items), Index: i}
		it.done <- batchResult{a: itemAttempt(a, it, place, results, client.Secrets)}
	}
}

// itemAttempt is a run's record of the batch's attempt: the batch's
// request with the run's own part as its body, the batch's answer, and
// the run's own outcome where the answer gives one.
func itemAttempt(a *httpclient.Attempt, it *batchItem, place *cdp.AttemptBatch, results []action.Result, secrets []string) *httpclient.Attempt {
	out := *a
	out.N, out.Batch = it.n, place
	i := place.Index
	part := httpclient.CaptureRequest(httpclient.Request{Body: it.call.Part.Data}, secrets)
	out.Request.Body, out.Request.Truncated = part.Body, part.Truncated
	if i < len(results) {
		r := results[i]
		if r.Outcome != "" {
			out.Class, out.Outcome = r.Outcome, string(r.Outcome)
		}
		if r.Error != "" {
			out.Error = r.Error
		}
		if r.Body != nil {
			out.Body = r.Body
		}
	}
	if out.Class != httpclient.Succeeded && out.Error == "" {
		out.Error = fmt.Sprintf("the batch failed: %s", a.Error)
	}
	return &out
}

// batchKey identifies a batch by its items' keys: a batch of the same
// calls has the same key.
func batchKey(keys []string) string {
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:12])
}
