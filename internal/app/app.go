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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/alert"
	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/disk"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/retry"
	"github.com/switchyardhq/switchyard/internal/server"
	"github.com/switchyardhq/switchyard/internal/store/postgres"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// App is a running Switchyard without its listeners.
type App struct {
	Config     *config.Config
	Log        *slog.Logger
	Store      cdp.Store
	Events     cdp.EventLog
	Sources    *ingest.Sources
	Identity   *identity.Service
	Ingest     *ingest.Service
	Hub        *tail.Hub
	Prometheus *prometheus.Registry
	Metrics    *metrics.Metrics
	Runs       cdp.RunQueue
	// Sessions are the console's sign-ins, in a key-value bucket beside
	// the event log, so that every node knows them.
	Sessions  *natsbus.KV
	Workflows *workflow.Registry
	// Breakers are the destinations' circuit breakers, in a key-value
	// bucket every node watches.
	Breakers *breaker.Breakers
	// Destinations serve the destination endpoints and the console page.
	Destinations *admin.Destinations
	// Backfills run workflows over stored events.
	Backfills *workflow.Backfills
	// Archive reads the archive back, when there is one.
	Archive *archive.Reader
	// Resources are the destinations and alerts created through the
	// management API, beside the file's.
	Resources *resources.Resources
	Catalog   *quality.Catalog // counts what each source sends, as events are stored
	// Version is reported in the AsyncAPI and OpenAPI documents.
	Version string

	deploy   deployment
	inForce  atomic.Pointer[config.Config] // the file's configuration with the API's destinations and alerts
	plans    atomic.Pointer[quality.Plans] // the tracking plans in force (the file's and the API's)
	alerts   atomic.Pointer[alert.Alerts]
	disk     *disk.Guard                            // the data directory's free space, with the embedded event log
	failed   chan error                             // the processor stopped on its own
	maintain func(context.Context, time.Time) error // the store's hourly upkeep: event retention, partitions
	members  *natsbus.Members                       // the nodes sharing the queues, with an external NATS
	relay    *natsbus.Relay                         // stored events to every node's tail, with an external NATS
	stopWork context.CancelFunc
	work     sync.WaitGroup
	closers  []func() error // in the order Close runs them
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
	log := a.Log.With("component", "store")
	observe := func(n int) { a.Metrics.StoreBatch.Observe(float64(n)) }
	if cfg.PostgresURL != "" {
		var store *postgres.Store
		err := waitFor(ctx, a.Log, "PostgreSQL", func() (err error) {
			store, err = postgres.Open(ctx, postgres.Options{URL: cfg.PostgresURL, Retention: cfg.EventRetentionDuration(), Log: log, OnCommit: observe})
			return err
		})
		if err != nil {
			return err
		}
		a.Store, a.maintain = store, store.Maintain
		a.closers = append([]func() error{store.Close}, a.closers...)
		return nil
	}
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, "switchyard.db"), Fsync: fsync,
		Retention: cfg.EventRetentionDuration(), Log: log, OnCommit: observe})
	if err != nil {
		return err
	}
	a.Store, a.maintain = store, store.Maintain
	a.closers = append([]func() error{store.Close}, a.closers...)
	return nil
}

func (a *App) deps() server.Deps {
	return server.Deps{Log: a.Log, Config: a.Config, Store: a.Store, EventLog: a.Events, Ingest: a.Ingest,
		Sources: a.Sources, Workflows: a.Workflows, Identity: a.Identity, Hub: a.Hub, Prometheus: a.Prometheus, Metrics: a.Metrics, Version: a.Version,
		Enqueue: func(ctx context.Context, runs []*cdp.Run) error { return workflow.Enqueue(ctx, a.Runs, runs) }, Sessions: a.Sessions,
		Destinations: a.Destinations, Backfills: a.Backfills, Archive: a.Archive, Resources: a.Resources}
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
	if a.Catalog != nil {
		// The processor has stopped: what it stored last is counted.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.Catalog.Flush(ctx); err != nil {
			a.Log.Warn("event catalog", "err", err)
		}
		cancel()
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
