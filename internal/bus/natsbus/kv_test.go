package natsbus_test

import (
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// A key-value entry is there until deleted or until its TTL passes, and a
// bucket opened again (another node, a restart) sees the same entries.
func TestKeyValue(t *testing.T) {
	dir := t.TempDir()
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: dir, Logger: quietLogger()})
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := kv.Get(ctx, "b")
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the entry outlived its TTL: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
