package natsbus

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// TestTrimKeepsOnlyUnacknowledged checks that the log removes what its
// consumer groups acknowledged, and nothing else.
func TestTrimKeepsOnlyUnacknowledged(t *testing.T) {
	l, err := Open(t.Context(), Options{DataDir: t.TempDir(), TrimInterval: 20 * time.Millisecond, AckWait: time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
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
	time.Sleep(100 * time.Millisecond)
	if n := stored(); n != 10 {
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
	deadline := time.Now().Add(5 * time.Second)
	for stored() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages stored after 6 of 10 were acked, want 4", stored())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
