package disk

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// The guard turns low under the reserve, stays low until half again the
// reserve is free, and once space is back runs recover until it succeeds.
func TestGuard(t *testing.T) {
	free := uint64(100 << 20)
	recovered, fail := 0, true
	g := New("/", 10<<20, slog.New(slog.DiscardHandler))
	recover := func(context.Context) error {
		recovered++
		if fail {
			return errors.New("not yet")
		}
		return nil
	}
	g.statfs = func(string) (Space, bool) { return Space{Total: 1 << 30, Free: free}, true }
	pending := false
	step := func() { g.tick(context.Background(), &pending, recover) }
	for _, c := range []struct {
		free    uint64
		low     bool
		recover int
	}{
		{100 << 20, false, 0},
		{9 << 20, true, 0},  // under the reserve
		{12 << 20, true, 0}, // over it, not yet by half again
		{16 << 20, false, 1},
		{16 << 20, false, 2}, // recover failed: tried again
	} {
		free = c.free
		step()
		if g.Low() != c.low || recovered != c.recover {
			t.Fatalf("free %d: low %v, recovered %d; want %v, %d", c.free, g.Low(), recovered, c.low, c.recover)
		}
	}
	fail = false
	step()
	step()
	if recovered != 3 || g.Status().Reserve != 10<<20 {
		t.Fatalf("recovered %d times, status %+v", recovered, g.Status())
	}
}

// Without a reserve configured it is a tenth of the filesystem, between
// 1 MiB and 1 GiB; a nil guard is never low.
func TestReserve(t *testing.T) {
	for total, want := range map[uint64]uint64{64 << 20: 64 << 20 / 10, 4 << 20: 1 << 20, 1 << 40: 1 << 30} {
		if got := (Space{Total: total}).Reserve(); got != want {
			t.Errorf("Reserve of %d = %d, want %d", total, got, want)
		}
	}
	var g *Guard
	if g.Low() {
		t.Fatal("a nil guard is low")
	}
}

// The real filesystem is read.
func TestStatfs(t *testing.T) {
	sp, ok := statfs(t.TempDir())
	if !ok {
		t.Skip("no statfs on this system: the guard never reports low space")
	}
	if sp.Total == 0 || sp.Free > sp.Total {
		t.Fatalf("statfs: %+v", sp)
	}
}
