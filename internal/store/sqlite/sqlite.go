// Package sqlite is the embedded store: one SQLite file in WAL mode
// (modernc.org/sqlite, pure Go). Reads use a pool of read-only connections;
// all writes go through one writer goroutine that commits every Update
// queued while the previous commit ran in a single transaction, so
// concurrent callers share one commit (and, with Synchronous FULL, one fsync).
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

//go:embed schema.sql
var schema string

// migrations change schema.sql's tables in order; PRAGMA user_version
// counts those applied. Append only. Each is SQL, or Go code for what
// SQL cannot do (compressing stored data).
var migrations = []migration{
	// 1: raw request capture.
	{sql: `ALTER TABLE events ADD COLUMN request_id TEXT;
	CREATE TABLE IF NOT EXISTS raw_requests (
		id          TEXT PRIMARY KEY,
		received_at INTEGER NOT NULL,
		method      TEXT NOT NULL,
		path        TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		header      TEXT NOT NULL,
		body        BLOB,
		body_size   INTEGER NOT NULL,
		truncated   INTEGER NOT NULL
	);`},
	// 2: workflow runs. One run per workflow and event makes run
	// creation idempotent under redelivery.
	{sql: `CREATE TABLE IF NOT EXISTS runs (
		seq         INTEGER PRIMARY KEY,
		id          TEXT NOT NULL UNIQUE,
		workflow_id TEXT NOT NULL,
		event_id    TEXT NOT NULL,
		status      TEXT NOT NULL,
		version     INTEGER NOT NULL,
		next_at     INTEGER,
		created_at  INTEGER NOT NULL,
		updated_at  INTEGER NOT NULL,
		body        BLOB NOT NULL,
		UNIQUE (workflow_id, event_id)
	);
	CREATE INDEX IF NOT EXISTS runs_status ON runs (status, workflow_id);
	CREATE INDEX IF NOT EXISTS runs_next ON runs (next_at) WHERE next_at IS NOT NULL;`},
	// 3: workflow versions created through the management API.
	{sql: `CREATE TABLE IF NOT EXISTS workflows (
		id          TEXT NOT NULL,
		version     INTEGER NOT NULL,
		deleted     INTEGER NOT NULL,
		created_at  INTEGER NOT NULL,
		definition  BLOB NOT NULL,
		PRIMARY KEY (id, version)
	) WITHOUT ROWID;`},
	// 4: events per source and minute for the console's overview, and the
	// runs of an event for its page.
	{sql: `CREATE TABLE IF NOT EXISTS event_minutes (
		minute     INTEGER NOT NULL,
		source_id  TEXT NOT NULL,
		events     INTEGER NOT NULL,
		PRIMARY KEY (minute, source_id)
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS runs_event ON runs (event_id);`},
	// 5: run leases, for several nodes advancing runs.
	{sql: `ALTER TABLE runs ADD COLUMN lease_owner TEXT;
	ALTER TABLE runs ADD COLUMN lease_until INTEGER;`},
	// 6: compact storage: event and request ids as 16 bytes,
	// packed event bodies and captured requests, the request table without
	// a rowid.
	{run: compact},
	// 7: the destination whose circuit breaker holds a waiting run, to
	// release those runs when it closes.
	{sql: `ALTER TABLE runs ADD COLUMN waiting_on TEXT;
	CREATE INDEX IF NOT EXISTS runs_waiting_on ON runs (waiting_on) WHERE waiting_on IS NOT NULL;`},
	// 8: alerts, one firing alert per key.
	{sql: recordsTable("alerts") + `
	CREATE UNIQUE INDEX IF NOT EXISTS alerts_firing ON alerts (key) WHERE state = 'firing';
	CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, seq);`},
	// 9: backfills; a run belongs to at most one backfill, and
	// one run per workflow, event and backfill (the table is rebuilt:
	// SQLite cannot change a unique constraint in place).
	{sql: recordsTable("backfills") + `
	CREATE TABLE runs_new (
		seq         INTEGER PRIMARY KEY,
		id          TEXT NOT NULL UNIQUE,
		workflow_id TEXT NOT NULL,
		event_id    TEXT NOT NULL,
		status      TEXT NOT NULL,
		version     INTEGER NOT NULL,
		next_at     INTEGER,
		created_at  INTEGER NOT NULL,
		updated_at  INTEGER NOT NULL,
		body        BLOB NOT NULL,
		lease_owner TEXT,
		lease_until INTEGER,
		waiting_on  TEXT,
		backfill_id TEXT NOT NULL DEFAULT '',
		UNIQUE (workflow_id, event_id, backfill_id)
	);
	INSERT INTO runs_new (seq, id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, lease_owner, lease_until, waiting_on)
		SELECT seq, id, workflow_id, event_id, status, version, next_at, created_at, updated_at, body, lease_owner, lease_until, waiting_on FROM runs;
	DROP TABLE runs;
	ALTER TABLE runs_new RENAME TO runs;
	CREATE INDEX runs_status ON runs (status, workflow_id);
	CREATE INDEX runs_next ON runs (next_at) WHERE next_at IS NOT NULL;
	CREATE INDEX runs_event ON runs (event_id);
	CREATE INDEX runs_waiting_on ON runs (waiting_on) WHERE waiting_on IS NOT NULL;`},
	// 10: waits (wait_for steps, exit rules), by profile and by deadline.
	{sql: relational.WaitsTable("BLOB", "INTEGER") + relational.FrequenciesTable("INTEGER") + relational.OrderKeyColumn + relational.DebouncesTable + relational.LinesTable},
	// 11: where each archive stands.
	{sql: relational.ArchivesTable},
	// 12: the audit trail, trimmed by time.
	{sql: recordsTable("audit") + `
	CREATE INDEX IF NOT EXISTS audit_started ON audit (started_at);`},
	// 13: destinations and alerts created through the management API.
	{sql: relational.ResourcesTable("BLOB")},
	// 14: the event catalog.
	{sql: relational.CatalogTables},
}

// recordsTable creates a table of records (alerts, backfills): each as
// JSON beside the columns it is found by.
func recordsTable(name string) string {
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
		seq        INTEGER PRIMARY KEY,
		id         TEXT NOT NULL UNIQUE,
		key        TEXT NOT NULL,
		state      TEXT NOT NULL,
		version    INTEGER NOT NULL,
		started_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		body       BLOB NOT NULL
	);`
}

// migrate creates the schema and applies the migrations not applied yet,
// each in its own transaction.
func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	for i := version; i < len(migrations); i++ {
		if err := migrations[i].apply(ctx, conn, i+1); err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("migrate sqlite to version %d: %w", i+1, err)
		}
	}
	return nil
}

type migration struct {
	sql string
	run func(ctx context.Context, conn *sql.Conn) error
}

// apply runs m and records version in one transaction.
func (m migration) apply(ctx context.Context, conn *sql.Conn, version int) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if m.sql != "" {
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return err
		}
	}
	if m.run != nil {
		if err := m.run(ctx, conn); err != nil {
			return err
		}
	}
	_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; COMMIT", version))
	return err
}

// Options configure the store.
type Options struct {
	// Path of the database file.
	Path string
	// Fsync makes every commit fsync the WAL (synchronous=FULL); otherwise
	// commits survive a process crash but not a power loss (NORMAL).
	Fsync bool
	// MaxBatch caps how many queued Updates share one transaction (default 256).
	MaxBatch int
	// Retention deletes events received longer ago than this (0: keep);
	// Maintain does it.
	Retention time.Duration
	Log       *slog.Logger
	// OnCommit, if set, is called by the writer with the number of Updates
	// that shared each commit (for the store-batch-size metric).
	OnCommit func(n int)
}

// Store is a cdp.Store on SQLite.
type Store struct {
	relational.Records // written through the writer goroutine like everything else
	opts               Options
	rdb                *sql.DB // read-only pool
	wdb                *sql.DB // exactly one connection, owned by the writer goroutine
	wconn              *sql.Conn
	stmts              map[string]*sql.Stmt // writer-owned prepared statements
	reads              sync.Map             // query → *sql.Stmt, the readers' prepared statements

	writes   chan *writeReq
	mu       sync.RWMutex // guards closed against in-flight Update calls
	closed   bool
	inflight sync.WaitGroup
	done     chan struct{}
}

var _ cdp.Store = (*Store)(nil)

type writeReq struct {
	ctx context.Context
	fn  func(cdp.Tx) error
	err chan error
}

// Open opens (creating if needed) the database at opts.Path.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 256
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	sync := "NORMAL"
	if opts.Fsync {
		sync = "FULL"
	}
	dsn := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "busy_timeout(10000)")
		// The writer keeps 16 MB of pages (the indexes it inserts into);
		// each of the eight readers 4 MB: their point lookups are served
		// by the operating system's file cache as well, and page caches
		// are memory outside the Go heap, which at 16 MB a reader reached
		// 128 MB on a database with a million waiting runs (pread costs
		// under 2 % of the CPU at 4 MB, pprof).
		cache := "-16000"
		if readOnly {
			cache = "-4000"
		}
		q.Add("_pragma", "cache_size("+cache+")")
		// Checkpoint the WAL every ~16 MB instead of every 4 MB: fewer
		// checkpoint fsyncs on the write path (measured with pprof).
		q.Add("_pragma", "wal_autocheckpoint(4000)")
		if readOnly {
			q.Add("_pragma", "query_only(1)")
		}
		return "file:" + opts.Path + "?" + q.Encode()
	}
	s := &Store{opts: opts, stmts: map[string]*sql.Stmt{}, writes: make(chan *writeReq, 1024), done: make(chan struct{})}
	s.Records = relational.Records{Exec: s.exec, Query: s.rows, Mark: relational.Question, Atomic: s.atomic}
	var err error
	if s.wdb, err = sql.Open("sqlite", dsn(false)); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	if err := migrate(ctx, s.wconn); err != nil {
		s.wconn.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("migrate sqlite: %w", err)
	}
	if s.rdb, err = sql.Open("sqlite", dsn(true)); err != nil {
		s.wconn.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	s.rdb.SetMaxOpenConns(8)
	s.rdb.SetMaxIdleConns(8)
	go s.writer()
	return s, nil
}

// Update implements cdp.Store.
func (s *Store) Update(ctx context.Context, fn func(cdp.Tx) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return cdp.Errorf(cdp.EUNAVAILABLE, "store is closed")
	}
	s.inflight.Add(1)
	s.mu.RUnlock()
	defer s.inflight.Done()
	req := &writeReq{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The writer always answers, even if ctx ends meanwhile: the caller must
	// not believe a write failed when it committed.
	return diskFull(<-req.err)
}

// SQLite's result codes for a full disk and a failed write (the low byte
// of an extended code).
const (
	sqliteIOErr = 10
	sqliteFull  = 13
)

// diskFull marks a write that failed for lack of space (or a write error)
// as EUNAVAILABLE: it is no fault of what was written, and succeeds once
// space is freed, so the processor retries it for as long as that takes
// instead of storing the events as poison, and an ingest route answers 503.
func diskFull(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) || cdp.ErrorCode(err) == cdp.EUNAVAILABLE {
		return err
	}
	if c := se.Code() & 0xff; c != sqliteFull && c != sqliteIOErr {
		return err
	}
	return fmt.Errorf("%w: %w", cdp.Errorf(cdp.EUNAVAILABLE, "the store cannot write: the disk is full"), err)
}

// writer owns the write connection: it takes the first queued Update,
// everything else already queued (up to MaxBatch), and commits them together.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeReq, 0, s.opts.MaxBatch)
	for first := range s.writes {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*writeReq) {
	ctx := context.Background() // each fn's statements use its own ctx
	errs := make([]error, len(batch))
	reply := func() {
		for i, r := range batch {
			r.err <- errs[i]
		}
	}
	if _, err := s.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("begin: %w", err)
		}
		reply()
		return
	}
	shared := len(batch) > 1
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if shared {
			if _, err := s.wconn.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				errs[i] = fmt.Errorf("savepoint: %w", err)
				continue
			}
		}
		errs[i] = r.fn(newTx(s, r.ctx))
		if !shared {
			break
		}
		if errs[i] != nil {
			_, _ = s.wconn.ExecContext(ctx, "ROLLBACK TO w")
		}
		_, _ = s.wconn.ExecContext(ctx, "RELEASE w")
	}
	if !shared && errs[0] != nil {
		_, _ = s.wconn.ExecContext(ctx, "ROLLBACK")
		reply()
		return
	}
	if _, err := s.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = s.wconn.ExecContext(ctx, "ROLLBACK")
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("commit: %w", err)
			}
		}
	}
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(len(batch))
	}
	reply()
}

// stmt returns the writer's prepared statement for query. Only the writer
// goroutine calls it, so the cache needs no lock.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.wconn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	s.stmts[query] = st
	return st, nil
}

// readStmt returns the readers' prepared statement for query. Preparing
// costs about as much as running a point lookup, so each query text is
// prepared once (database/sql then prepares it once per connection).
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return s.rdb.QueryRowContext(ctx, query, args...) // its Scan reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// exec runs a write for the helpers of package query, through the writer.
func (s *Store) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = s.Update(ctx, func(cdp.Tx) error {
		res, err := s.wconn.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// atomic runs fn's statements in one write transaction.
func (s *Store) atomic(ctx context.Context, fn func(exec relational.Exec) error) error {
	return s.Update(ctx, func(cdp.Tx) error {
		return fn(func(ctx context.Context, q string, args ...any) (int64, error) {
			res, err := s.wconn.ExecContext(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		})
	})
}

// rows runs a read for the helpers of package query.
func (s *Store) rows(ctx context.Context, q string, args ...any) (relational.Rows, func(), error) {
	rows, err := s.read(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close() }, nil
}

// Ping implements cdp.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Close waits for in-flight Updates, stops the writer and closes the files.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	close(s.writes)
	<-s.done
	for _, st := range s.stmts {
		st.Close()
	}
	s.reads.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	return errors.Join(s.rdb.Close(), s.wconn.Close(), s.wdb.Close())
}
