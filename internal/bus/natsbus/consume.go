package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Consume implements cdp.EventLog. It returns nil when ctx is done, after
// handing back (nak) messages it had received but not yet delivered to h.
func (l *Log) Consume(ctx context.Context, group string, h func(context.Context, []cdp.Delivery)) error {
	// Join the group if it exists (its start position may have been reset
	// by releaseOrphans, which an update would refuse to change back).
	cons, err := l.js.Consumer(ctx, l.opts.Stream, group)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = l.js.CreateOrUpdateConsumer(ctx, l.opts.Stream, l.consumerConfig(group))
	}
	if err != nil {
		return fmt.Errorf("consumer %s: %w", group, err)
	}
	// What the process holds is bounded: the client's pull buffer (by
	// bytes), and what held counts: this channel and the batch being
	// handled. Messages held behind a slow batch are marked in progress
	// (held.keep), so a prefetch never outlives the ack wait and gets
	// delivered twice.
	in := make(chan delivery, inHand)
	done := make(chan struct{})
	hold := newHeld(2*l.opts.MaxBatchBytes, l.tally(group))
	cc, err := cons.Consume(func(m jetstream.Msg) {
		d := hold.add(m)
		select {
		case in <- d:
		case <-done:
			_ = d.Nak(0)
		}
	}, jetstream.PullMaxMessagesWithBytesLimit(l.opts.MaxBatch, l.opts.MaxBatchBytes),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			l.opts.Log.Debug("consume", "group", group, "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", group, err)
	}
	keepCtx, stopKeep := context.WithCancel(ctx)
	keepDone := make(chan struct{})
	go func() { defer close(keepDone); hold.keep(keepCtx, l.opts.AckWait/3) }()

	defer func() {
		close(done)
		hold.close()
		cc.Stop()
		stopKeep()
		<-keepDone
		for {
			select {
			case d := <-in:
				_ = d.Nak(0)
			default:
				return
			}
		}
	}()
	batch := make([]cdp.Delivery, 0, l.opts.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-in:
			batch = l.collect(ctx, in, append(batch[:0], d))
			h(ctx, batch)
		}
	}
}

// collect adds what arrives on in to batch until the batch is full (in
// messages or bytes) and, without a linger, until nothing more is
// waiting; with one, until it passes.
func (l *Log) collect(ctx context.Context, in <-chan delivery, batch []cdp.Delivery) []cdp.Delivery {
	var linger <-chan time.Time
	if l.opts.Linger > 0 {
		t := time.NewTimer(l.opts.Linger)
		defer t.Stop()
		linger = t.C
	}
	size := 0
	for _, d := range batch {
		size += len(d.Data())
	}
	for len(batch) < l.opts.MaxBatch && size < l.opts.MaxBatchBytes {
		var d delivery
		if linger == nil {
			select {
			case d = <-in:
			default:
				return batch
			}
		} else {
			select {
			case d = <-in:
			case <-linger:
				return batch
			case <-ctx.Done():
				return batch
			}
		}
		batch, size = append(batch, d), size+len(d.Data())
	}
	return batch
}

// inHand is how many received messages wait in the consumer's channel
// for the handler, beyond the pull buffer.
const inHand = 64

// held tracks the messages a consumer received and has not yet acked or
// nak'ed, with when each was last (re)started. It also bounds their
// bytes: add waits while more than limit are held, so that the channel
// and the batch being handled never hold more than that much (or one
// message, if it is larger), whatever the size of the messages (a
// group-committed envelope may be a megabyte). While add waits, the
// client pulls nothing more than its pull buffer.
type held struct {
	mu     sync.Mutex
	cond   *sync.Cond
	m      map[jetstream.Msg]time.Time
	bytes  int
	limit  int
	closed bool
	acked  *ackTally // counts what Ack acked
}

func newHeld(limit int, acked *ackTally) *held {
	h := &held{m: map[jetstream.Msg]time.Time{}, limit: limit, acked: acked}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *held) add(m jetstream.Msg) delivery {
	h.mu.Lock()
	for h.bytes > 0 && h.bytes+len(m.Data()) > h.limit && !h.closed {
		h.cond.Wait()
	}
	h.m[m] = time.Now()
	h.bytes += len(m.Data())
	h.mu.Unlock()
	return delivery{m: m, h: h}
}

func (h *held) done(m jetstream.Msg) {
	h.mu.Lock()
	if _, ok := h.m[m]; ok {
		delete(h.m, m)
		h.bytes -= len(m.Data())
		h.cond.Broadcast()
	}
	h.mu.Unlock()
}

// close releases add's waiters for good (the consumer is stopping).
func (h *held) close() {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
}

// keep marks every message held for longer than every as in progress, so
// its ack wait starts again, until ctx is done.
func (h *held) keep(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(context.Context) {
		now := time.Now()
		h.mu.Lock()
		var due []jetstream.Msg
		for m, since := range h.m {
			if now.Sub(since) >= every {
				due = append(due, m)
				h.m[m] = now
			}
		}
		h.mu.Unlock()
		for _, m := range due {
			_ = m.InProgress()
		}
	})
}

type delivery struct {
	m jetstream.Msg
	h *held
}

func (d delivery) Data() []byte { return d.m.Data() }

func (d delivery) Attempt() int {
	md, err := d.m.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}

func (d delivery) Ack() error {
	d.h.done(d.m)
	d.h.acked.messages.Add(1)
	d.h.acked.bytes.Add(uint64(len(d.m.Data())))
	return d.m.Ack()
}

func (d delivery) Nak(delay time.Duration) error {
	d.h.done(d.m)
	return d.m.NakWithDelay(delay)
}

func (d delivery) InProgress() error { return d.m.InProgress() }
