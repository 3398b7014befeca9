// Package memlimit keeps the Go runtime's soft memory limit from costing
// more CPU than it saves memory.
//
// A soft limit close to the live heap makes the collector run almost
// continuously: measured on a node delivering workflow actions at 5,000
// events/s, a 128 MiB limit tripled the CPU per event and cut deliveries to
// a fifth. A limit far above the live heap does nothing, and an ingest node
// whose live heap is small then grows to twice it between collections.
// Governor holds the configured limit while the collector takes a small
// share of the CPU, raises it step by step while the collector takes more
// than a quarter, and lowers it back once the pressure is gone.
package memlimit

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/switchyardhq/switchyard/internal/periodic"
)

const (
	// raiseAbove and lowerBelow are the collector's share of the process's
	// CPU over one interval above which the limit is raised and below which
	// it may come back down.
	raiseAbove = 0.25
	lowerBelow = 0.10
	// step is how much the limit moves per interval.
	step = 1.25
	// calmIntervals is how long the pressure must be gone before the limit
	// comes down a step: lowering it at once would raise the pressure again.
	calmIntervals = 10
	// ceiling is how far above the configured limit it may be raised.
	ceiling = 4
)

// Governor adjusts the soft memory limit between Base and ceiling × Base.
type Governor struct {
	Base     int64
	Interval time.Duration
	Log      *slog.Logger

	limit     int64
	gc, total float64
	samples   []metrics.Sample
	calm      int // intervals in a row with the collector under lowerBelow
}

// Run sets the limit to Base and adjusts it every Interval until ctx ends.
func (g *Governor) Run(ctx context.Context) {
	g.limit = g.Base
	debug.SetMemoryLimit(g.limit)
	g.samples = []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"}}
	g.read()
	periodic.Run(ctx, g.Interval, func(context.Context) {
		gc, total := g.gc, g.total
		g.read()
		if next := g.next(g.gc-gc, g.total-total); next != g.limit {
			g.Log.Info("memory limit", "bytes", next, "gc_cpu_share", round((g.gc-gc)/(g.total-total)))
			g.limit = next
			debug.SetMemoryLimit(next)
		}
	})
}

func (g *Governor) read() {
	metrics.Read(g.samples)
	// The share is of the CPU the process used: total counts every
	// GOMAXPROCS second, idle ones included.
	g.gc, g.total = g.samples[0].Value.Float64(), g.samples[1].Value.Float64()-g.samples[2].Value.Float64()
}

// next is the limit after an interval in which the collector used gc of
// total CPU seconds.
func (g *Governor) next(gc, total float64) int64 {
	if total <= 0 {
		return g.limit
	}
	share := gc / total
	if share < lowerBelow {
		g.calm++
	} else {
		g.calm = 0
	}
	switch {
	case share > raiseAbove:
		return min(int64(float64(g.limit)*step), ceiling*g.Base)
	case g.calm >= calmIntervals:
		g.calm = 0
		return max(int64(float64(g.limit)/step), g.Base)
	}
	return g.limit
}

func round(f float64) float64 { return float64(int(f*100)) / 100 }
