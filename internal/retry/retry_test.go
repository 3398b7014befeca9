package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Only unavailability is retried, with pauses that double up to Max, and
// not past Within.
func TestWhileUnavailable(t *testing.T) {
	b := Backoff{First: 10 * time.Millisecond, Max: 40 * time.Millisecond, Within: time.Second}
	down := cdp.Errorf(cdp.EUNAVAILABLE, "down")
	calls := 0
	var pauses []time.Duration
	err := WhileUnavailable(t.Context(), b, func() error {
		if calls++; calls < 5 {
			return down
		}
		return nil
	}, func(_ error, p time.Duration) { pauses = append(pauses, p) })
	if err != nil || calls != 5 || len(pauses) != 4 || pauses[0] != 10*time.Millisecond || pauses[3] != 40*time.Millisecond {
		t.Fatalf("err %v after %d calls, pauses %v", err, calls, pauses)
	}

	calls = 0
	broken := errors.New("broken")
	if err := WhileUnavailable(t.Context(), b, func() error { calls++; return broken }, nil); err != broken || calls != 1 {
		t.Fatalf("another error: %v after %d calls, want it at once", err, calls)
	}

	start := time.Now()
	b.Within = 200 * time.Millisecond
	if err := WhileUnavailable(t.Context(), b, func() error { return down }, nil); err != down {
		t.Fatalf("still down: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("gave up after %v, Within is 200ms", took)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls = 0
	if err := WhileUnavailable(ctx, b, func() error { calls++; return down }, nil); err != down || calls != 1 {
		t.Fatalf("cancelled: %v after %d calls", err, calls)
	}
}
