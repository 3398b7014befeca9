package app

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/alert"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// startAlerts starts evaluating the alert rules, if any: on the one node
// that leads (alone, this one), sending through client.
func (a *App) startAlerts(ctx context.Context, evlog *natsbus.Log, client *httpclient.Client) error {
	cfg := a.Config
	if len(cfg.Alerts.Rules) == 0 {
		return nil
	}
	failures := a.Metrics.WebhookFailures
	leader := func() bool { return true }
	if a.deploy.shared {
		tally, err := a.openTally(ctx, evlog, cfg.Alerts.AlertEvery())
		if err != nil {
			return err
		}
		failures, leader = tally.sum, a.members.Leader
	}
	consoleURL := strings.TrimSuffix(cfg.Alerts.ConsoleURL, "/")
	if consoleURL == "" {
		_, port, _ := net.SplitHostPort(cfg.Listen)
		consoleURL = "http://localhost:" + port
	}
	alerts := alert.New(cfg.AlertRules(), cfg.AlertChannels(), alert.Options{
		Facts: alert.Facts{DeadLetters: a.Store.DeadLetters, Destinations: a.Workflows.Destinations, Breaker: a.Breakers.Status,
			Sources: a.Sources.List, LastEvent: a.lastEvent, WebhookFailures: failures, Backlog: a.backlog},
		Store: a.Store, Registry: workflow.Actions, Client: client, Leader: leader, ConsoleURL: consoleURL, Now: time.Now,
		Log: a.Logger.With("component", "alerts")})
	a.work.Go(func() { alerts.Run(ctx, cfg.Alerts.AlertEvery()) })
	return nil
}

// lastEvent is when the source's newest stored event was received.
func (a *App) lastEvent(ctx context.Context, source string) (time.Time, error) {
	events, _, err := a.Store.FindEvents(ctx, cdp.EventFilter{SourceID: source, Limit: 1})
	if err != nil || len(events) == 0 {
		return time.Time{}, err
	}
	return events[0].ReceivedAt, nil
}

// backlog is how many received events the processor has not stored yet.
func (a *App) backlog(ctx context.Context) (int64, error) {
	b, err := a.Events.Backlog(ctx, processor.Group)
	return int64(b.Messages), err
}

// tally adds up the webhook verification failures of every node: each
// node publishes its totals in a key-value bucket (entries expire with
// their node), and the leader sums the latest of each.
type tally struct {
	mu    sync.Mutex
	nodes map[string]map[string]float64
}

func (a *App) openTally(ctx context.Context, evlog *natsbus.Log, every time.Duration) (*tally, error) {
	kv, err := evlog.KeyValue(ctx, a.deploy.prefix+"ALERT_TALLY", max(time.Minute, 6*every))
	if err != nil {
		return nil, err
	}
	t := &tally{nodes: map[string]map[string]float64{}}
	err = kv.Watch(ctx, func(node string, value []byte, _ uint64) {
		var totals map[string]float64
		if value != nil && json.Unmarshal(value, &totals) != nil {
			return
		}
		t.mu.Lock()
		t.nodes[node] = totals
		t.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	publish := func(ctx context.Context) {
		if data, err := json.Marshal(a.Metrics.WebhookFailures()); err == nil {
			_ = kv.Put(ctx, a.deploy.node, data)
		}
	}
	publish(ctx)
	a.work.Go(func() { periodic.Run(ctx, every, publish) })
	return t, nil
}

func (t *tally) sum() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for _, totals := range t.nodes {
		for src, n := range totals {
			out[src] += n
		}
	}
	return out
}
