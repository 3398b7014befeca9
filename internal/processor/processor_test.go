package processor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	log   *natsbus.Log
	store *sqlite.Store
	hub   *tail.Hub
}

func openEnv(t *testing.T, dir string) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "sy.db"), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	log, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: dir, AckWait: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &env{log: log, store: store, hub: &tail.Hub{}}
}

func (e *env) close() { e.log.Close(); e.store.Close() }

// run runs a processor until every appended message was acked and done
// (if given) reports the expected end state. Pending alone is not enough:
// a message nak'ed with a delay counts as neither pending nor unacked
// while it waits.
func (e *env) run(t *testing.T, done ...func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	p := processor.New(processor.Deps{EventLog: e.log, Store: e.store, Identity: identity.New(e.store, nil), Tail: e.hub, Metrics: metrics.New(prometheus.NewRegistry()), Log: quiet})
	p.MaxAttempts = 2
	wg.Go(func() { _ = p.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	testenv.Await(t, "every message acked and done", 10*time.Second, func() (bool, string) {
		b, err := e.log.Backlog(t.Context(), processor.Group)
		return err == nil && b.Messages == 0 && (len(done) == 0 || done[0]()), fmt.Sprintf("%d messages pending (%v)", b.Messages, err)
	})
}

func batch(t *testing.T) []byte {
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ev := func(id, typ string) *cdp.Event {
		return &cdp.Event{ID: id, SourceID: "web", Type: typ, ProfileID: "p1", SessionID: "s1", Timestamp: now, ReceivedAt: now,
			Properties: json.RawMessage(`{}`), Context: json.RawMessage(`{}`)}
	}
	b := &cdp.Batch{ID: "b1", SourceID: "web", ReceivedAt: now,
		Events:  []*cdp.Event{ev("e1", "page-view"), ev("e2", cdp.EventVisitStarted)},
		Session: &cdp.SessionUpdate{ID: "s1", ProfileID: "p1", Context: json.RawMessage(`{"lang":"en"}`)}}
	data, err := json.Marshal(cdp.Envelope{b})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRedeliveryChangesNothingTwice appends the same batch twice without a
// dedup id, as a crash between commit and ack would redeliver it.
func TestRedeliveryChangesNothingTwice(t *testing.T) {
	e := openEnv(t, t.TempDir())
	defer e.close()
	for range 2 {
		if _, err := e.log.Append(t.Context(), "web", "", batch(t)); err != nil {
			t.Fatal(err)
		}
	}
	// Both copies acked, not only nothing pending: a consumer just made
	// may count nothing pending before it has counted the stream.
	e.run(t, func() bool {
		b, err := e.log.Backlog(t.Context(), processor.Group)
		return err == nil && b.Acked == 2
	})
	events, _, err := e.store.FindEvents(t.Context(), cdp.EventFilter{})
	if err != nil || len(events) != 2 {
		t.Fatalf("stored %d events, %v; want 2", len(events), err)
	}
	p, err := e.store.FindProfileByID(t.Context(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stats.Events != 2 || p.Stats.Visits != 1 || p.Stats.CurrentVisitAt == nil {
		t.Fatalf("profile stats %+v, want 2 events and 1 visit", p.Stats)
	}
	s, err := e.store.FindSessionByID(t.Context(), "s1")
	if err != nil || s.Context["lang"] != "en" || s.ProfileID != "p1" {
		t.Fatalf("session %+v, %v", s, err)
	}
}

// TestAckedButUnprocessedSurvivesRestart appends while no processor runs,
// closes everything, reopens the data dir and processes.
func TestAckedButUnprocessedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	if _, err := e.log.Append(t.Context(), "web", "b1", batch(t)); err != nil {
		t.Fatal(err)
	}
	e.close()
	e = openEnv(t, dir)
	defer e.close()
	// A consumer just created may report nothing pending before it has
	// counted the stream, so the run waits for the event itself; a lost
	// message leaves it waiting until run's deadline fails the test.
	e.run(t, func() bool {
		_, err := e.store.FindEventByID(t.Context(), "e1")
		return err == nil
	})
}

// TestPoisonIsStoredNotRetriedForever feeds an undecodable message and a
// batch the store rejects on every attempt.
func TestPoisonIsStoredNotRetriedForever(t *testing.T) {
	e := openEnv(t, t.TempDir())
	defer e.close()
	if _, err := e.log.Append(t.Context(), "web", "", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	// An envelope of two requests, one of whose session update (a context
	// that is not an object) fails every time: the good one is stored.
	bad := []byte(`[{"id":"b2","source_id":"web","events":[{"id":"e9","source_id":"web","type":"x","properties":{},"context":{}}],"session":{"id":"s9","context":[1]}},` +
		`{"id":"b3","source_id":"web","events":[{"id":"e10","source_id":"web","type":"x","properties":{},"context":{}}]}]`)
	if _, err := e.log.Append(t.Context(), "web", "", bad); err != nil {
		t.Fatal(err)
	}
	sub, _ := e.hub.Subscribe(tail.Filter{Type: cdp.EventPoison}, 10)
	e.run(t, func() bool {
		events, _, err := e.store.FindEvents(t.Context(), cdp.EventFilter{Type: cdp.EventPoison})
		return err == nil && len(events) == 2
	})
	events, _, err := e.store.FindEvents(t.Context(), cdp.EventFilter{Type: cdp.EventPoison})
	if err != nil || len(events) != 2 {
		t.Fatalf("%d poison events, %v; want 2", len(events), err)
	}
	for _, ev := range events {
		if ev.Error == "" {
			t.Fatalf("poison event without error: %+v", ev)
		}
	}
	if _, err := e.store.FindEventByID(t.Context(), "e9"); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("an event of the failed batch was stored (err %v)", err)
	}
	if _, err := e.store.FindEventByID(t.Context(), "e10"); err != nil {
		t.Fatalf("the good batch sharing the envelope was not stored: %v", err)
	}
	if len(sub.C) != 2 {
		t.Fatalf("tail saw %d poison events, want 2", len(sub.C))
	}
}

// TestKnownOwnerForgottenOnErase: the processor remembers who owns an
// identifier between transactions, and forgets it when the profile is
// erased through the identity service: the person's next event makes a
// new profile instead of reviving the erased one.
func TestKnownOwnerForgottenOnErase(t *testing.T) {
	e := openEnv(t, t.TempDir())
	defer e.close()
	ids := identity.New(e.store, nil)
	p := processor.New(processor.Deps{EventLog: e.log, Store: e.store, Identity: ids, Tail: e.hub, Metrics: metrics.New(prometheus.NewRegistry()), Log: quiet})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	send := func(id string) *cdp.Event {
		t.Helper()
		now := time.Now().UTC()
		ev := &cdp.Event{ID: id, SourceID: "cdp", Type: "Order Completed", MessageID: id, Timestamp: now, ReceivedAt: now,
			Properties: json.RawMessage(`{}`), Context: json.RawMessage(`{}`), Identifiers: []cdp.Identifier{{Kind: cdp.IdentifierID, Value: "u1"}}}
		data, _ := json.Marshal(cdp.Envelope{{ID: "b-" + id, SourceID: "cdp", ReceivedAt: now, Events: []*cdp.Event{ev}}})
		if _, err := e.log.Append(t.Context(), "cdp", "", data); err != nil {
			t.Fatal(err)
		}
		var got *cdp.Event
		testenv.Eventually(t, "event "+id+" stored", 10*time.Second, func() bool {
			var err error
			got, err = e.store.FindEventByID(t.Context(), id)
			return err == nil
		})
		return got
	}
	first := send("e1")
	if again := send("e2"); again.ProfileID != first.ProfileID {
		t.Fatalf("second event of u1 on profile %s, want %s", again.ProfileID, first.ProfileID)
	}
	if err := ids.Erase(t.Context(), first.ProfileID); err != nil {
		t.Fatal(err)
	}
	after := send("e3")
	if after.ProfileID == "" || after.ProfileID == first.ProfileID {
		t.Fatalf("after the erase u1's event is on profile %q, want a new one", after.ProfileID)
	}
	if owner, err := e.store.FindProfileByIdentifier(t.Context(), cdp.Identifier{Kind: cdp.IdentifierID, Value: "u1"}); err != nil || owner.ID != after.ProfileID {
		t.Fatalf("u1 belongs to %+v, %v; want %s", owner, err, after.ProfileID)
	}
}
