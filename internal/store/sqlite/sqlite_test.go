package sqlite_test

import (
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cdp.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// A data dir written before a migration opens with its events intact.
func TestMigratesOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sy.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The events table as the first release created it (user_version 0).
	if _, err := db.Exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source_id TEXT NOT NULL,
		message_id TEXT, type TEXT NOT NULL, profile_id TEXT, session_id TEXT, anonymous_id TEXT, timestamp INTEGER NOT NULL,
		received_at INTEGER NOT NULL, body BLOB NOT NULL);
		INSERT INTO events (id, source_id, type, timestamp, received_at, body) VALUES ('old', 'web', 'view', 1, 1, '{"p":{},"c":{}}')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 { // and reopening does not migrate twice
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if e, err := s.FindEventByID(t.Context(), "old"); err != nil || e.Type != "view" || e.RequestID != "" {
			t.Fatalf("old event = %+v, %v", e, err)
		}
		s.Close()
	}
}

// Maintain deletes the events past the retention, oldest first, over
// several transactions, and keeps the rest; a deleted event's message id
// is free again.
func TestRetention(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Retention: 48 * time.Hour,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	event := func(i int, at time.Time) *cdp.Event {
		return &cdp.Event{ID: fmt.Sprintf("%s-%05d", cdp.MinIDAt(at)[:13], i), SourceID: "web", MessageID: fmt.Sprintf("m%d", i),
			Type: "view", Timestamp: at, ReceivedAt: at, Properties: []byte(`{}`), Context: []byte(`{}`)}
	}
	var events []*cdp.Event
	for i := range 4500 { // old: more than two of Maintain's batches
		events = append(events, event(i, now.Add(-72*time.Hour)))
	}
	for i := 4500; i < 4600; i++ {
		events = append(events, event(i, now.Add(-time.Hour)))
	}
	insert := func(events []*cdp.Event) []bool {
		var stored []bool
		if err := s.Update(t.Context(), func(tx cdp.Tx) (err error) { stored, err = tx.InsertEvents(t.Context(), events); return err }); err != nil {
			t.Fatal(err)
		}
		return stored
	}
	insert(events)
	if err := s.Maintain(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	left, _, err := s.FindEvents(t.Context(), cdp.EventFilter{Limit: 1000})
	if err != nil || len(left) != 100 {
		t.Fatalf("%d events left, %v; want the 100 recent ones", len(left), err)
	}
	for _, e := range left {
		if e.ReceivedAt.Before(now.Add(-48 * time.Hour)) {
			t.Fatalf("event %s of %v outlived the retention", e.ID, e.ReceivedAt)
		}
	}
	again := event(0, now)
	again.ID += "-again"
	if stored := insert([]*cdp.Event{again}); !stored[0] {
		t.Fatal("the message id of a deleted event is still taken")
	}
}

// TestCompactsStoredData: a store written before compact storage (ids as
// text, bodies as JSON, requests with header and body columns) is moved
// into it when opened, and reads back exactly as before.
func TestCompactsStoredData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sy.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Put the store back at version 5, with version 5's request table and rows.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	const (
		eventID   = "01a235f8-1272-7064-8a0b-1d6b14782c27"
		profileID = "01a235f8-130e-7002-8743-636f310d7958"
		requestID = "01a235f8-1200-7000-8000-000000000001"
	)
	if _, err := db.Exec(`DROP INDEX runs_waiting_on;
		ALTER TABLE runs DROP COLUMN waiting_on;
		DROP TABLE raw_requests;
		CREATE TABLE raw_requests (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
			remote_addr TEXT NOT NULL, header TEXT NOT NULL, body BLOB, body_size INTEGER NOT NULL, truncated INTEGER NOT NULL);
		INSERT INTO raw_requests VALUES (?1, 5, 'POST', '/v1/track', '127.0.0.1:1', 'Content-Type: application/json', '{"userId":"u1"}', 15, 0);
		INSERT INTO events (id, source_id, message_id, type, profile_id, timestamp, received_at, request_id, body)
			VALUES (?2, 'cdp', 'm1', 'Order Completed', ?3, 5, 5, ?1, '{"p":{"total":1},"c":{},"u":"u1"}'),
			       ('legacy-id', 'web', NULL, 'view', 'my-profile', 6, 6, NULL, '{"p":{},"c":{}}');
		PRAGMA user_version = 5`, requestID, eventID, profileID); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = sqlite.Open(t.Context(), sqlite.Options{Path: path, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.FindEventByID(t.Context(), eventID)
	if err != nil || e.ProfileID != profileID || e.RequestID != requestID || string(e.Properties) != `{"total":1}` || e.UserID != "u1" {
		t.Fatalf("migrated event = %+v, %v", e, err)
	}
	if list, _, err := s.FindEvents(t.Context(), cdp.EventFilter{ProfileID: profileID}); err != nil || len(list) != 1 {
		t.Fatalf("events of the profile: %d, %v", len(list), err)
	}
	if e, err := s.FindEventByID(t.Context(), "legacy-id"); err != nil || e.ProfileID != "my-profile" {
		t.Fatalf("an event with a non-UUID id = %+v, %v", e, err)
	}
	r, err := s.FindRawRequest(t.Context(), requestID)
	if err != nil || r.Header != "Content-Type: application/json" || string(r.Body) != `{"userId":"u1"}` || r.Path != "/v1/track" || r.BodySize != 15 {
		t.Fatalf("migrated request = %+v, %v", r, err)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kinds string
	if err := db.QueryRow(`SELECT typeof(id) || typeof(profile_id) || typeof(request_id) FROM events WHERE message_id = 'm1'`).Scan(&kinds); err != nil || kinds != "blobblobblob" {
		t.Fatalf("stored id kinds %q, %v; want 16-byte blobs", kinds, err)
	}
}
