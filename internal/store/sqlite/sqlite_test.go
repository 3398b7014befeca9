package sqlite_test

import (
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"

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
