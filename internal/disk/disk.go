// Package disk watches the free space of the filesystem that holds the
// data directory. The embedded event log and store write there; run out
// of space, the event log stops taking writes until it is reopened, and
// requests it cannot store time out. So the edge stops accepting events
// while free space is under a reserve, readiness says why, and once space
// returns whatever broke while it was short is repaired (Guard.Run's
// recover), without a restart.
package disk

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Space is a filesystem's size and free space in bytes.
type Space struct {
	Total, Free uint64
}

// Reserve is the free space under which ingest stops when none is
// configured: a tenth of the filesystem, at most 1 GiB and at least 1 MiB.
func (s Space) Reserve() uint64 {
	return max(min(s.Total/10, 1<<30), 1<<20)
}

// Guard reports whether the data directory's filesystem is short of space.
type Guard struct {
	dir     string
	reserve uint64 // 0: Space.Reserve
	every   time.Duration
	log     *slog.Logger
	statfs  func(dir string) (Space, bool)

	state atomic.Pointer[Status]
}

// Status is the guard's last reading.
type Status struct {
	Low     bool   `json:"low"`
	Free    uint64 `json:"free_bytes"`
	Total   uint64 `json:"total_bytes"`
	Reserve uint64 `json:"reserve_bytes"`
}

// String describes a low status for readiness and refusals.
func (s Status) String() string {
	return fmt.Sprintf("%d bytes free of %d, under the reserve of %d: new events are refused until space is freed", s.Free, s.Total, s.Reserve)
}

// New returns a guard of dir's filesystem, keeping reserve bytes free (0:
// Space.Reserve). Run it.
func New(dir string, reserve uint64, log *slog.Logger) *Guard {
	g := &Guard{dir: dir, reserve: reserve, every: time.Second, log: log, statfs: statfs}
	g.state.Store(&Status{})
	return g
}

// Status returns the last reading; a nil guard is never low.
func (g *Guard) Status() Status {
	if g == nil {
		return Status{}
	}
	return *g.state.Load()
}

// Low reports whether free space was under the reserve at the last
// reading (every second).
func (g *Guard) Low() bool { return g.Status().Low }

// Short reads the free space now and reports whether it is under the
// reserve (or was at the last reading), for what must not start a write
// that may not fit: a statfs call costs about a microsecond.
func (g *Guard) Short() bool {
	if g == nil {
		return false
	}
	if g.Low() {
		return true
	}
	sp, reserve, ok := g.read()
	return ok && sp.Free < reserve
}

// read takes a reading of the filesystem and the reserve that applies.
func (g *Guard) read() (sp Space, reserve uint64, ok bool) {
	if sp, ok = g.statfs(g.dir); !ok {
		return Space{}, 0, false
	}
	return sp, cmp.Or(g.reserve, sp.Reserve()), true
}

// Run reads the free space every second until ctx is done. Each time
// space is back after it was short, it calls recover (if not nil) until
// that succeeds.
func (g *Guard) Run(ctx context.Context, recover func(context.Context) error) {
	pending := false
	periodic.Run(ctx, g.every, func(ctx context.Context) { g.tick(ctx, &pending, recover) })
}

// tick takes a reading and, if space is back after it was short
// (*pending), recovers; *pending stays set until that succeeds.
func (g *Guard) tick(ctx context.Context, pending *bool, recover func(context.Context) error) {
	st, ok := g.check()
	if !ok {
		return
	}
	if st.Low {
		*pending = true
		return
	}
	if *pending && recover != nil {
		if err := recover(ctx); err != nil {
			g.log.Error("repairing after the disk was full", "err", err)
			return // again at the next reading
		}
	}
	*pending = false
}

// check takes a reading, with hysteresis: once low, space must be back
// to half again the reserve before events are taken, so that the edge
// does not flap at the boundary.
func (g *Guard) check() (Status, bool) {
	sp, reserve, ok := g.read()
	if !ok {
		return Status{}, false
	}
	was := g.state.Load().Low
	low := sp.Free < reserve || (was && sp.Free < reserve+reserve/2)
	st := Status{Low: low, Free: sp.Free, Total: sp.Total, Reserve: reserve}
	if low != was {
		if low {
			g.log.Error("disk nearly full: refusing new events", "dir", g.dir, "free_bytes", sp.Free, "reserve_bytes", reserve)
		} else {
			g.log.Info("disk space back: taking events again", "dir", g.dir, "free_bytes", sp.Free)
		}
	}
	g.state.Store(&st)
	return st, true
}
