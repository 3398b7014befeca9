package natsbus_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// An external server that goes away and comes back on the same address and
// store: while it is away appends fail (the edge answers 503 and clients
// retry) instead of hanging; once it is back the same log appends again and
// the same consumer receives what was appended before and after, without
// a restart of the process.
func TestExternalServerOutage(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "js")
	ns := startServer(t, store, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	l, err := natsbus.Open(t.Context(), natsbus.Options{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), AckWait: time.Second, Log: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go l.Consume(ctx, "processor", func(_ context.Context, batch []cdp.Delivery) { //nolint:errcheck
		for _, d := range batch {
			mu.Lock()
			seen[string(d.Data())] = true
			mu.Unlock()
			_ = d.Ack()
		}
	})
	appendOK := func(i int) {
		t.Helper()
		if _, err := l.Append(t.Context(), "web", "", fmt.Appendf(nil, "event-%d", i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	received := func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		got := 0
		for i := range n {
			if seen[fmt.Sprintf("event-%d", i)] {
				got++
			}
		}
		return got
	}
	waitFor := func(n int) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("the consumer to receive the %d acknowledged messages", n), 30*time.Second, func() bool { return received(n) >= n })
	}
	for i := range 10 {
		appendOK(i)
	}
	waitFor(10)

	ns.Shutdown()
	ns.WaitForShutdown()
	testenv.Eventually(t, "the client to see the server gone", 10*time.Second, func() bool { return l.Ping(t.Context()) != nil })
	start := time.Now()
	actx, acancel := context.WithTimeout(t.Context(), 30*time.Second)
	_, err = l.Append(actx, "web", "", []byte("while-away"))
	acancel()
	if err == nil {
		t.Fatal("an append while the server is away succeeded")
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("an append while the server is away took %v to fail", waited)
	}
	if l.Ping(t.Context()) == nil {
		t.Error("Ping reports a server that is away as reachable")
	}

	startServer(t, store, port)
	testenv.Eventually(t, "the log to reconnect", 30*time.Second, func() bool { return l.Ping(t.Context()) == nil })
	for i := 10; i < 20; i++ {
		appendOK(i)
	}
	waitFor(20)
}

// startServer runs a JetStream server on loopback with its store in dir;
// port -1 picks a free one.
func startServer(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return ns
}

// Nodes cut off from NATS keep counting each other (each would otherwise
// take the whole of a cluster-wide rate limit), and count each other
// again once it is back.
func TestMembersThroughOutage(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "js")
	ns := startServer(t, store, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	const interval = 50 * time.Millisecond
	var members []*natsbus.Members
	for _, name := range []string{"a", "b"} {
		l, err := natsbus.Open(t.Context(), natsbus.Options{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Log: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		m, err := l.Members("sy.nodes", name, interval)
		if err != nil {
			t.Fatal(err)
		}
		if name == "a" {
			defer m.Close() // b leaves at the end
		}
		members = append(members, m)
	}
	a := members[0]
	countIs := func(want int, within time.Duration) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("node a to count %d nodes", want), within, func() bool { return a.Count() == want })
	}
	countIs(2, 5*time.Second)
	ns.Shutdown()
	ns.WaitForShutdown()
	for end := time.Now().Add(10 * interval); time.Now().Before(end); time.Sleep(interval / 2) {
		if n := a.Count(); n != 2 {
			t.Fatalf("cut off from NATS, node a counts %d nodes", n)
		}
	}
	startServer(t, store, port)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(interval / 2) {
		if n := a.Count(); n != 2 {
			t.Fatalf("NATS back, node a counts %d nodes", n)
		}
	}
	members[1].Close()
	countIs(1, 5*time.Second)
}
