// Package testenv gives tests throwaway places on the external engines
// that CI provides (SWITCHYARD_TEST_POSTGRES_URL, SWITCHYARD_TEST_NATS_URL):
// a fresh PostgreSQL schema and a fresh NATS stream prefix, removed when
// the test ends. Without the variables the test is skipped with how to
// run it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func name() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "sy_test_" + hex.EncodeToString(b)
}

// Postgres returns SWITCHYARD_TEST_POSTGRES_URL pointed at a new schema.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SWITCHYARD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set SWITCHYARD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run against PostgreSQL")
	}
	schema := name()
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// NATS returns SWITCHYARD_TEST_NATS_URL and a new prefix for Switchyard's
// streams (nats_prefix); the streams are deleted when the test ends.
func NATS(t testing.TB) (natsURL, prefix string) {
	t.Helper()
	natsURL = os.Getenv("SWITCHYARD_TEST_NATS_URL")
	if natsURL == "" {
		t.Skip("set SWITCHYARD_TEST_NATS_URL=nats://127.0.0.1:4222 to run against an external NATS")
	}
	prefix = strings.ToUpper(name()) + "_"
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			for _, s := range []string{"EVENTS", "RUNS"} {
				_ = js.DeleteStream(context.Background(), prefix+s)
			}
			_ = js.DeleteKeyValue(context.Background(), prefix+"CONSOLE_SESSIONS")
		}
	})
	return natsURL, prefix
}

// Eventually waits until cond holds, checking every 10 ms, and fails the
// test naming what it waited for if it does not within the time given:
// the way to wait for something to happen, where a fixed sleep would
// guess how long it takes.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
	}
}

// Await is Eventually for a condition with something to show: cond
// reports whether it holds and what it saw, which the failure prints.
func Await(t testing.TB, what string, within time.Duration, cond func() (done bool, saw string)) {
	t.Helper()
	var saw string
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		var done bool
		if done, saw = cond(); done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last saw: %s", within, what, saw)
		}
	}
}

// Never watches for window that bad (what must not happen) stays false,
// failing as soon as it is true: the negative assertion after a quiet
// window, with the window and what it waits for said in one place.
func Never(t testing.TB, what string, window time.Duration, bad func() bool) {
	t.Helper()
	for deadline := time.Now().Add(window); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if bad() {
			t.Fatalf("%s (within %v)", what, window)
		}
	}
	if bad() {
		t.Fatalf("%s (within %v)", what, window)
	}
}

// Jaeger returns the OTLP/HTTP base URL and the query API base URL of a
// running Jaeger (SWITCHYARD_TEST_OTLP_URL, SWITCHYARD_TEST_JAEGER_URL;
// .ci/run builds Jaeger from its Go module and starts it), or skips.
func Jaeger(t testing.TB) (otlpURL, queryURL string) {
	t.Helper()
	otlpURL, queryURL = os.Getenv("SWITCHYARD_TEST_OTLP_URL"), os.Getenv("SWITCHYARD_TEST_JAEGER_URL")
	if otlpURL == "" || queryURL == "" {
		t.Skip("set SWITCHYARD_TEST_OTLP_URL=http://127.0.0.1:4318 and SWITCHYARD_TEST_JAEGER_URL=http://127.0.0.1:16686 (a running Jaeger; see .ci/run) to run against a trace collector")
	}
	return otlpURL, queryURL
}
