// Package postgres is the cdp.Store of a scale-out deployment: several
// Switchyard nodes share one PostgreSQL. It passes the same storetest
// contract as the SQLite store; what differs is how it stays correct with
// writers on other machines: unique keys and conditional updates decide
// every race inside the database (never a read then a write), events are
// partitioned by day so that retention drops whole partitions, and the
// schema is migrated under an advisory lock so nodes may start together.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

// Options configure the store.
type Options struct {
	// URL is a PostgreSQL connection string (postgres://user@host/db?…).
	URL string
	// Retention drops event partitions (days) older than this (0: keep).
	Retention time.Duration
	Log       *slog.Logger
	// OnCommit, if set, is called after each committed Update with 1 (the
	// SQLite store groups Updates; here each is its own transaction).
	OnCommit func(n int)
}

// DefaultMaxConns is the pool size unless the URL sets pool_max_conns.
// pgxpool's own default (4, or one per CPU) queues the edge's identity
// lookups of hundreds of concurrent requests behind each other (measured:
// p50 1.4 s at 2,000 /track requests/s).
const DefaultMaxConns = 32

// Store is a cdp.Store on PostgreSQL.
type Store struct {
	relational.Records
	opts Options
	pool pool
}

var _ cdp.Store = (*Store)(nil)

// Open connects, migrates the schema and creates the coming days'
// event partitions. A server that cannot be reached is cdp.EUNAVAILABLE.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	if !strings.Contains(opts.URL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{opts: opts, pool: pool{p}}
	s.Records = relational.Records{Exec: s.exec, Query: s.rows, Mark: relational.Dollar, Atomic: s.atomic}
	if err := s.migrate(ctx); err != nil {
		p.Close()
		return nil, unavailable(err)
	}
	if err := s.Maintain(ctx, time.Now()); err != nil {
		p.Close()
		return nil, unavailable(err)
	}
	return s, nil
}

// Advisory locks held while migrating and while maintaining partitions.
const (
	migrateLock  = 0x5317c4a2d
	maintainLock = 0x5317c4a2e
)

// migrate applies the migrations not applied yet, each in its own
// transaction, holding an advisory lock so that nodes starting together
// migrate one after the other.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate postgres: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock)) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	var version int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	for i := version; i < len(migrations); i++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate postgres to version %d: %w", i+1, err)
		}
	}
	return nil
}

// Maintain creates the event partitions of the day before now to three
// days after (nodes run it every hour; creating one that exists is a
// no-op), and drops whole partitions older than the retention.
func (s *Store) Maintain(ctx context.Context, now time.Time) error {
	// One node at a time: concurrent CREATE TABLE IF NOT EXISTS of one
	// partition can still collide in the catalog.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("maintain partitions: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(maintainLock)); err != nil {
		return fmt.Errorf("maintain partitions: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(maintainLock)) //nolint:errcheck
	day := now.UTC().Truncate(24 * time.Hour)
	for d := -1; d <= 3; d++ {
		from := day.AddDate(0, 0, d)
		name := "events_" + from.Format("20060102")
		_, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM (%d) TO (%d)`,
			name, from.UnixNano(), from.AddDate(0, 0, 1).UnixNano()))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23514" {
			// The default partition already holds events of that day (the
			// partition was not created ahead): they stay there.
			s.opts.Log.Warn("event partition not created: the default partition holds its events", "partition", name)
			continue
		}
		if err != nil {
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	}
	if s.opts.Retention <= 0 {
		return nil
	}
	cutoff := now.Add(-s.opts.Retention).UTC().Truncate(24 * time.Hour)
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$'`)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	for _, name := range names {
		d, err := time.Parse("20060102", name[len("events_"):])
		if err != nil || !d.AddDate(0, 0, 1).Before(cutoff.Add(time.Nanosecond)) {
			continue
		}
		if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop partition %s: %w", name, err)
		}
		s.opts.Log.Info("dropped an event partition past the retention", "partition", name)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM event_messages WHERE received_at < $1`, cutoff.UnixNano()); err != nil {
		return fmt.Errorf("trim message ids: %w", err)
	}
	return nil
}

// maxAttempts bounds how often Update runs fn again after a
// serialization failure or a deadlock.
const maxAttempts = 5

// Update implements cdp.Store: fn runs in one READ COMMITTED transaction;
// a deadlock or serialization failure runs it again, and a lost
// connection is reported as cdp.EUNAVAILABLE.
func (s *Store) Update(ctx context.Context, fn func(cdp.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error { return fn(newTx(ptx)) })
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") && ctx.Err() == nil {
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
			continue
		}
		break
	}
	if err == nil && s.opts.OnCommit != nil {
		s.opts.OnCommit(1)
	}
	return unavailable(err)
}

// Ping implements cdp.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return cdp.Errorf(cdp.EUNAVAILABLE, "postgres: %v", err)
	}
	return nil
}

// Close implements cdp.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// notFound maps pgx.ErrNoRows to ENOTFOUND with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return cdp.Errorf(cdp.ENOTFOUND, format, args...)
	}
	return err
}

// toNanos is t in Unix nanoseconds, or NULL.
func toNanos(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	n := t.UnixNano()
	return &n
}
