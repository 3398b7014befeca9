package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // registers "sqlite", to checkpoint the embedded store
)

// summary is what one target measured: its highest passing rate with
// --step, or its one run otherwise.
type summary struct {
	name         string
	rate         float64 // offered requests/s
	achieved     float64 // events/s
	stored       float64 // events stored per second during the measured part
	drain        time.Duration
	p99          time.Duration
	cpuPerReq    float64 // µs of the target's CPU per offered request
	rssMB        int
	diskPerEvent float64 // bytes at rest per stored event
	accepted     int     // 2xx answers over every run
	passed       bool
}

// compareBinaries measures f.compare (an older switchyard) and this
// binary alternately, f.rounds times each, with the first in each round
// alternating so that neither always runs on a warmer machine, and prints
// new ÷ old for every figure.
func compareBinaries(ctx context.Context, stdout, stderr io.Writer, f *benchFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	old, err := filepath.Abs(f.compare)
	if err != nil {
		return err
	}
	if _, err := os.Stat(old); err != nil {
		return fmt.Errorf("bench: --compare: %w", err)
	}
	var olds, news []summary
	for round := range max(f.rounds, 1) {
		order := []string{old, self}
		if round%2 == 1 {
			order = []string{self, old}
		}
		for _, bin := range order {
			label := "new"
			if bin == old {
				label = "old"
			}
			s, err := benchSwitchyard(ctx, stdout, stderr, f, bin, label)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", label, bin, err)
			}
			if bin == old {
				olds = append(olds, s)
			} else {
				news = append(news, s)
			}
		}
	}
	printRatios(stdout, f, median(olds), median(news))
	return nil
}

// median returns, figure by figure, the median of the rounds' summaries.
func median(ss []summary) summary {
	pick := func(get func(summary) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = get(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return summary{
		rate:         pick(func(s summary) float64 { return s.rate }),
		achieved:     pick(func(s summary) float64 { return s.achieved }),
		stored:       pick(func(s summary) float64 { return s.stored }),
		drain:        time.Duration(pick(func(s summary) float64 { return float64(s.drain) })),
		p99:          time.Duration(pick(func(s summary) float64 { return float64(s.p99) })),
		cpuPerReq:    pick(func(s summary) float64 { return s.cpuPerReq }),
		rssMB:        int(pick(func(s summary) float64 { return float64(s.rssMB) })),
		diskPerEvent: pick(func(s summary) float64 { return s.diskPerEvent }),
	}
}

func printRatios(w io.Writer, f *benchFlags, old, cur summary) {
	ratio := func(n, o float64) string {
		if o == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", n/o)
	}
	rate := "offered req/s"
	if f.step {
		rate = "highest passing req/s"
	}
	fmt.Fprintf(w, "\n# new vs old (median of %d round(s) each)\n", max(f.rounds, 1))
	fmt.Fprintln(w, "| figure | old | new | new ÷ old |")
	fmt.Fprintln(w, "|---|---|---|---|")
	if !f.closed {
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s |\n", rate, old.rate, cur.rate, ratio(cur.rate, old.rate))
	}
	fmt.Fprintf(w, "| events/s | %.0f | %.0f | %s |\n", old.achieved, cur.achieved, ratio(cur.achieved, old.achieved))
	fmt.Fprintf(w, "| stored/s during the run | %.0f | %.0f | %s |\n", old.stored, cur.stored, ratio(cur.stored, old.stored))
	fmt.Fprintf(w, "| drain after the run | %.1f s | %.1f s | %s |\n", old.drain.Seconds(), cur.drain.Seconds(), ratio(float64(cur.drain), float64(old.drain)))
	fmt.Fprintf(w, "| p99 | %s | %s | %s |\n", ms(old.p99), ms(cur.p99), ratio(float64(cur.p99), float64(old.p99)))
	fmt.Fprintf(w, "| CPU µs/req | %.0f | %.0f | %s |\n", old.cpuPerReq, cur.cpuPerReq, ratio(cur.cpuPerReq, old.cpuPerReq))
	fmt.Fprintf(w, "| peak RSS | %d MB | %d MB | %s |\n", old.rssMB, cur.rssMB, ratio(float64(cur.rssMB), float64(old.rssMB)))
	fmt.Fprintf(w, "| disk/event at rest | %.0f B | %.0f B | %s |\n", old.diskPerEvent, cur.diskPerEvent, ratio(cur.diskPerEvent, old.diskPerEvent))
}

// diskBytes is what a spawned switchyard keeps on disk: its data dir
// (event log, SQLite with its WAL) and, on PostgreSQL, its database.
func (t *target) diskBytes(ctx context.Context) int64 {
	if t.dataDir == "" {
		return 0
	}
	checkpointSQLite(ctx, filepath.Join(t.dataDir, "switchyard.db"))
	var n int64
	_ = filepath.WalkDir(t.dataDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	if t.postgresURL != "" {
		if conn, err := pgx.Connect(ctx, t.postgresURL); err == nil {
			var size int64
			// A checkpoint first, so that what sits in the WAL is counted
			// where it rests.
			_, _ = conn.Exec(ctx, "CHECKPOINT")
			if conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size) == nil {
				n += size
			}
			conn.Close(ctx)
		}
	}
	return n
}

// checkpointSQLite moves what the embedded store's WAL holds into the
// database file and truncates the WAL, so that the size measured is the
// data at rest, not a WAL that is reused. It is a no-op without the file.
func checkpointSQLite(ctx context.Context, path string) {
	if _, err := os.Stat(path); err != nil {
		return
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return
	}
	defer db.Close()
	_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// acceptedEvents is how many events the target has accepted so far.
func (t *target) acceptedEvents(ctx context.Context) float64 {
	if t.cmd == nil || t.name == "noop" {
		return 0
	}
	c, err := t.counts(ctx)
	if err != nil {
		return 0
	}
	return c.accepted
}

// freshDatabase creates an empty database beside the one base names, so
// that each spawned switchyard starts from an empty schema (two releases
// may not share one) and its size is its own; drop removes it.
func freshDatabase(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("bench: --postgres-url: %w", err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("sybench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("bench: create database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
