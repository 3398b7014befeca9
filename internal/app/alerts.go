package app

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/alert"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// startAlerts starts evaluating the alert rules (the file's and the
// API's, which may come later): on the one node that leads (alone, this
// one), sending through client.
func (a *App) startAlerts(ctx context.Context, evlog *natsbus.Log, client *httpclient.Client) error {
	cfg := a.Config
	failures, violations := a.Metrics.WebhookFailures, a.Metrics.Violations
	leader := func() bool { return true }
	if a.deploy.shared {
		every := cfg.Alerts.AlertEvery()
		kv, err := evlog.KeyValue(ctx, a.deploy.prefix+"ALERT_TALLY", max(time.Minute, 6*every))
		if err != nil {
			return err
		}
		tally, err := alert.NewTally(ctx, kv, a.deploy.node, alert.Counts{"webhook": a.Metrics.WebhookFailures, "plan": a.Metrics.Violations}.Local)
		if err != nil {
			return err
		}
		tally.Publish(ctx)
		a.work.Go(func() { periodic.Run(ctx, every, tally.Publish) })
		failures, violations, leader = tally.Of("webhook"), tally.Of("plan"), a.members.Leader
	}
	consoleURL := strings.TrimSuffix(cfg.Alerts.ConsoleURL, "/")
	if consoleURL == "" {
		_, port, _ := net.SplitHostPort(cfg.Listen)
		consoleURL = "http://localhost:" + port
	}
	current := a.inForce.Load()
	alerts := alert.New(current.AlertRules(), current.AlertChannels(), alert.Options{
		Facts: alert.Facts{DeadLetters: a.Store.DeadLetters, Destinations: a.Workflows.Destinations, Breaker: a.Breakers.Status,
			Sources: a.Sources.List, LastEvent: a.lastEvent, WebhookFailures: failures, Violations: violations, Backlog: a.backlog},
		Store: a.Store, Registry: builtin.Registry, Client: client, Leader: leader, ConsoleURL: consoleURL, Now: time.Now,
		Log: a.Log.With("component", "alerts")})
	a.alerts.Store(alerts)
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

// applyResources puts in force the destinations and alerts of cfg (the
// file's and those created through the management API).
func (a *App) applyResources(cfg *config.Config) {
	a.inForce.Store(cfg)
	dests := make([]*workflow.Destination, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		dests[i] = d.Destination()
	}
	a.Workflows.SetDestinations(dests)
	a.plans.Store(quality.Compile(cfg.TrackingPlans))
	if a.Ingest != nil {
		a.Ingest.SetPlans(a.plans.Load())
	}
	if alerts := a.alerts.Load(); alerts != nil {
		alerts.Configure(cfg.AlertRules(), cfg.AlertChannels())
	}
}
