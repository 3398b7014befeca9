package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/envelope"
)

// countingLog is the real event log, counting its appends.
type countingLog struct {
	cdp.EventLog
	appends atomic.Int64
}

func (l *countingLog) Append(ctx context.Context, sourceID, dedupID string, data []byte) (bool, error) {
	l.appends.Add(1)
	return l.EventLog.Append(ctx, sourceID, dedupID, data)
}

func openLog(t *testing.T) *natsbus.Log {
	t.Helper()
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func batchData(t *testing.T, source string) []byte {
	t.Helper()
	return envelope.Encode(&cdp.Batch{ID: cdp.NewID(), SourceID: source})
}

// Concurrent requests share appends (group commit), and every one of them
// is answered.
func TestCommitterGroups(t *testing.T) {
	log := &countingLog{EventLog: openLog(t)}
	c := newCommitter(log)
	defer c.close()
	const n = 300
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		source := "web"
		if i%2 == 1 {
			source = "cio"
		}
		wg.Go(func() {
			if _, err := c.append(t.Context(), source, "", batchData(t, source), func(appendResult) {}); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || log.appends.Load() >= n {
		t.Fatalf("%d of %d appends failed; %d event-log appends for %d requests", failed.Load(), n, log.appends.Load(), n)
	}
}

// A request with a dedup id appended on its own is dropped by the event
// log when it comes again: the second answer says duplicate.
func TestCommitterDedupID(t *testing.T) {
	c := newCommitter(openLog(t))
	defer c.close()
	data := batchData(t, "web")
	if dup, err := c.append(t.Context(), "web", "msg-1", data, func(appendResult) {}); dup || err != nil {
		t.Fatalf("first: duplicate %v, %v", dup, err)
	}
	if dup, err := c.append(t.Context(), "web", "msg-1", data, func(appendResult) {}); !dup || err != nil {
		t.Fatalf("repeat: duplicate %v, %v", dup, err)
	}
}

// A failing append is every waiting request's error, and each outcome
// hears it; after close, requests are refused as unavailable.
func TestCommitterFailingAppend(t *testing.T) {
	l := openLog(t)
	c := newCommitter(l)
	l.Close() // the event log is gone
	var outcome appendResult
	_, err := c.append(t.Context(), "web", "", batchData(t, "web"), func(r appendResult) { outcome = r })
	if err == nil || outcome.err == nil {
		t.Fatalf("append to a closed log: %v, outcome %+v", err, outcome)
	}
	c.close()
	if _, err := c.append(t.Context(), "web", "", batchData(t, "web"), func(appendResult) {}); cdp.ErrorCode(err) != cdp.EUNAVAILABLE {
		t.Fatalf("after close: %v", err)
	}
}
