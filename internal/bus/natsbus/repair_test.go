//go:build linux

package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// When the disk fills up, the embedded server fails the write it could
// not make and refuses every later write to the stream; once space is
// freed, Repair reloads JetStream, appends succeed again, and every
// message acknowledged before is still there. Mounting the small
// filesystem needs root: the test skips without it.
func TestRepairAfterDiskFull(t *testing.T) {
	t.Parallel()
	mnt := testenv.Tmpfs(t, "24m")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(t.Context(), Options{DataDir: filepath.Join(mnt, "data"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	msg := make([]byte, 256<<10)
	acked := 0
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("24 MB took more than 200 appends of 256 KB")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		_, err := l.Append(ctx, "web", fmt.Sprint(i), msg)
		cancel()
		if err != nil {
			t.Logf("append %d: %v", i, err)
			break
		}
		acked++
	}
	if !l.writeFailed.Load() {
		t.Fatal("the failed write went unnoticed")
	}
	if err := l.Repair(t.Context()); err != nil { // no space yet: the stream stays as it is
		t.Logf("repair with the disk full: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testenv.Await(t, "the repair", 10*time.Second, func() (bool, string) {
		err := l.Repair(t.Context())
		return err == nil && !l.writeFailed.Load(), fmt.Sprint(err)
	})
	if _, err := l.Append(t.Context(), "web", "after", []byte("x")); err != nil {
		t.Fatalf("append after the repair: %v", err)
	}
	info, err := l.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := int(info.State.Msgs); got != acked+1 {
		t.Fatalf("%d messages after the repair, want the %d acknowledged and the new one", got, acked)
	}
}
