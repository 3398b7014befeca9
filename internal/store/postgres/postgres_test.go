package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/postgres"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// testURL is a fresh schema on the test PostgreSQL (or a skip).
func testURL(t *testing.T) string { return testenv.Postgres(t) }

func open(t *testing.T, url string, retention time.Duration) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Options{URL: url, Retention: retention, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	testURL(t) // skips without PostgreSQL
	storetest.Run(t, func(t *testing.T) cdp.Store { return open(t, testURL(t), 0) })
}

// Nodes starting together migrate once, one after the other.
func TestConcurrentStarts(t *testing.T) {
	url := testURL(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(t.Context(), postgres.Options{URL: url, Log: slog.New(slog.DiscardHandler)})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// Events land in day partitions created ahead; partitions past the
// retention are dropped whole, with their events.
func TestPartitionsAndRetention(t *testing.T) {
	url := testURL(t)
	s := open(t, url, 0)
	now := time.Now().UTC()
	for i, at := range []time.Time{now, now.Add(24 * time.Hour)} {
		e := &cdp.Event{ID: cdp.MinIDAt(at)[:13] + "-" + string(rune('a'+i)), SourceID: "web", MessageID: "m" + string(rune('a'+i)),
			Type: "view", Timestamp: at, ReceivedAt: at, Properties: []byte(`{}`), Context: []byte(`{}`)}
		if err := s.Update(t.Context(), func(tx cdp.Tx) error { _, err := tx.InsertEvent(t.Context(), e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(table string) int {
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	today := "events_" + now.Format("20060102")
	if count(today) != 1 || count("events_default") != 0 {
		t.Fatalf("today's partition holds %d, the default %d", count(today), count("events_default"))
	}
	// Three days later with a one-day retention, today's partition goes.
	later := postgres.Options{URL: url, Retention: 24 * time.Hour, Log: slog.New(slog.DiscardHandler)}
	s2, err := postgres.Open(t.Context(), later)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Maintain(t.Context(), now.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", today).Scan(&exists); err != nil || exists {
		t.Fatalf("today's partition still exists three days later: %v %v", exists, err)
	}
	if count("events") != 0 || count("event_messages") != 0 {
		t.Fatalf("%d events and %d message ids outlived the retention", count("events"), count("event_messages"))
	}
}

// A request captured before requests were stored packed still reads back
// whole, beside one stored packed.
func TestRawRequestsStoredBeforePacking(t *testing.T) {
	url := testURL(t)
	s := open(t, url, 0)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO raw_requests (id, received_at, method, path, remote_addr, header, body, body_size, truncated)
		VALUES ('old', 5, 'POST', '/v1/track', '127.0.0.1:1', 'Content-Type: application/json', '{"userId":"u1"}', 15, false)`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	fresh := &cdp.RawRequest{Method: "POST", Path: "/track", Header: "X-A: b", Body: []byte(`{"a":1}`), BodySize: 7, ReceivedAt: now}
	if err := s.Update(t.Context(), func(tx cdp.Tx) error {
		return tx.InsertRawRequests(t.Context(), map[string]*cdp.RawRequest{"new": fresh})
	}); err != nil {
		t.Fatal(err)
	}
	old, err := s.FindRawRequest(t.Context(), "old")
	if err != nil || old.Header != "Content-Type: application/json" || string(old.Body) != `{"userId":"u1"}` || old.Path != "/v1/track" {
		t.Fatalf("old request = %+v, %v", old, err)
	}
	got, err := s.FindRawRequest(t.Context(), "new")
	if err != nil || got.Header != fresh.Header || string(got.Body) != string(fresh.Body) || !got.ReceivedAt.Equal(now) {
		t.Fatalf("new request = %+v, %v", got, err)
	}
	var header *string
	if err := conn.QueryRow(t.Context(), `SELECT header FROM raw_requests WHERE id = 'new'`).Scan(&header); err != nil || header != nil {
		t.Fatalf("a new request's header is kept unpacked too: %v, %v", header, err)
	}
}
