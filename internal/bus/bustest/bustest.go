// Package bustest is the contract every cdp.EventLog backend must pass:
// durable appends, deduplication by id, at-least-once delivery shared by
// the consumers of a group, redelivery of what was not acked.
package bustest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Opener opens the log named key. Opening the same key again within one
// test (after closing it) must reach the same durable log. The log's ack
// wait must be at most one second so that redelivery tests finish quickly.
type Opener func(t *testing.T, key string) (log cdp.EventLog, close func())

// Run runs the contract suite.
func Run(t *testing.T, open Opener) {
	t.Run("AppendConsume", func(t *testing.T) { testAppendConsume(t, open) })
	t.Run("Dedup", func(t *testing.T) { testDedup(t, open) })
	t.Run("NakRedelivers", func(t *testing.T) { testNak(t, open) })
	t.Run("UnackedRedelivered", func(t *testing.T) { testUnacked(t, open) })
	t.Run("GroupSharesWork", func(t *testing.T) { testGroup(t, open) })
	t.Run("SurvivesReopen", func(t *testing.T) { testReopen(t, open) })
}

// collect consumes until want messages were acked or the deadline passes.
func collect(t *testing.T, log cdp.EventLog, group string, want int, ack func(d cdp.Delivery) bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- log.Consume(ctx, group, func(_ context.Context, batch []cdp.Delivery) {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range batch {
				if ack != nil && !ack(d) {
					continue
				}
				if err := d.Ack(); err != nil {
					t.Errorf("Ack: %v", err)
				}
				got = append(got, string(d.Data()))
			}
			if len(got) >= want {
				cancel()
			}
		})
	}()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(got)
	return got
}

func appendN(t *testing.T, log cdp.EventLog, n int, prefix string) []string {
	t.Helper()
	var want []string
	for i := range n {
		data := fmt.Sprintf("%s-%03d", prefix, i)
		src := []string{"web", "app"}[i%2]
		dup, err := log.Append(t.Context(), src, "", []byte(data))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if dup {
			t.Fatalf("Append(%s) reported a duplicate without a dedup id", data)
		}
		want = append(want, data)
	}
	sort.Strings(want)
	return want
}

func testAppendConsume(t *testing.T, open Opener) {
	log, closeLog := open(t, "main")
	defer closeLog()
	want := appendN(t, log, 50, "m")
	got := collect(t, log, "g", len(want), nil)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("consumed %v, want %v", got, want)
	}
	// Acks travel asynchronously: the backlog must empty soon, not at once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := log.Backlog(t.Context(), "g")
		if err != nil {
			t.Fatalf("Backlog: %v", err)
		}
		// This process acked them all: it counts them and their bytes.
		if b.Messages == 0 && b.Acked == 50 && b.AckedHere == 50 && b.AckedHereBytes == uint64(50*len(want[0])) && b.Oldest.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Backlog=%+v five seconds after all 50 messages were acked, want 0 messages and 50 acked, here too (%d bytes)", b, 50*len(want[0]))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What a group has not consumed yet is its backlog, in messages and
	// bytes, and since when: the oldest of them was appended after the
	// first 50 were consumed (a second's leeway for the server's clock).
	appended := time.Now()
	appendN(t, log, 10, "n")
	deadline = time.Now().Add(5 * time.Second)
	for {
		b, err := log.Backlog(t.Context(), "g")
		if err != nil {
			t.Fatalf("Backlog: %v", err)
		}
		if b.Messages == 10 && b.Bytes >= uint64(10*len("n-000")) && b.Oldest.After(appended.Add(-time.Second)) && !b.Oldest.After(time.Now().Add(time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Backlog=%+v after 10 unconsumed appends, want 10 messages of at least 50 bytes", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := log.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testDedup(t *testing.T, open Opener) {
	log, closeLog := open(t, "main")
	defer closeLog()
	for i, want := range []bool{false, true, true} {
		dup, err := log.Append(t.Context(), "web", "msg-1", []byte("first"))
		if err != nil {
			t.Fatal(err)
		}
		if dup != want {
			t.Fatalf("append #%d duplicate=%v, want %v", i, dup, want)
		}
	}
	if _, err := log.Append(t.Context(), "web", "msg-2", []byte("second")); err != nil {
		t.Fatal(err)
	}
	got := collect(t, log, "g", 2, nil)
	if fmt.Sprint(got) != "[first second]" {
		t.Fatalf("consumed %v, want [first second]", got)
	}
}

func testNak(t *testing.T, open Opener) {
	log, closeLog := open(t, "main")
	defer closeLog()
	appendN(t, log, 1, "x")
	var attempts []int
	got := collect(t, log, "g", 1, func(d cdp.Delivery) bool {
		attempts = append(attempts, d.Attempt())
		if d.Attempt() == 1 {
			if err := d.Nak(0); err != nil {
				t.Errorf("Nak: %v", err)
			}
			return false
		}
		return true
	})
	if fmt.Sprint(got) != "[x-000]" || fmt.Sprint(attempts) != "[1 2]" {
		t.Fatalf("got %v after attempts %v, want [x-000] after [1 2]", got, attempts)
	}
}

func testUnacked(t *testing.T, open Opener) {
	log, closeLog := open(t, "main")
	defer closeLog()
	appendN(t, log, 1, "x")
	// The first consumer takes the message and "crashes" without acking.
	ctx, cancel := context.WithCancel(t.Context())
	_ = log.Consume(ctx, "g", func(context.Context, []cdp.Delivery) { cancel() })
	got := collect(t, log, "g", 1, nil)
	if fmt.Sprint(got) != "[x-000]" {
		t.Fatalf("got %v, want the unacked message again", got)
	}
}

func testGroup(t *testing.T, open Opener) {
	log, closeLog := open(t, "main")
	defer closeLog()
	want := appendN(t, log, 200, "g")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_ = log.Consume(ctx, "shared", func(_ context.Context, batch []cdp.Delivery) {
				mu.Lock()
				defer mu.Unlock()
				for _, d := range batch {
					_ = d.Ack()
					seen[string(d.Data())]++
				}
				if len(seen) == len(want) {
					cancel()
				}
			})
		})
	}
	wg.Wait()
	if len(seen) != len(want) {
		t.Fatalf("consumed %d distinct messages, want %d", len(seen), len(want))
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("message %s delivered %d times to acking consumers, want 1", m, n)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	log, closeLog := open(t, "durable")
	want := appendN(t, log, 20, "r")
	closeLog()
	log, closeLog = open(t, "durable")
	defer closeLog()
	got := collect(t, log, "g", len(want), nil)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen consumed %v, want %v", got, want)
	}
}
