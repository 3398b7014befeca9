package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// TestTrimKeepsOnlyUnacknowledged checks that the log removes what its
// consumer groups acknowledged, and nothing else.
func TestTrimKeepsOnlyUnacknowledged(t *testing.T) {
	t.Parallel()
	l, err := Open(t.Context(), Options{DataDir: t.TempDir(), TrimInterval: 20 * time.Millisecond, AckWait: time.Minute,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stored := func() uint64 {
		info, err := l.stream.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	for range 10 {
		if _, err := l.Append(t.Context(), "web", "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if n := stored(); n != 10 { // Append returns once the stream holds the message
		t.Fatalf("before any consumer: %d messages stored, want all 10 kept", n)
	}
	// Ack the first 6 deliveries only.
	ctx, cancel := context.WithCancel(t.Context())
	acked := 0
	_ = l.Consume(ctx, "g", func(_ context.Context, batch []cdp.Delivery) {
		for _, d := range batch {
			if acked < 6 {
				_ = d.Ack()
				acked++
			}
		}
		if acked == 6 {
			cancel()
		}
	})
	testenv.Await(t, "4 messages stored after 6 of 10 were acked", 5*time.Second, func() (bool, string) {
		n := stored()
		return n == 4, fmt.Sprintf("%d stored", n)
	})
}

// TestRestartRedeliversAtOnce checks that messages a crashed process had
// received but not acknowledged come back right after a restart of the
// embedded log, not after the (here one-minute) ack wait.
func TestRestartRedeliversAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() *Log {
		l, err := Open(t.Context(), Options{DataDir: dir, AckWait: time.Minute, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	for _, m := range []string{"a", "b", "c"} {
		if _, err := l.Append(t.Context(), "web", "", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	_ = l.Consume(ctx, "g", func(_ context.Context, batch []cdp.Delivery) {
		_ = batch[0].Ack() // "a" is processed; the rest are in flight when the process dies
		cancel()
	})
	l.Close()

	l = open()
	defer l.Close()
	var got []string
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_ = l.Consume(ctx, "g", func(_ context.Context, batch []cdp.Delivery) {
		for _, d := range batch {
			_ = d.Ack()
			got = append(got, string(d.Data()))
		}
		if len(got) >= 2 {
			cancel()
		}
	})
	if len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("after restart got %q, want [b c]", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("redelivery took %v", d)
	}
}
