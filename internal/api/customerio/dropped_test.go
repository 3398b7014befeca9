package customerio

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Input dropped behind a 200 is logged, at most once per interval, with
// the reason and how many messages were dropped since the last line.
func TestDroppedInputIsLogged(t *testing.T) {
	var logs bytes.Buffer
	a := &API{log: slog.New(slog.NewTextHandler(&logs, nil)), dropLog: rate.Sometimes{Interval: time.Hour}}
	a.noteDropped("cdp", "userId or anonymousId is required", 1)
	a.noteDropped("cdp", "batch[1]: event is required", 2)
	a.noteDropped("cdp", "batch[0]: event is required", 1)
	out := logs.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, `reason="userId or anonymousId is required"`) ||
		!strings.Contains(out, "source=cdp") || !strings.Contains(out, "dropped=1") {
		t.Fatalf("log: %q", out)
	}
	if n := a.drops.Load(); n != 3 {
		t.Fatalf("%d dropped messages counted for the next line, want 3", n)
	}
}
