// Package breaker keeps a circuit breaker per destination. A destination
// that keeps failing (consecutive retryable failures: 5xx, 429, network
// errors, timeouts) is opened, so that runs wait for it instead of
// spending their attempts; after a cooldown one probe attempt goes out,
// and its success closes the breaker while its failure reopens it with
// the cooldown doubled. An operator can pause and resume a destination by
// hand. The state lives in a key-value bucket every node watches, and
// every transition is a compare-and-set on it, so one node's probe decides
// for all.
package breaker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// State is where a breaker stands.
type State string

// The states of a breaker.
const (
	Closed   State = "closed"    // attempts go out
	Open     State = "open"      // runs wait until the probe
	HalfOpen State = "half_open" // one probe attempt is out
	Paused   State = "paused"    // held by an operator until resumed
)

// ByOperator is the reason of a pause made through the management API;
// any other pause was the destination's own doing (a 410).
const ByOperator = "paused by an operator"

// Status is a destination's breaker as every node sees it.
type Status struct {
	State State     `json:"state"`
	Since time.Time `json:"since,omitzero"`
	// Cooldown is the wait before the next probe; each failed probe
	// doubles it, up to the destination's max_cooldown.
	Cooldown time.Duration `json:"cooldown,omitempty"`
	// ProbeAt is, when open, the earliest probe; when half-open, when
	// another node may take over the probe of a node that died.
	ProbeAt   time.Time `json:"probe_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Reason says what put it in its state.
	Reason string `json:"reason,omitempty"`
}

// KV is the bucket the statuses live in, one key per destination
// (natsbus.KV).
type KV interface {
	Entry(ctx context.Context, key string) ([]byte, uint64, error)
	Swap(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	Watch(ctx context.Context, fn func(key string, value []byte, rev uint64)) error
}

// Waits of runs held by a breaker. A run is released as soon as its
// destination closes (by whichever node closes it); these are the
// fallbacks that bring it back should that node die first.
const (
	// pausedRecheck is how long a run waits on a paused destination.
	pausedRecheck = time.Minute
	// probeMargin is added to the attempt timeout to make a probe's
	// lease: past it, another node may probe.
	probeMargin = 10 * time.Second
)

// Breakers holds every destination's breaker on this node: the statuses
// as last seen in the bucket, the consecutive failures this node saw, and
// its attempt statistics.
type Breakers struct {
	kv  KV
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	known map[string]known
	fails map[string]int
	stats map[string]*series
}

type known struct {
	status Status
	rev    uint64
}

// New watches kv until ctx is done; it returns once the current statuses
// are known.
func New(ctx context.Context, kv KV, now func() time.Time, log *slog.Logger) (*Breakers, error) {
	b := &Breakers{kv: kv, now: now, log: log, known: map[string]known{}, fails: map[string]int{}, stats: map[string]*series{}}
	err := kv.Watch(ctx, func(key string, value []byte, rev uint64) {
		var s Status
		if value != nil && json.Unmarshal(value, &s) != nil {
			return
		}
		if value == nil {
			s = Status{State: Closed}
		}
		b.learn(key, s, rev)
	})
	if err != nil {
		return nil, fmt.Errorf("watch breakers: %w", err)
	}
	return b, nil
}

// learn records a status at rev unless a later one is known.
func (b *Breakers) learn(id string, s Status, rev uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.known[id]; ok && k.rev >= rev {
		return
	}
	b.known[id] = known{status: s, rev: rev}
}

// Status returns the destination's breaker as last seen.
func (b *Breakers) Status(id string) Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statusLocked(id).status
}

func (b *Breakers) statusLocked(id string) known {
	k, ok := b.known[id]
	if !ok || k.status.State == "" {
		k.status.State = Closed
	}
	return k
}

// Decision is what Allow decides for one attempt.
type Decision struct {
	// Wait, if positive, holds the attempt: the run waits this long, or
	// until the destination closes, without spending an attempt.
	Wait   time.Duration
	Reason string
	// Probe marks the attempt that decides whether an open breaker closes.
	Probe bool
}

// Allow decides whether an attempt to d may go out now; when a probe is
// due, this attempt takes it (one node's attempt, whichever asks first).
func (b *Breakers) Allow(ctx context.Context, d *action.Destination) Decision {
	return b.decide(ctx, d, true)
}

// Peek is Allow without taking a due probe: whether an attempt would be
// held, for a caller that asks again (with Allow) just before it sends.
func (b *Breakers) Peek(d *action.Destination) Decision {
	return b.decide(context.Background(), d, false)
}

func (b *Breakers) decide(ctx context.Context, d *action.Destination, take bool) Decision {
	b.mu.Lock()
	k := b.statusLocked(d.ID)
	b.mu.Unlock()
	now := b.now()
	s := k.status
	switch s.State {
	case Paused:
		return Decision{Wait: pausedRecheck, Reason: fmt.Sprintf("destination %s paused (%s)", d.ID, s.Reason)}
	case Open, HalfOpen:
		if now.Before(s.ProbeAt) {
			return Decision{Wait: s.ProbeAt.Sub(now) + jitter(), Reason: b.heldReason(d.ID, s)}
		}
		if !take {
			return Decision{}
		}
		// The probe is due (or its node died): one node takes it.
		next := s
		next.State, next.ProbeAt = HalfOpen, now.Add(cmp.Or(d.Timeout, 30*time.Second)+probeMargin)
		if b.swap(ctx, d.ID, next, k.rev) {
			b.log.Info("destination probed", "destination", d.ID)
			return Decision{Probe: true}
		}
		return Decision{Wait: time.Second + jitter(), Reason: b.heldReason(d.ID, s)}
	}
	return Decision{}
}

func (b *Breakers) heldReason(id string, s Status) string {
	return fmt.Sprintf("destination %s paused (circuit open: %s; next probe at %s)", id, s.Reason, s.ProbeAt.UTC().Format(time.RFC3339))
}

// Record counts an attempt's outcome: it opens the breaker after the
// destination's number of consecutive retryable failures, and a probe's
// outcome closes or reopens it. It reports whether this attempt closed
// the breaker (the caller then releases the runs waiting on it).
func (b *Breakers) Record(ctx context.Context, d *action.Destination, a *httpclient.Attempt, probe bool) (closed bool) {
	cfg := d.Breaker
	if cfg.Failures == 0 {
		cfg = action.DefaultBreaker
	}
	now := b.now()
	b.mu.Lock()
	b.seriesLocked(d.ID).add(now, a)
	k := b.statusLocked(d.ID)
	failed := a.Class == httpclient.Retryable
	if failed {
		b.fails[d.ID]++
	} else {
		b.fails[d.ID] = 0
	}
	fails := b.fails[d.ID]
	b.mu.Unlock()

	s := k.status
	switch {
	case a.Response != nil && a.Response.Status == http.StatusGone && s.State != Paused:
		// Standard Webhooks: 410 Gone asks the sender to stop. Runs then
		// wait until an operator resumes the destination.
		if err := b.Pause(ctx, d.ID, "the destination answered 410 Gone: it asks not to be sent to"); err == nil {
			b.log.Warn("destination answered 410 Gone; paused until resumed", "destination", d.ID)
		}
	case probe && failed:
		cooldown := min(max(s.Cooldown*2, cfg.Cooldown), cfg.MaxCooldown)
		next := Status{State: Open, Since: now, Cooldown: cooldown, ProbeAt: now.Add(cooldown), LastError: a.Error,
			Reason: "the probe failed: " + a.Error}
		if b.swap(ctx, d.ID, next, k.rev) {
			b.log.Warn("destination still failing; circuit reopened", "destination", d.ID, "cooldown", cooldown, "err", a.Error)
		}
	case probe:
		if b.swap(ctx, d.ID, Status{State: Closed, Since: now}, k.rev) {
			b.log.Info("destination recovered; circuit closed", "destination", d.ID)
			return true
		}
	case failed && fails >= cfg.Failures && s.State == Closed:
		next := Status{State: Open, Since: now, Cooldown: cfg.Cooldown, ProbeAt: now.Add(cfg.Cooldown), LastError: a.Error,
			Reason: fmt.Sprintf("%d consecutive failures, the last: %s", fails, a.Error)}
		if b.swap(ctx, d.ID, next, k.rev) {
			b.log.Warn("destination failing; circuit opened", "destination", d.ID, "failures", fails, "cooldown", cfg.Cooldown, "err", a.Error)
		}
	}
	return false
}

// Pause holds every attempt to destination id until Resume.
func (b *Breakers) Pause(ctx context.Context, id, reason string) error {
	return b.force(ctx, id, Status{State: Paused, Since: b.now(), Reason: reason})
}

// Resume closes destination id's breaker, paused or open.
func (b *Breakers) Resume(ctx context.Context, id string) error {
	b.mu.Lock()
	b.fails[id] = 0
	b.mu.Unlock()
	return b.force(ctx, id, Status{State: Closed, Since: b.now(), Reason: "resumed"})
}

// force sets a status whatever the current one, retrying the
// compare-and-set while other nodes write.
func (b *Breakers) force(ctx context.Context, id string, s Status) error {
	for range 10 {
		_, rev, err := b.kv.Entry(ctx, id)
		if err != nil && cdp.ErrorCode(err) != cdp.ENOTFOUND {
			return err
		}
		if b.swap(ctx, id, s, rev) {
			return nil
		}
	}
	return cdp.Errorf(cdp.EUNAVAILABLE, "destination %s: its state keeps changing", id)
}

// swap writes s if the destination's revision is still rev, and learns
// the outcome either way.
func (b *Breakers) swap(ctx context.Context, id string, s Status, rev uint64) bool {
	value, err := json.Marshal(s)
	if err != nil {
		return false
	}
	next, err := b.kv.Swap(ctx, id, value, rev)
	if err == nil {
		b.learn(id, s, next)
		return true
	}
	if cdp.ErrorCode(err) != cdp.ECONFLICT {
		b.log.Warn("record circuit breaker", "destination", id, "err", err)
		return false
	}
	// Another node came first: learn what it wrote.
	if value, rev, err := b.kv.Entry(ctx, id); err == nil {
		var cur Status
		if json.Unmarshal(value, &cur) == nil {
			b.learn(id, cur, rev)
		}
	}
	return false
}

// jitter spreads the runs that wake at one probe time.
func jitter() time.Duration { return time.Duration(rand.Int64N(int64(time.Second))) }
