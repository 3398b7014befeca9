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
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Logger: slog.New(slog.DiscardHandler)})
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
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, Logger: slog.New(slog.DiscardHandler)})
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
		Logger: slog.New(slog.DiscardHandler)})
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
