package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/disk"
	"github.com/switchyardhq/switchyard/internal/headroom"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// deployment is decided once, from the configuration: embedded engines
// (one process owns the data dir) or an external NATS shared by several
// nodes, each named, which must tell each other about what they cache.
type deployment struct {
	shared bool   // other nodes may share the event log, queues and store
	node   string // this node's name among them ("" alone)
	prefix string // of the stream names and subjects on a shared NATS
}

func newDeployment(cfg *config.Config) deployment {
	d := deployment{shared: cfg.NATSURL != "", prefix: cfg.NATSPrefix}
	if d.shared {
		d.node = nodeName()
	}
	return d
}

// Open builds and starts everything cfg describes, in dependency order:
// the data dir lock and metrics, the store, the event log and queues,
// the services (sources, identity, ingest, workflows), then the
// background work (processor, runners, chores). On an error everything
// opened so far is closed.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	hub := tail.NewHub(tail.Limits{MaxSubscribers: cfg.Tail.MaxSubscribers, FilterShare: cfg.Tail.FilterCPU})
	a := &App{Config: cfg, Log: log, Hub: hub, failed: make(chan error, 1), deploy: newDeployment(cfg)}
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
	a.Prometheus = prometheus.NewRegistry()
	a.Prometheus.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics = metrics.New(a.Prometheus)
	metrics.RegisterTails(a.Prometheus, func() float64 { return float64(hub.Stats().Subscribers) },
		func() float64 { return float64(hub.Stats().Dropped) }, func() float64 { return hub.Stats().FilterTime.Seconds() })

	if err := a.openStore(ctx, cfg, cfg.Durability == config.DurabilityFsync); err != nil {
		return nil, err
	}
	evlog, err := a.openLogs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stopWork = stop
	if err := a.openServices(ctx, workCtx, cfg, evlog); err != nil {
		return nil, err
	}
	if err := a.startPipeline(workCtx, evlog); err != nil {
		return nil, err
	}
	a.startChores(workCtx)
	return a, nil
}

// closeFirst registers c to run before everything registered so far:
// what was opened last is closed first.
func (a *App) closeFirst(c func() error) { a.closers = append([]func() error{c}, a.closers...) }

// openLogs opens the event log, the run queue beside it and the console's
// session bucket.
func (a *App) openLogs(ctx context.Context, cfg *config.Config) (*natsbus.Log, error) {
	p := a.deploy.prefix
	if !a.deploy.shared {
		// The embedded event log writes to the data directory: keep it
		// from filling up.
		a.disk = disk.New(cfg.DataDir, uint64(cfg.MinFreeBytes), a.Log.With("component", "disk"))
	}
	var evlog *natsbus.Log
	err := waitFor(ctx, a.Log, "NATS", func() (err error) {
		evlog, err = natsbus.Open(ctx, natsbus.Options{URL: cfg.NATSURL, DataDir: cfg.DataDir, SyncAlways: cfg.Durability == config.DurabilityFsync,
			Stream: p + "EVENTS", Subject: p + "sy.events", Replicas: cfg.NATSReplicas, Linger: a.storeLinger(), Log: a.Log.With("component", "eventlog"), TrimPaused: a.disk.Short,
			Credentials: cfg.NATSCredentials, NKeySeed: cfg.NATSNKey, CAFile: cfg.NATSTLS.CAFile, CertFile: cfg.NATSTLS.CertFile, KeyFile: cfg.NATSTLS.KeyFile})
		return err
	})
	if err != nil {
		return nil, err
	}
	a.Events = evlog
	a.closeFirst(evlog.Close)
	runs, err := evlog.Sibling(ctx, p+"RUNS", p+"sy.runs")
	if err != nil {
		return nil, err
	}
	a.Runs = runs
	a.closeFirst(runs.Close)
	if a.Sessions, err = evlog.KeyValue(ctx, p+"CONSOLE_SESSIONS", auth.SessionLifetime); err != nil {
		return nil, err
	}
	return evlog, nil
}

// openServices builds the sources (making the default ones on a first
// start), identity, ingest with its backpressure, and the workflows.
func (a *App) openServices(ctx, workCtx context.Context, cfg *config.Config, evlog *natsbus.Log) error {
	// The workflow registry comes first: the sources tell it of every
	// change, since their forward_to lists imply workflows.
	var dests []*workflow.Destination
	for _, d := range cfg.Destinations {
		dests = append(dests, d.Destination())
	}
	var err error
	if a.Workflows, err = workflow.NewRegistry(a.Store, builtin.Registry, cfg.Workflows, dests, a.Log.With("component", "workflows")); err != nil {
		return err
	}
	if err := a.Workflows.Load(ctx); err != nil {
		return err
	}
	a.inForce.Store(cfg)
	a.Resources = &resources.Resources{Store: a.Store, File: cfg, Actions: builtin.Registry, Workflows: a.Workflows,
		Apply: a.applyResources, Log: a.Log.With("component", "resources"), Now: time.Now}
	if err := a.Resources.Load(ctx); err != nil {
		return err
	}
	var configured []*cdp.Source
	for _, s := range cfg.Sources {
		configured = append(configured, s.Source(cdp.OriginConfig))
	}
	a.Sources = ingest.NewSources(a.Store, configured, a.Workflows)
	if err := a.Sources.Load(ctx); err != nil {
		return err
	}
	if err := a.Sources.EnsureDefaults(ctx); err != nil {
		return err
	}
	if !a.deploy.shared {
		a.Identity = identity.New(a.Store, nil)
	} else {
		// A node that erases or merges profiles tells the others to drop
		// the sessions they remember. The signal calls back into the
		// service it announces for (the second of the two two-way links,
		// docs/architecture.md): it is opened once the service exists and
		// before any request can make it announce.
		var changed *natsbus.Signal
		a.Identity = identity.New(a.Store, func() { changed.Send() })
		if changed, err = evlog.Signal(a.deploy.prefix+"sy.identity.forget", a.Identity.ProfilesChangedElsewhere); err != nil {
			return fmt.Errorf("identity signal: %w", err)
		}
		a.closeFirst(func() error { changed.Close(); return nil })
	}
	pressure := ingest.NewBackpressure(evlog, processor.Group, ingest.BackpressureOptions{
		MaxDelay: cfg.Backpressure.MaxDelayDuration(), MaxBytes: uint64(cfg.Backpressure.MaxBytes)},
		a.Metrics, a.Log.With("component", "backpressure"))
	refusals := ingest.Refusals{Backlog: pressure, Disk: a.disk}
	if a.disk != nil {
		// Once space is back, reload the event log if its writes failed.
		a.work.Go(func() { a.disk.Run(workCtx, evlog.Repair) })
	}
	a.Ingest = ingest.New(evlog, a.Identity, a.Sources, a.Metrics, refusals)
	a.Ingest.SetPlans(a.plans.Load())
	a.closeFirst(func() error { a.Ingest.Close(); return nil })
	a.work.Go(func() { pressure.Run(workCtx) })
	return nil
}

// startPipeline starts the processor (event log → store, tail, runs) and
// the runners (run queue → actions).
func (a *App) startPipeline(ctx context.Context, evlog *natsbus.Log) error {
	log := a.Log
	// On several nodes stored events reach the tails of every node through
	// a relay; embedded, the process's hub is the only one.
	var tailOut processor.Tail = a.Hub
	if a.deploy.shared {
		relay, err := evlog.Relay(a.deploy.prefix+"sy.tail", a.Hub)
		if err != nil {
			return fmt.Errorf("tail relay: %w", err)
		}
		tailOut, a.relay = relay, relay
		a.closeFirst(func() error { relay.Close(); return nil })
	}
	// On several nodes runs are advanced under leases, and each node sends
	// its share of every destination's rate limit.
	var share func() float64
	if a.deploy.shared {
		members, err := evlog.Members(a.deploy.prefix+"sy.nodes", a.deploy.node, 0)
		if err != nil {
			return fmt.Errorf("node membership: %w", err)
		}
		share, a.members = members.Share, members
		a.closeFirst(func() error { members.Close(); return nil })
	}
	// Every node watches the destinations' breakers in one bucket.
	kv, err := evlog.KeyValue(ctx, a.deploy.prefix+"BREAKERS", 0)
	if err != nil {
		return err
	}
	if a.Breakers, err = breaker.New(ctx, kv, time.Now, log.With("component", "breakers")); err != nil {
		return err
	}
	client := httpclient.New(share)
	engine := &workflow.Engine{Store: a.Store, Client: client, Workflow: a.Workflows.Workflow,
		Destination: a.Workflows.Destination, Now: time.Now, Log: log.With("component", "runner"), Metrics: a.Metrics, Node: a.deploy.node,
		Breakers: a.Breakers, Queue: a.Runs, Go: a.work.Go, Actions: builtin.Registry}
	a.Destinations = &admin.Destinations{List: a.Workflows.Destinations, Registry: builtin.Registry, Breakers: a.Breakers,
		Waiting: a.Store.CountWaitingOn,
		Resume:  func(d *workflow.Destination) { a.work.Go(func() { engine.ResumeWaiting(ctx, d) }) },
		Origin:  func(id string) (string, int) { return a.Resources.Origin(cdp.ResourceDestination, id) }}
	a.Catalog = quality.NewCatalog(a.Store, log.With("component", "catalog"))
	proc := processor.New(processor.Deps{EventLog: evlog, Store: a.Store, Identity: a.Identity, Tail: tailOut, Metrics: a.Metrics,
		Log: log.With("component", "processor"), Triggers: a.Workflows, Shared: a.deploy.shared, Parallel: a.storeParallel(),
		Observe: a.Catalog.Observe,
		OnRuns: func(ctx context.Context, created []*cdp.Run, events []*cdp.Event) {
			engine.Committed(created, events)
			if err := workflow.Enqueue(ctx, a.Runs, created); err != nil {
				log.Error("enqueue workflow runs", "err", err)
			}
		}})
	runner := &workflow.Runner{Queue: a.Runs, Log: log.With("component", "runner"), Engine: engine}
	a.Backfills = &workflow.Backfills{Store: a.Store, Registry: a.Workflows, Queue: a.Runs, Rate: a.Config.BackfillRate,
		Node: a.deploy.node, Log: log.With("component", "backfills")}
	a.work.Go(func() { a.Backfills.Run(ctx) })
	a.work.Go(func() { a.Catalog.Run(ctx, catalogEvery) })
	a.Workflows.Metrics = a.Metrics
	timeouts := &workflow.Timeouts{Store: a.Store, Queue: a.Runs, Log: log.With("component", "timeouts"), Metrics: a.Metrics,
		Busy: headroom.New().Busy}
	a.work.Go(func() { timeouts.Run(ctx) })
	if err := a.startAlerts(ctx, evlog, client); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if err := a.startArchive(ctx); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	a.work.Go(func() {
		if err := runner.Run(ctx); err != nil {
			a.fail(fmt.Errorf("runner stopped: %w", err))
		}
	})
	a.work.Go(func() {
		if err := proc.Run(ctx); err != nil {
			a.fail(fmt.Errorf("processor stopped: %w", err))
		}
	})
	return nil
}

// How a node's processor batches its writes. A PostgreSQL transaction
// costs the server a fixed share of CPU and a commit flush whatever its
// size, so the processor waits longer for a delivery batch to fill and
// stores it in two transactions at once (one committing while the next
// is written); four smaller ones, or a 5 ms wait, cost PostgreSQL a
// quarter more CPU per event and stored a sixth less (docs/benchmarks.md).
// SQLite's transactions are cheap and its one writer takes them in turn,
// so a short wait and one at a time serve it best.
const (
	postgresParts = 2
	// catalogEvery is how often the event catalog's counts are stored.
	catalogEvery   = 2 * time.Second
	postgresLinger = 30 * time.Millisecond
	sqliteLinger   = 5 * time.Millisecond
)

// storeParallel is how many processor transactions store at once (see
// processor.Deps.Parallel).
func (a *App) storeParallel() int {
	if a.Config.PostgresURL != "" {
		return postgresParts
	}
	return 1
}

// storeLinger is how long the processor waits after the first message of
// a delivery batch for more to join it.
func (a *App) storeLinger() time.Duration {
	if a.Config.PostgresURL != "" {
		return postgresLinger
	}
	return sqliteLinger
}
