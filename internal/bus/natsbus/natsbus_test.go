package natsbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyardhq/switchyard/internal/bus/bustest"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestEmbedded(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, key string) (cdp.EventLog, func()) {
		dir := filepath.Join(t.TempDir(), "..", "bus-"+key) // stable per test and key
		l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: dir, AckWait: time.Second, Log: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return l, func() { _ = l.Close() }
	})
}

// TestSibling runs the contract on a second stream sharing the first's
// embedded server and connection (the run queue beside the event log).
func TestSibling(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, key string) (cdp.EventLog, func()) {
		dir := filepath.Join(t.TempDir(), "..", "sibling-"+key)
		l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: dir, AckWait: time.Second, Log: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		runs, err := l.Sibling(t.Context(), "RUNS", "sy.runs")
		if err != nil {
			t.Fatal(err)
		}
		// The first stream keeps working beside it.
		if _, err := l.Append(t.Context(), "web", "", []byte("event")); err != nil {
			t.Fatal(err)
		}
		return runs, func() { _ = runs.Close(); _ = l.Close() }
	})
}

// TestExternal runs the contract against a real NATS server when
// SWITCHYARD_TEST_NATS_URL is set (CI sets it to nats://127.0.0.1:4222).
func TestExternal(t *testing.T) {
	url := os.Getenv("SWITCHYARD_TEST_NATS_URL")
	if url == "" {
		t.Skip("set SWITCHYARD_TEST_NATS_URL=nats://127.0.0.1:4222 to run the external NATS suite")
	}
	run := time.Now().UnixNano()
	t.Cleanup(func() { deleteTestStreams(t, url, fmt.Sprintf("T%d_", run)) })
	bustest.Run(t, func(t *testing.T, key string) (cdp.EventLog, func()) {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(fmt.Sprintf("T%d_%s_%s", run, t.Name(), key))
		l, err := natsbus.Open(t.Context(), natsbus.Options{URL: url, Stream: name, Subject: "t." + name,
			AckWait: time.Second, Log: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return l, func() { _ = l.Close() }
	})
}

// deleteTestStreams removes the streams a run created on the shared server.
func deleteTestStreams(t *testing.T, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	names := js.StreamNames(context.Background())
	for name := range names.Name() {
		if strings.HasPrefix(name, prefix) {
			_ = js.DeleteStream(context.Background(), name)
		}
	}
}

// Nodes count each other by heartbeats; a node that stops is not counted
// after three intervals.
func TestMembers(t *testing.T) {
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := l.Members("sy.nodes", "a", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := l.Members("sy.nodes", "b", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Each node hears the other on its own schedule: wait for the one asked
	// about rather than assuming both heard at once.
	wait := func(m interface{ Count() int }, name string, want int) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("node %s to count %d nodes", name, want), 5*time.Second, func() bool { return m.Count() == want })
	}
	wait(a, "a", 2)
	wait(b, "b", 2)
	if a.Share() != 0.5 || b.Share() != 0.5 {
		t.Fatalf("shares: a %v, b %v", a.Share(), b.Share())
	}
	if !a.Leader() || b.Leader() {
		t.Fatalf("leaders: a %v, b %v; want a alone (the least name)", a.Leader(), b.Leader())
	}
	b.Close()
	wait(a, "a", 1)
	if !a.Leader() {
		t.Fatal("a alone is not the leader")
	}
}

// TestSlowBatchNoRedelivery: messages prefetched behind a batch that takes
// longer than the ack wait are marked in progress, not delivered twice.
func TestSlowBatchNoRedelivery(t *testing.T) {
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), AckWait: time.Second, MaxBatch: 2, Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 10
	for i := range n {
		if _, err := l.Append(t.Context(), "web", "", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := map[string]int{}
	var redelivered []string
	err = l.Consume(ctx, "g", func(_ context.Context, batch []cdp.Delivery) {
		if len(seen) < n {
			time.Sleep(700 * time.Millisecond) // slow work: 5 batches take 3.5 ack waits
		}
		for _, d := range batch {
			seen[string(d.Data())]++
			if d.Attempt() > 1 {
				redelivered = append(redelivered, string(d.Data()))
			}
			_ = d.Ack()
		}
		if len(seen) == n {
			// A copy redelivered meanwhile would be queued behind the
			// originals by now: give it an ack wait to show up.
			time.AfterFunc(1500*time.Millisecond, cancel)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(redelivered) > 0 || len(seen) != n {
		t.Fatalf("delivered %v (redelivered %v), want each of %d messages once", seen, redelivered, n)
	}
	for m, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times, want once", m, c)
		}
	}
}
