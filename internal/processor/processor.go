// Package processor consumes the event log: it stores each event once
// (dedup by id and by the client's message id), keeps profiles and
// sessions up to date, and feeds the live tail. Processing is at-least-
// once; everything a batch changes commits in one store transaction
// together with its events, so a redelivered batch changes nothing twice.
package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyardhq/switchyard/internal/cache"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/envelope"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Group is the event-log consumer group every processor joins.
const Group = "processor"

// Processor turns event-log messages into stored events.
type Processor struct {
	log      cdp.EventLog
	store    cdp.Store
	identity *identity.Service
	hub      Tail
	metrics  *metrics.Metrics
	logger   *slog.Logger
	// MaxAttempts is how often a failing message is tried before it is
	// stored as poison (default 5).
	MaxAttempts int
	triggers    Triggers
	onRuns      func(ctx context.Context, runs []*cdp.Run, events []*cdp.Event)
	observe     func(events []*cdp.Event)
	// seen remembers the last session update committed per session, to
	// skip an identical one without a read; nil when other processes
	// write the same sessions (Deps.Shared).
	seen *cache.Cache[string, uint64]
	// owners remembers which profile owns an identifier, as read from the
	// store in committed transactions, so that the events of a known
	// person skip the lookup; nil when other processes write the same
	// store (Deps.Shared). It is dropped whenever a profile is erased or
	// merged, here or through the identity service (ownersEpoch).
	owners      *cache.Cache[cdp.Identifier, string]
	ownersEpoch uint64
	// parallel is how many transactions store a delivery batch at once
	// (processParts); 1 stores it in one.
	parallel int
}

// Tail receives the events each transaction stored, for the live tail:
// the process's own hub, or the relay that reaches every node's.
type Tail interface {
	Publish(events []*cdp.Event)
}

// Triggers decides which workflow runs a stored event starts, and which
// waiting runs the stored events resume; it is called in the transaction
// that stores the events.
type Triggers interface {
	Runs(ctx context.Context, tx cdp.Tx, e *cdp.Event, now time.Time) ([]*cdp.Run, error)
	// Started is told of each run inserted, to keep what it watches for
	// (an exit rule's wait).
	Started(ctx context.Context, tx cdp.Tx, r *cdp.Run, e *cdp.Event) error
	// Wake resumes the runs waiting for what the stored events did and
	// returns those to queue.
	Wake(ctx context.Context, tx cdp.Tx, events []*cdp.Event, now time.Time) ([]*cdp.Run, error)
}

// Deps are what a Processor works with.
type Deps struct {
	EventLog cdp.EventLog
	Store    cdp.Store
	Identity *identity.Service
	Tail     Tail
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// Triggers, if set, names the workflow runs each stored event starts;
	// OnRuns receives them, with the events stored, once their
	// transaction committed.
	Triggers Triggers
	OnRuns   func(ctx context.Context, runs []*cdp.Run, events []*cdp.Event)
	// Observe, if set, is told of the events each transaction stored once
	// it committed (the event catalog counts them).
	Observe func(events []*cdp.Event)
	// Shared says that processors on other nodes write the same store: an
	// update identical to the last one this one committed for a session
	// may no longer be what is stored, and an identifier's owner may have
	// changed, so nothing is remembered across transactions.
	Shared bool
	// Parallel is how many transactions may store one delivery batch at
	// once, for a store whose transactions run side by side (PostgreSQL);
	// it needs Shared, as the memory of earlier transactions assumes they
	// committed in order. 0 or 1: one.
	Parallel int
}

// New returns a Processor.
func New(d Deps) *Processor {
	p := &Processor{log: d.EventLog, store: d.Store, identity: d.Identity, hub: d.Tail, metrics: d.Metrics, logger: d.Log,
		MaxAttempts: 5, triggers: d.Triggers, onRuns: d.OnRuns, observe: d.Observe}
	p.parallel = 1
	if !d.Shared {
		p.seen, p.owners = cache.New[string, uint64](100_000, 0), cache.New[cdp.Identifier, string](100_000, 0)
	} else if d.Parallel > 1 {
		p.parallel = d.Parallel
	}
	return p
}

// Run processes until ctx is done. Messages received but not processed
// when it stops are handed back to the log for redelivery.
func (p *Processor) Run(ctx context.Context) error {
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go p.watchLag(lagCtx)
	return p.log.Consume(ctx, Group, p.handle)
}

func (p *Processor) watchLag(ctx context.Context) {
	periodic.Run(ctx, 2*time.Second, func(ctx context.Context) {
		if b, err := p.log.Backlog(ctx, Group); err == nil {
			p.metrics.ProcessorLag.Set(float64(b.Messages))
		}
	})
}

type message struct {
	d   cdp.Delivery
	env cdp.Envelope
}

// handle processes one delivery batch in a single store transaction (or
// one per part, processParts); if that fails it retries message by
// message so one bad message cannot hold back the others.
func (p *Processor) handle(ctx context.Context, deliveries []cdp.Delivery) {
	p.metrics.ProcessorBatch.Observe(float64(len(deliveries)))
	msgs := make([]message, 0, len(deliveries))
	for _, d := range deliveries {
		env, err := envelope.Decode(d.Data())
		if err != nil {
			p.poison(ctx, d, "", d.Data(), fmt.Errorf("decode event-log message: %v", err))
			continue
		}
		msgs = append(msgs, message{d, env})
	}
	if len(msgs) == 0 {
		return
	}
	var err error
	if p.parallel > 1 && !hasOperation(msgs) {
		msgs, err = p.processParts(ctx, msgs)
	} else if err = p.process(ctx, msgs...); err == nil {
		msgs = nil
	}
	if len(msgs) == 0 {
		return
	} else if cdp.ErrorCode(err) == cdp.EUNAVAILABLE {
		// Storing them one by one would fail the same way.
		p.logger.Warn("store unavailable, will retry", "messages", len(msgs), "err", err)
		for _, m := range msgs {
			_ = m.d.Nak(backoff(m.d.Attempt()))
		}
		return
	} else if len(msgs) == 1 || ctx.Err() != nil {
		p.fail(ctx, msgs[0], err)
		for _, m := range msgs[1:] {
			_ = m.d.Nak(0)
		}
		return
	}
	for _, m := range msgs {
		if err := p.process(ctx, m); err != nil {
			p.fail(ctx, m, err)
		}
	}
}

// process stores the batches of msgs in one transaction, then acks them.
func (p *Processor) process(ctx context.Context, msgs ...message) error {
	var batches []*cdp.Batch
	for _, m := range msgs {
		batches = append(batches, m.env...)
	}
	if err := p.commit(ctx, batches); err != nil {
		return err
	}
	for _, m := range msgs {
		_ = m.d.Ack()
	}
	return nil
}

// commit stores batches in one transaction and, once it committed,
// reports them to the metrics and the tail.
func (p *Processor) commit(ctx context.Context, batches []*cdp.Batch) error {
	var st *state
	if p.owners != nil {
		if e := p.identity.Epoch(); e != p.ownersEpoch {
			p.owners.Clear()
			p.ownersEpoch = e
		}
	}
	spans := startStoreSpans(ctx, batches)
	err := p.store.Update(ctx, func(tx cdp.Tx) error {
		st = newState(tx, p.seen, p.owners)
		st.spans = spans
		if err := st.prefetch(ctx, batches); err != nil {
			return err
		}
		for _, b := range batches {
			if err := st.apply(ctx, b); err != nil {
				return err
			}
		}
		if err := st.insertPending(ctx); err != nil {
			return err
		}
		if err := st.flush(ctx); err != nil {
			return err
		}
		if err := tx.CountEvents(ctx, st.minuteCounts()); err != nil {
			return err
		}
		return st.trigger(ctx, p.triggers, time.Now().UTC())
	})
	spans.end(err)
	if err != nil {
		return err
	}
	st.committed()
	if p.owners != nil {
		if st.erased {
			p.owners.Clear()
		} else {
			for ident, pid := range st.learned {
				p.owners.Put(ident, pid)
			}
		}
	}
	if len(st.runs) > 0 && p.onRuns != nil {
		p.onRuns(ctx, st.runs, st.stored)
	}
	if st.erased {
		p.identity.ProfilesChanged()
	}
	p.metrics.Processed.WithLabelValues("stored").Add(float64(len(st.stored)))
	p.metrics.Processed.WithLabelValues("duplicate").Add(float64(st.duplicates))
	p.metrics.Processed.WithLabelValues("ephemeral").Add(float64(st.ephemeral))
	p.metrics.DedupHits.WithLabelValues("store").Add(float64(st.duplicates))
	p.hub.Publish(st.stored)
	if p.observe != nil {
		p.observe(st.stored)
	}
	return nil
}

// fail asks for a later retry; after MaxAttempts it salvages the message:
// each request's batch is stored on its own, and only the batches that
// still fail are stored as poison, so one bad request cannot take the
// others of its envelope with it. A store that is down is no fault of the
// message: it is retried for as long as the outage lasts.
func (p *Processor) fail(ctx context.Context, m message, err error) {
	attempt := m.d.Attempt()
	if ctx.Err() != nil || attempt < p.MaxAttempts || cdp.ErrorCode(err) == cdp.EUNAVAILABLE {
		p.logger.Warn("processing failed, will retry", "batch_id", m.env[0].ID, "attempt", attempt, "err", err)
		_ = m.d.Nak(backoff(attempt))
		return
	}
	for _, b := range m.env {
		if err := p.commit(ctx, []*cdp.Batch{b}); err != nil {
			if cdp.ErrorCode(err) == cdp.EUNAVAILABLE {
				_ = m.d.Nak(backoff(attempt))
				return
			}
			raw, _ := json.Marshal(b)
			if perr := p.storePoison(ctx, b.SourceID, raw, err); perr != nil {
				p.logger.Error("cannot store poison batch, will retry", "err", perr, "cause", err)
				_ = m.d.Nak(backoff(attempt))
				return
			}
		}
	}
	_ = m.d.Ack()
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * 100 * time.Millisecond
	return min(d, 30*time.Second)
}

// poison stores an undecodable message as poison and acks it.
func (p *Processor) poison(ctx context.Context, d cdp.Delivery, sourceID string, raw []byte, cause error) {
	if err := p.storePoison(ctx, sourceID, raw, cause); err != nil {
		p.logger.Error("cannot store poison message, will retry", "err", err, "cause", cause)
		_ = d.Nak(backoff(d.Attempt()))
		return
	}
	_ = d.Ack()
}

// storePoison stores raw as an event of type poison carrying the error, so
// that what could not be processed is visible and never retried forever.
func (p *Processor) storePoison(ctx context.Context, sourceID string, raw []byte, cause error) error {
	props, _ := json.Marshal(map[string]string{"message": string(raw)})
	now := time.Now().UTC()
	e := &cdp.Event{ID: cdp.NewID(), SourceID: sourceID, Type: cdp.EventPoison, Timestamp: now, ReceivedAt: now,
		Properties: props, Context: json.RawMessage(`{}`), Error: cause.Error()}
	err := p.store.Update(ctx, func(tx cdp.Tx) error {
		_, err := tx.InsertEvent(ctx, e)
		return err
	})
	if err != nil {
		return err
	}
	p.logger.Error("stored poison", "event_id", e.ID, "source_id", sourceID, "err", cause)
	p.metrics.Processed.WithLabelValues("poison").Inc()
	p.hub.Publish([]*cdp.Event{e})
	return nil
}
