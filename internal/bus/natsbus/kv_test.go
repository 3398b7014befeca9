package natsbus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// A key-value entry is there until deleted or until its TTL passes, and a
// bucket opened again (another node, a restart) sees the same entries.
func TestKeyValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: dir, Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kv, err := l.KeyValue(t.Context(), "KV_TEST", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := kv.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	again, err := l.KeyValue(ctx, "KV_TEST", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := again.Get(ctx, "a"); err != nil || string(v) != "1" {
		t.Fatalf("get a: %q %v", v, err)
	}
	if err := kv.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Get(ctx, "a"); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("deleted key: %v", err)
	}
	if err := kv.Put(ctx, "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	testenv.Await(t, "the entry to expire with its TTL", 10*time.Second, func() (bool, string) {
		_, err := kv.Get(ctx, "b")
		return cdp.ErrorCode(err) == cdp.ENOTFOUND, fmt.Sprint(err)
	})
}

// Swap is a compare-and-set: of two writers holding one revision, one
// wins and the other is told of the conflict; a watcher sees the current
// values first, then every change.
func TestKeyValueSwapAndWatch(t *testing.T) {
	t.Parallel()
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := t.Context()
	kv, err := l.KeyValue(ctx, "KV_SWAP", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Swap(ctx, "a", []byte("1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Swap(ctx, "a", []byte("x"), 0); cdp.ErrorCode(err) != cdp.ECONFLICT {
		t.Fatalf("create over an existing key: %v", err)
	}
	seen := make(chan string, 10)
	if err := kv.Watch(ctx, func(key string, value []byte, _ uint64) { seen <- key + "=" + string(value) }); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "a=1" {
		t.Fatalf("initial value %q", got)
	}
	if _, err := kv.Swap(ctx, "a", []byte("2"), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Swap(ctx, "a", []byte("3"), rev); cdp.ErrorCode(err) != cdp.ECONFLICT {
		t.Fatalf("a stale revision: %v", err)
	}
	select {
	case got := <-seen:
		if got != "a=2" {
			t.Fatalf("change %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher saw no change")
	}
	if v, _, err := kv.Entry(ctx, "a"); err != nil || string(v) != "2" {
		t.Fatalf("entry %q %v", v, err)
	}
}
