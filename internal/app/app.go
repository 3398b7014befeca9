// Package app wires Switchyard's components into a running whole: the
// store, the event log, the services, the processor and the HTTP handlers.
// `switchyard serve` and the end-to-end tests build exactly this.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/retry"
	"github.com/switchyardhq/switchyard/internal/server"
	"github.com/switchyardhq/switchyard/internal/store/postgres"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// App is a running Switchyard without its listeners.
type App struct {
	Config   *config.Config
	Logger   *slog.Logger
	Store    cdp.Store
	Events   cdp.EventLog
	Sources  *ingest.Sources
	Identity *identity.Service
	Ingest   *ingest.Service
	Hub      *tail.Hub
	Registry *prometheus.Registry
	Metrics  *metrics.Metrics
	Runs     cdp.RunQueue
	// Sessions are the console's sign-ins, in a key-value bucket beside
	// the event log, so that every node knows them.
	Sessions  *natsbus.KV
	Workflows *workflow.Registry
	// Version is reported in the AsyncAPI and OpenAPI documents.
	Version string

	failed   chan error                             // the processor stopped on its own
	maintain func(context.Context, time.Time) error // the store's hourly upkeep: event retention, partitions
	members  *natsbus.Members                       // the nodes sharing the queues, with an external NATS
	stopWork context.CancelFunc
	work     sync.WaitGroup
	closers  []func() error // in the order Close runs them
}

// Open builds and starts everything cfg describes: it locks and opens the
// data dir, loads the sources (creating the default source if there are
// none), and starts the processor.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Logger: log, Hub: &tail.Hub{}, failed: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { unlock(); return nil })

	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics = metrics.New(a.Registry)

	fsync := cfg.Durability == config.DurabilityFsync
	if err := a.openStore(ctx, cfg, fsync); err != nil {
		return nil, err
	}
	store := a.Store

	// A 5 ms linger lets the processor commit larger batches under load.
	p := cfg.NATSPrefix
	var evlog *natsbus.Log
	err = waitFor(ctx, log, "NATS", func() (err error) {
		evlog, err = natsbus.Open(ctx, natsbus.Options{URL: cfg.NATSURL, DataDir: cfg.DataDir, SyncAlways: fsync,
			Stream: p + "EVENTS", Subject: p + "sy.events", Replicas: cfg.NATSReplicas, Linger: 5 * time.Millisecond, Logger: log.With("component", "eventlog"),
			Credentials: cfg.NATSCredentials, NKeySeed: cfg.NATSNKey, CAFile: cfg.NATSTLS.CAFile, CertFile: cfg.NATSTLS.CertFile, KeyFile: cfg.NATSTLS.KeyFile})
		return err
	})
	if err != nil {
		return nil, err
	}
	a.Events = evlog
	a.closers = append([]func() error{evlog.Close}, a.closers...)
	// The run queue: a second stream on the same server (closed first).
	runs, err := evlog.Sibling(ctx, p+"RUNS", p+"sy.runs")
	if err != nil {
		return nil, err
	}
	a.Runs = runs
	a.closers = append([]func() error{runs.Close}, a.closers...)
	if a.Sessions, err = evlog.KeyValue(ctx, p+"CONSOLE_SESSIONS", admin.SessionLifetime); err != nil {
		return nil, err
	}

	var configured []*cdp.Source
	for _, s := range cfg.Sources {
		configured = append(configured, s.Source(cdp.OriginConfig))
	}
	a.Sources = ingest.NewSources(store, configured)
	if err := a.Sources.Load(ctx); err != nil {
		return nil, err
	}
	if err := a.Sources.EnsureDefaults(ctx); err != nil {
		return nil, err
	}
	a.Identity = identity.New(store)
	if cfg.NATSURL != "" {
		// A node that erases or merges profiles tells the others to drop
		// the sessions they remember.
		forget, err := evlog.Signal(p+"sy.identity.forget", a.Identity.ProfilesChangedElsewhere)
		if err != nil {
			return nil, fmt.Errorf("identity signal: %w", err)
		}
		a.Identity.ShareWith(forget.Send)
		a.closers = append([]func() error{func() error { forget.Close(); return nil }}, a.closers...)
	}
	pressure := ingest.NewBackpressure(evlog, processor.Group, ingest.BackpressureOptions{
		MaxDelay: cfg.Backpressure.MaxDelayDuration(), MaxBytes: uint64(cfg.Backpressure.MaxBytes)},
		a.Metrics, log.With("component", "backpressure"))
	a.Ingest = ingest.New(evlog, a.Identity, a.Sources, a.Metrics, pressure)
	a.closers = append([]func() error{func() error { a.Ingest.Close(); return nil }}, a.closers...)

	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stopWork = stop
	a.work.Go(func() { pressure.Run(workCtx) })
	var dests []*workflow.Destination
	for _, d := range cfg.Destinations {
		dests = append(dests, d.Destination())
	}
	if a.Workflows, err = workflow.NewRegistry(store, cfg.Workflows, dests, a.Sources.List, log.With("component", "workflows")); err != nil {
		return nil, err
	}
	if err := a.Workflows.Load(ctx); err != nil {
		return nil, err
	}
	a.Sources.Check, a.Sources.OnChange = a.Workflows.CheckSource, a.Workflows.Rebuild
	// With an external NATS, stored events reach the tails of every node
	// through a relay; embedded, the process's hub is the only one.
	var tailOut processor.Tail = a.Hub
	if cfg.NATSURL != "" {
		relay, err := evlog.Relay(p+"sy.tail", a.Hub.Publish, a.Hub.Active)
		if err != nil {
			return nil, fmt.Errorf("tail relay: %w", err)
		}
		a.Hub.OnSubscribe, tailOut = relay.Want, relay
		a.closers = append([]func() error{func() error { relay.Close(); return nil }}, a.closers...)
	}
	proc := processor.New(evlog, store, a.Identity, tailOut, a.Metrics, log.With("component", "processor"))
	if cfg.NATSURL != "" {
		proc.Shared()
	}
	proc.Triggers = a.Workflows
	engine := &workflow.Engine{Store: store, Client: httpclient.New(), Workflow: a.Workflows.Workflow,
		Destination: a.Workflows.Destination, Now: time.Now, Log: log.With("component", "runner"), Metrics: a.Metrics}
	if cfg.NATSURL != "" {
		// Other nodes may share the run queue: runs are advanced under
		// leases, none is taken from the local cache of new runs, and each
		// node sends its share of every destination's rate limit.
		engine.Node = nodeName()
		members, err := evlog.Members(p+"sy.nodes", engine.Node, 0)
		if err != nil {
			return nil, fmt.Errorf("node membership: %w", err)
		}
		engine.Client.Share, a.members = members.Share, members
		a.closers = append([]func() error{func() error { members.Close(); return nil }}, a.closers...)
	}
	proc.OnRuns = func(ctx context.Context, created []*cdp.Run, events []*cdp.Event) {
		engine.Committed(created, events)
		if err := workflow.Enqueue(ctx, runs, created); err != nil {
			log.Error("enqueue workflow runs", "err", err)
		}
	}
	runner := &workflow.Runner{Queue: runs, Log: log.With("component", "runner"), Engine: engine}
	a.work.Go(func() {
		// At start every pending run is queued (the data dir is ours alone),
		// then every 30 s those pending for over 30 s.
		if _, err := workflow.Sweep(workCtx, store, runs, 0, time.Now()); err != nil && workCtx.Err() == nil {
			log.Warn("sweep pending runs", "err", err)
		}
		periodic.Run(workCtx, 30*time.Second, func(ctx context.Context) {
			if n, err := workflow.Sweep(ctx, store, runs, 30*time.Second, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("sweep pending runs", "err", err)
			} else if n > 0 {
				log.Info("queued pending runs again", "runs", n)
			}
		})
	})
	a.work.Go(func() {
		periodic.Run(workCtx, 2*time.Second, func(ctx context.Context) {
			if b, err := runs.Backlog(ctx, workflow.Group); err == nil {
				a.Metrics.RunQueue.Set(float64(b.Messages))
			}
			a.runGauges(ctx)
			nodes := 1
			if a.members != nil {
				nodes = a.members.Count()
			}
			a.Metrics.Nodes.Set(float64(nodes))
		})
	})
	a.work.Go(func() {
		if err := runner.Run(workCtx); err != nil {
			a.fail(fmt.Errorf("runner stopped: %w", err))
		}
	})
	a.work.Go(func() {
		if err := proc.Run(workCtx); err != nil {
			a.fail(fmt.Errorf("processor stopped: %w", err))
		}
	})
	a.work.Go(func() { a.Sources.Run(workCtx, 10*time.Second, log) })
	a.work.Go(func() { a.Workflows.Run(workCtx, 10*time.Second) })
	if cfg.RawCapture.Enabled {
		a.work.Go(func() {
			periodic.Run(workCtx, time.Minute, func(ctx context.Context) { a.purgeRawRequests(ctx, cfg.RawCapture.RetentionDuration()) })
		})
	}
	a.work.Go(func() {
		maintain := func(ctx context.Context) {
			if err := a.maintain(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("maintain the store", "err", err)
			}
		}
		maintain(workCtx)
		periodic.Run(workCtx, time.Hour, maintain)
	})
	a.work.Go(func() {
		periodic.Run(workCtx, time.Hour, func(ctx context.Context) {
			// The console shows the last hour; a week of counts is kept.
			err := a.Store.Update(ctx, func(tx cdp.Tx) error { return tx.DeleteEventCountsBefore(ctx, time.Now().Add(-7*24*time.Hour)) })
			if err != nil && ctx.Err() == nil {
				log.Warn("purge event counts", "err", err)
			}
		})
	})
	return a, nil
}

// nodeName names this process among the nodes sharing a run queue.
func nodeName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// openStore opens PostgreSQL when postgres_url is set, else the embedded
// SQLite in the data dir.
func (a *App) openStore(ctx context.Context, cfg *config.Config, fsync bool) error {
	log := a.Logger.With("component", "store")
	if cfg.PostgresURL != "" {
		var store *postgres.Store
		err := waitFor(ctx, a.Logger, "PostgreSQL", func() (err error) {
			store, err = postgres.Open(ctx, postgres.Options{URL: cfg.PostgresURL, Retention: cfg.EventRetentionDuration(), Logger: log})
			return err
		})
		if err != nil {
			return err
		}
		store.OnCommit = func(n int) { a.Metrics.StoreBatch.Observe(float64(n)) }
		a.Store, a.maintain = store, store.Maintain
		a.closers = append([]func() error{store.Close}, a.closers...)
		return nil
	}
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "switchyard.db"), Fsync: fsync,
		Retention: cfg.EventRetentionDuration(), Logger: log})
	if err != nil {
		return err
	}
	store.OnCommit = func(n int) { a.Metrics.StoreBatch.Observe(float64(n)) }
	a.Store, a.maintain = store, store.Maintain
	a.closers = append([]func() error{store.Close}, a.closers...)
	return nil
}

// runGauges sets the run gauges: runs by status (failed ones are the
// dead letter) and the age of the oldest run not started yet.
func (a *App) runGauges(ctx context.Context) {
	counts, err := a.Store.CountRuns(ctx, cdp.RunPending, cdp.RunRunning, cdp.RunWaiting, cdp.RunFailed)
	if err != nil {
		return
	}
	for status, c := range counts {
		a.Metrics.RunsByStatus.WithLabelValues(status).Set(float64(c.Runs))
	}
	age := 0.0
	if c := counts[cdp.RunPending]; c.Runs > 0 {
		age = max(time.Since(c.Oldest).Seconds(), 0)
	}
	a.Metrics.OldestPending.Set(age)
}

// purgeRawRequests deletes the raw requests older than retention, a few
// thousand per transaction so that ingest's writes are never held up long.
func (a *App) purgeRawRequests(ctx context.Context, retention time.Duration) {
	before := time.Now().Add(-retention)
	for ctx.Err() == nil {
		var n int64
		err := a.Store.Update(ctx, func(tx cdp.Tx) (err error) {
			n, err = tx.DeleteRawRequestsBefore(ctx, before, 2000)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.Warn("purge raw requests", "err", err)
			}
			return
		}
		if n < 2000 {
			return
		}
	}
}

func (a *App) deps() server.Deps {
	return server.Deps{Logger: a.Logger, Config: a.Config, Store: a.Store, Log: a.Events, Ingest: a.Ingest,
		Sources: a.Sources, Workflows: a.Workflows, Identity: a.Identity, Hub: a.Hub, Registry: a.Registry, Metrics: a.Metrics, Version: a.Version,
		Enqueue: func(ctx context.Context, runs []*cdp.Run) error { return workflow.Enqueue(ctx, a.Runs, runs) }, Sessions: a.Sessions}
}

// Handler is the main listener's handler.
func (a *App) Handler() http.Handler { return server.New(a.deps()) }

// AdminHandler is the handler of the separate management listener.
func (a *App) AdminHandler() http.Handler { return server.NewAdmin(a.deps()) }

// fail reports the first background failure; later ones are dropped.
func (a *App) fail(err error) {
	select {
	case a.failed <- err:
	default:
	}
}

// Failed delivers an error if background work stopped on its own; without
// a processor nothing accepted would be stored, so the caller should stop.
func (a *App) Failed() <-chan error { return a.failed }

// Close stops the background work, then closes the ingest service, the
// event log, the store and the data dir lock, in that order. Stop the
// listeners first, so that in-flight requests finish.
func (a *App) Close() error {
	if a.stopWork != nil {
		a.stopWork()
		a.work.Wait()
	}
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// startWait is how a node waits at start for a PostgreSQL or an external
// NATS that cannot be reached yet, up to a minute: engines and nodes are
// often started together (containers, a rebooted host), and waiting a
// little is kinder than a crash loop. Anything but unreachability fails at
// once.
var startWait = retry.Backoff{First: 500 * time.Millisecond, Max: 5 * time.Second, Within: time.Minute}

// waitFor opens what with open, waiting as startWait says.
func waitFor(ctx context.Context, log *slog.Logger, what string, open func() error) error {
	return retry.WhileUnavailable(ctx, startWait, open, func(err error, pause time.Duration) {
		log.Warn("waiting for "+what, "err", err, "retry_in", pause)
	})
}
