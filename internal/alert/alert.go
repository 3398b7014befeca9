// Package alert tells an operator, once and in the channel they watch,
// about what needs them: runs reaching the dead letter, a destination
// whose circuit breaker opened, a source gone silent, webhook verification
// failures, an ingest backlog. Rules are evaluated every few seconds on
// one node; a condition that holds becomes a firing alert (recorded, one
// per rule and subject, whichever node evaluates), announced to the rule's
// channels with retries, and announced again as resolved when it no
// longer holds.
package alert

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Rule kinds.
const (
	DeadLetter      = "dead_letter"      // runs of a workflow in the dead letter
	DestinationOpen = "destination_open" // a destination's breaker is open
	SourceSilent    = "source_silent"    // a source received nothing for longer than its expect_every
	WebhookFailures = "webhook_failures" // webhook verification failures above a rate
	Backlog         = "backlog"          // received events not yet stored, above a bound
	PlanViolations  = "plan_violations"  // events breaking a tracking plan above a rate
)

// Kinds are the rule kinds.
var Kinds = []string{DeadLetter, DestinationOpen, SourceSilent, WebhookFailures, Backlog, PlanViolations}

// Rule says what to watch and whom to tell.
type Rule struct {
	ID, Kind string
	Channels []string
	// Subject, if set, limits the rule to one workflow, destination or
	// source.
	Subject string
	// Above is the bound of webhook_failures and plan_violations (per
	// Per) and of backlog.
	Above float64
	Per   time.Duration
	// Wait is how long a condition must hold before it is announced (a
	// burst of dead letters is counted, not announced run by run).
	Wait time.Duration
	// Every is the least time between two announcements of one firing
	// alert (a dead letter that keeps growing).
	Every time.Duration
}

// Channel is where alerts go: a Slack incoming webhook, a signed
// webhook, or email through a Customer.io destination's transactional
// messages. Destination holds its address and credentials.
type Channel struct {
	ID          string
	Kind        string // slack | webhook | email
	Destination *action.Destination
	// Email: the recipient, and either a template (with the alert in its
	// message_data) or a sender for a message Switchyard writes.
	To, From               string
	TransactionalMessageID any
}

// Facts are what the rules read.
type Facts struct {
	DeadLetters  func(ctx context.Context) (map[string]cdp.DeadLetter, error)
	Destinations func() []*action.Destination
	Breaker      func(id string) breaker.Status
	Sources      func() []*cdp.Source
	// LastEvent is when the source's newest stored event was received
	// (zero: none).
	LastEvent func(ctx context.Context, source string) (time.Time, error)
	// WebhookFailures are the verification failures counted so far, by
	// source, on every node.
	WebhookFailures func() map[string]float64
	// Violations are the events that broke a tracking plan so far, by
	// source, on every node.
	Violations func() map[string]float64
	// Backlog is how many received events are not stored yet.
	Backlog func(ctx context.Context) (int64, error)
}

// Alerts evaluates the rules and announces their alerts.
type Alerts struct {
	cfg      atomic.Pointer[config]
	facts    Facts
	store    cdp.AlertStore
	registry *action.Registry
	client   *httpclient.Client
	// Leader reports whether this node evaluates (one of several does).
	leader     func() bool
	consoleURL string
	now        func() time.Time
	log        *slog.Logger
	started    time.Time

	mu      sync.Mutex
	pending map[string]time.Time // conditions seen holding, since when
	rates   map[string][]sample  // webhook failure totals, by source
	sending sync.WaitGroup
}

// Options are what Alerts needs besides its rules and channels.
type Options struct {
	Facts      Facts
	Store      cdp.AlertStore
	Registry   *action.Registry
	Client     *httpclient.Client
	Leader     func() bool
	ConsoleURL string // links in messages
	Now        func() time.Time
	Log        *slog.Logger
}

// New returns the evaluator of rules, announcing to channels.
func New(rules []Rule, channels []Channel, o Options) *Alerts {
	a := &Alerts{facts: o.Facts, store: o.Store, registry: o.Registry,
		client: o.Client, leader: o.Leader, consoleURL: o.ConsoleURL, now: o.Now, log: o.Log,
		pending: map[string]time.Time{}, rates: map[string][]sample{}}
	a.Configure(rules, channels)
	a.started = a.now()
	return a
}

// config is a set of rules and the channels they announce to.
type config struct {
	rules    []Rule
	channels map[string]Channel
}

// Configure replaces the rules and channels (those created through the
// management API change while the server runs); the next evaluation uses
// them. Alerts of a rule removed resolve silently.
func (a *Alerts) Configure(rules []Rule, channels []Channel) {
	c := &config{rules: rules, channels: map[string]Channel{}}
	for _, ch := range channels {
		c.channels[ch.ID] = ch
	}
	a.cfg.Store(c)
}

// Run evaluates the rules every interval until ctx is done, then waits
// for the announcements under way.
func (a *Alerts) Run(ctx context.Context, interval time.Duration) {
	defer a.sending.Wait()
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if err := a.Evaluate(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("evaluate alert rules", "err", err)
		}
	})
}

// Evaluate checks every rule once: new conditions fire (after their
// wait), growing ones are announced again (at most every Every), and
// firing alerts whose condition is gone resolve.
func (a *Alerts) Evaluate(ctx context.Context) error {
	if len(a.cfg.Load().rules) == 0 || (a.leader != nil && !a.leader()) {
		return nil
	}
	now := a.now()
	conds, err := a.conditions(ctx, now)
	if err != nil {
		return err
	}
	firing, _, err := a.store.FindAlerts(ctx, cdp.AlertFilter{State: cdp.AlertFiring, Limit: 1000})
	if err != nil {
		return err
	}
	byKey := map[string]*cdp.Alert{}
	for _, f := range firing {
		byKey[f.Key] = f
	}
	a.mu.Lock()
	for key := range a.pending {
		if _, holds := conds[key]; !holds {
			delete(a.pending, key)
		}
	}
	a.mu.Unlock()
	for key, c := range conds {
		if f, ok := byKey[key]; ok {
			a.repeat(ctx, f, c, now)
			continue
		}
		if c.hold {
			continue
		}
		if a.due(key, c.rule.Wait, now) {
			a.fire(ctx, c, now)
		}
	}
	for key, f := range byKey {
		if _, holds := conds[key]; !holds {
			a.resolve(ctx, f, now) // also the alerts of a rule since removed, silently
		}
	}
	return nil
}

// due reports whether a condition has held for wait.
func (a *Alerts) due(key string, wait time.Duration, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	since, ok := a.pending[key]
	if !ok {
		since = now
		a.pending[key] = now
	}
	return now.Sub(since) >= wait
}

func (a *Alerts) ruleOf(id string) *Rule {
	rules := a.cfg.Load().rules
	for i := range rules {
		if rules[i].ID == id {
			return &rules[i]
		}
	}
	return nil
}

// fire records a new alert and announces it; another node that recorded
// it first wins.
func (a *Alerts) fire(ctx context.Context, c condition, now time.Time) {
	al := &cdp.Alert{ID: cdp.NewID(), Key: c.key(), Rule: c.rule.ID, Kind: c.rule.Kind, Subject: c.subject, State: cdp.AlertFiring,
		Summary: c.summary, Count: c.count, Link: c.link, StartedAt: now.UTC(), UpdatedAt: now.UTC(), Notifications: []cdp.Notification{}}
	ok, err := a.store.InsertAlert(ctx, al)
	if err != nil {
		a.log.Warn("record alert", "alert", al.Key, "err", err)
		return
	}
	if ok {
		a.log.Warn("alert", "rule", al.Rule, "summary", al.Summary)
		a.announce(ctx, al, "firing", c.rule.Channels)
	}
}

// repeat announces a firing alert again when what it counts grew, at most
// every Every.
func (a *Alerts) repeat(ctx context.Context, f *cdp.Alert, c condition, now time.Time) {
	if c.count <= f.Count || now.Sub(f.UpdatedAt) < c.rule.Every {
		return
	}
	f.Summary, f.Count, f.Link, f.UpdatedAt = c.summary, c.count, c.link, now.UTC()
	if err := a.store.UpdateAlert(ctx, f); err != nil {
		a.log.Warn("record alert", "alert", f.Key, "err", err)
		return
	}
	a.announce(ctx, f, "repeat", c.rule.Channels)
}

// resolve records that an alert's condition is gone and announces it.
func (a *Alerts) resolve(ctx context.Context, f *cdp.Alert, now time.Time) {
	at := now.UTC()
	f.State, f.ResolvedAt, f.UpdatedAt = cdp.AlertResolved, &at, at
	if err := a.store.UpdateAlert(ctx, f); err != nil {
		a.log.Warn("record alert", "alert", f.Key, "err", err)
		return
	}
	a.log.Info("alert resolved", "rule", f.Rule, "summary", f.Summary)
	if r := a.ruleOf(f.Rule); r != nil {
		a.announce(ctx, f, "resolved", r.Channels)
	}
}

func (c condition) key() string { return c.rule.ID + ":" + c.subject }

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
