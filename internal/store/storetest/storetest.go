// Package storetest is the contract every cdp.Store backend must pass. It
// checks the primitives the identity service and processor rely on:
// idempotent inserts, dedup by (source, message id), optimistic profile
// versions, identifier claims under concurrency, merges and erasure.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Opener returns a fresh, empty store closed by the test's cleanup.
type Opener func(t *testing.T) cdp.Store

// Run runs the contract suite.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, cdp.Store)
	}{
		{"EventDedup", testEventDedup},
		{"ManyRows", testManyRows},
		{"AnonymousEvents", testAnonymousEvents},
		{"FindEvents", testFindEvents},
		{"ProfileVersions", testProfileVersions},
		{"IdentifierClaims", testIdentifierClaims},
		{"ConcurrentClaimsOneOwner", testConcurrentClaims},
		{"Sessions", testSessions},
		{"Merge", testMerge},
		{"Erase", testErase},
		{"UpdateIsAtomic", testUpdateAtomic},
		{"Sources", testSources},
		{"RawRequests", testRawRequests},
		{"Runs", testRuns},
		{"WalkEvents", testWalkEvents},
		{"Workflows", testWorkflows},
		{"EventReadsBackAsStored", testEventReadsBack},
		{"EventsPerMinute", testEventsPerMinute},
		{"RunLeases", testRunLeases},
		{"RunsWaitingOn", testRunsWaitingOn},
		{"Alerts", testAlerts},
		{"Backfills", testBackfills},
		{"Waits", testWaits},
		{"ClaimDueWaits", testClaimDueWaits},
		{"Frequencies", testFrequencies},
		{"FirstInLine", testFirstInLine},
		{"Debounces", testDebounces},
		{"Lines", testLines},
		{"Archive", testArchive},
		{"RunCarriesEvent", testRunCarriesEvent},
		{"Audit", testAudit},
		{"Resources", testResources},
		{"Catalog", testCatalog},
	} {
		// Each subtest has a store of its own (a fresh file or schema).
		t.Run(tc.name, func(t *testing.T) { t.Parallel(); tc.fn(t, open(t)) })
	}
}

func update(t *testing.T, s cdp.Store, fn func(ctx context.Context, tx cdp.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx cdp.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := cdp.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func event(id, source, messageID, typ, profile, session string) *cdp.Event {
	return &cdp.Event{ID: id, SourceID: source, MessageID: messageID, Type: typ, ProfileID: profile, SessionID: session,
		Timestamp: t0, ReceivedAt: t0, Properties: json.RawMessage(`{"n":1}`), Context: json.RawMessage(`{}`)}
}

func testEventDedup(t *testing.T, s cdp.Store) {
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if has, err := tx.HasEvent(ctx, event("e1", "web", "m1", "view", "", "")); err != nil || has {
			t.Fatalf("HasEvent before insert = %v, %v", has, err)
		}
		return nil
	})
	for _, tc := range []struct {
		e    *cdp.Event
		want bool
	}{
		{event("e1", "web", "m1", "view", "", ""), true},
		{event("e1", "web", "", "view", "", ""), false},   // same id: a redelivery
		{event("e2", "web", "m1", "view", "", ""), false}, // same client message id
		{event("e3", "app", "m1", "view", "", ""), true},  // another source may reuse it
		{event("e4", "web", "", "view", "", ""), true},    // no message id: never deduplicated
		{event("e5", "web", "", "view", "", ""), true},
	} {
		update(t, s, func(ctx context.Context, tx cdp.Tx) error {
			got, err := tx.InsertEvent(ctx, tc.e)
			if err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("InsertEvent(%s, %s/%q) = %v, want %v", tc.e.ID, tc.e.SourceID, tc.e.MessageID, got, tc.want)
			}
			return nil
		})
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, probe := range []*cdp.Event{event("e1", "x", "", "", "", ""), event("zz", "web", "m1", "", "", "")} {
			if has, err := tx.HasEvent(ctx, probe); err != nil || !has {
				t.Fatalf("HasEvent(%s, %s/%s) = %v, %v; want true", probe.ID, probe.SourceID, probe.MessageID, has, err)
			}
		}
		if has, err := tx.HasEvent(ctx, event("zz", "other", "m1", "", "", "")); err != nil || has {
			t.Fatalf("HasEvent of an unknown event = %v, %v", has, err)
		}
		return nil
	})
	e, err := s.FindEventByID(t.Context(), "e1")
	if err != nil {
		t.Fatal(err)
	}
	if e.SourceID != "web" || e.MessageID != "m1" || string(e.Properties) != `{"n":1}` || !e.Timestamp.Equal(t0) {
		t.Fatalf("FindEventByID = %+v, want the first insert", e)
	}
	_, err = s.FindEventByID(t.Context(), "nope")
	wantCode(t, err, cdp.ENOTFOUND)
}

// The many-row methods answer as their one-row counterparts would, in
// order, with repeats inside one call treated as repeats.
func testManyRows(t *testing.T, s cdp.Store) {
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if _, err := tx.InsertEvent(ctx, event("old", "web", "m-old", "view", "", "")); err != nil {
			return err
		}
		for _, id := range []string{"p-live", "p-gone"} {
			if _, err := tx.InsertProfile(ctx, cdp.NewProfile(id, t0)); err != nil {
				return err
			}
		}
		if _, err := tx.InsertSession(ctx, &cdp.Session{ID: "s-1", ProfileID: "p-live", SourceID: "web", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		if _, err := tx.InsertSession(ctx, &cdp.Session{ID: "s-orphan", ProfileID: "p-erased", SourceID: "web", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return tx.MergeProfile(ctx, "p-gone", "p-live")
	})
	if pid, err := s.SessionProfile(t.Context(), "s-1"); err != nil || pid != "p-live" {
		t.Errorf("SessionProfile(s-1) = %q, %v", pid, err)
	}
	for _, id := range []string{"s-orphan", "s-none"} {
		_, err := s.SessionProfile(t.Context(), id)
		wantCode(t, err, cdp.ENOTFOUND)
	}
	events := []*cdp.Event{
		event("n1", "web", "m1", "view", "p-live", "s-1"),
		event("old", "web", "", "view", "", ""),     // stored before, by id
		event("n2", "web", "m-old", "view", "", ""), // stored before, by message id
		event("n3", "web", "m1", "view", "", ""),    // repeats n1's message id
		event("n1", "web", "", "view", "", ""),      // repeats n1's id
		event("n4", "app", "m1", "view", "", ""),    // another source's m1
		event("n5", "web", "", "view", "", ""),
		event("n6", "web", "", "view", "", ""),
	}
	want := []bool{true, false, false, false, false, true, true, true}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		got, err := tx.InsertEvents(ctx, events)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("InsertEvents = %v, want %v", got, want)
		}
		if got, err := tx.InsertEvents(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("InsertEvents(nil) = %v, %v", got, err)
		}
		sessions, err := tx.Sessions(ctx, []string{"s-1", "s-none"})
		if err != nil {
			return err
		}
		if len(sessions) != 1 || sessions["s-1"] == nil || sessions["s-1"].ProfileID != "p-live" || sessions["s-1"].Context == nil {
			t.Errorf("Sessions = %+v", sessions)
		}
		live, err := tx.ResolveProfileIDs(ctx, []string{"p-live", "p-gone", "p-none"})
		if err != nil {
			return err
		}
		if fmt.Sprint(live) != "map[p-gone:p-live p-live:p-live]" {
			t.Errorf("ResolveProfileIDs = %v", live)
		}
		return nil
	})
	if e, err := s.FindEventByID(t.Context(), "n1"); err != nil || e.MessageID != "m1" || e.ProfileID != "p-live" || e.SessionID != "s-1" {
		t.Fatalf("n1 = %+v, %v; want the first of its repeats", e, err)
	}
}

func testAnonymousEvents(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i, at := range []time.Duration{-40 * 24 * time.Hour, -time.Hour, 0} {
			e := event(fmt.Sprintf("anon-%d", i), "cio", "", "viewed", "", "")
			e.AnonymousID, e.ReceivedAt, e.UserAgent, e.Op = "a1", t0.Add(at), "ua/1", cdp.OpIdentify
			e.Identifiers = []cdp.Identifier{{Kind: cdp.IdentifierAnonymousID, Value: "a1"}}
			if _, err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		other := event("anon-other", "cio", "", "viewed", "", "")
		other.AnonymousID = "a2"
		if _, err := tx.InsertEvent(ctx, other); err != nil {
			return err
		}
		n, err := tx.AttachAnonymousEvents(ctx, "a1", "p1", t0.Add(-cdp.AnonymousWindow))
		if err != nil || n != 2 {
			t.Fatalf("AttachAnonymousEvents = %d, %v; want the 2 recent events", n, err)
		}
		return nil
	})
	e, err := s.FindEventByID(ctx, "anon-1")
	if err != nil || e.ProfileID != "p1" || e.AnonymousID != "a1" || e.UserAgent != "ua/1" || e.Op != cdp.OpIdentify ||
		len(e.Identifiers) != 1 || e.Identifiers[0].Value != "a1" {
		t.Fatalf("attached event = %+v, %v", e, err)
	}
	if e, _ := s.FindEventByID(ctx, "anon-0"); e.ProfileID != "" {
		t.Fatalf("an event older than the window was attached: %+v", e)
	}
	if e, _ := s.FindEventByID(ctx, "anon-other"); e.ProfileID != "" {
		t.Fatalf("another anonymous id's event was attached: %+v", e)
	}
}

func testFindEvents(t *testing.T, s cdp.Store) {
	// Ids are UUIDv7s of their time, as the server makes them.
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i := range 25 {
			src := []string{"web", "app"}[i%2]
			typ := []string{"view", "click", "buy"}[i%3]
			e := event(fmt.Sprintf("%s%012x", cdp.MinIDAt(t0.Add(time.Duration(i) * time.Second))[:24], i), src, "", typ, "p1", "s1")
			if i >= 20 {
				e.ProfileID, e.SessionID = "p2", "s2"
			}
			if _, err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	all, next, err := s.FindEvents(t.Context(), cdp.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 || next != "" {
		t.Fatalf("got %d events, next %q; want 25 and no cursor", len(all), next)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID <= all[i].ID {
			t.Fatalf("not newest first: %s before %s", all[i-1].ID, all[i].ID)
		}
	}
	// Page through with a cursor.
	var paged []string
	cursor := ""
	for {
		page, next, err := s.FindEvents(t.Context(), cdp.EventFilter{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(paged) != 25 || paged[0] != all[0].ID || paged[24] != all[24].ID {
		t.Fatalf("paging returned %d events, want the same 25 in order", len(paged))
	}
	for _, tc := range []struct {
		f    cdp.EventFilter
		want int
	}{
		{cdp.EventFilter{SourceID: "web"}, 13},
		{cdp.EventFilter{Type: "buy"}, 8},
		{cdp.EventFilter{SourceID: "app", Type: "view"}, 4},
		{cdp.EventFilter{ProfileID: "p2"}, 5},
		{cdp.EventFilter{SessionID: "s1"}, 20},
		{cdp.EventFilter{Since: t0.Add(20 * time.Second)}, 5},
	} {
		got, _, err := s.FindEvents(t.Context(), tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("FindEvents(%+v) returned %d, want %d", tc.f, len(got), tc.want)
		}
	}
}

// A walk lists oldest first from a time on, and its cursor resumes it.
func testWalkEvents(t *testing.T, s cdp.Store) {
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i := range 25 {
			e := event(fmt.Sprintf("%s%012x", cdp.MinIDAt(t0.Add(time.Duration(i) * time.Second))[:24], i), []string{"web", "app"}[i%2], "", "view", "", "")
			if _, err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	all, _, err := s.FindEvents(t.Context(), cdp.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var cursor string
	// Oldest first, with a cursor, from a time on: a walk that resumes.
	var walked []string
	for {
		page, next, err := s.FindEvents(t.Context(), cdp.EventFilter{Since: t0.Add(5 * time.Second), SourceID: "web", Limit: 3, Cursor: cursor, Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			walked = append(walked, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(walked) != 10 || walked[0] != all[18].ID || walked[9] != all[0].ID {
		t.Fatalf("the walk returned %d events (%v), want web's 10 from the 6th on, oldest first", len(walked), walked)
	}
}

func testUpdateAtomic(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			err := s.Update(ctx, func(tx cdp.Tx) error {
				if _, err := tx.InsertEvent(ctx, event(fmt.Sprintf("ev-%02d", i), "web", "", "view", "", "")); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
			if i%2 == 1 && !errors.Is(err, boom) || i%2 == 0 && err != nil {
				t.Errorf("Update %d returned %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range 40 {
		_, err := s.FindEventByID(ctx, fmt.Sprintf("ev-%02d", i))
		if i%2 == 0 && err != nil {
			t.Errorf("event %d of a committed Update is missing: %v", i, err)
		}
		if i%2 == 1 && cdp.ErrorCode(err) != cdp.ENOTFOUND {
			t.Errorf("event %d of a failed Update was stored (err %v)", i, err)
		}
	}
}

func testSources(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	src := &cdp.Source{ID: "web", Kind: cdp.SourceTrack, Enabled: true, Origin: cdp.OriginAPI, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateSource(ctx, src), cdp.ECONFLICT)
	src.Enabled = false
	if err := s.UpdateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateSource(ctx, &cdp.Source{ID: "nope"}), cdp.ENOTFOUND)
	all, err := s.FindSources(ctx)
	if err != nil || len(all) != 1 || all[0].Enabled || all[0].Kind != cdp.SourceTrack {
		t.Fatalf("FindSources = %+v, %v", all, err)
	}
	if err := s.DeleteSource(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteSource(ctx, "web"), cdp.ENOTFOUND)
}

func testRawRequests(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	raw := func(at time.Time, body []byte) *cdp.RawRequest {
		return &cdp.RawRequest{Method: "POST", Path: "/webhooks/x?a=1", Header: "Host: x\nContent-Type: application/json",
			Body: body, BodySize: int64(len(body)), ReceivedAt: at}
	}
	binary := []byte{0xff, 0x00, 0x01}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		reqs := map[string]*cdp.RawRequest{}
		for i, r := range []*cdp.RawRequest{raw(t0, []byte(`{"a":1}`)), raw(t0.Add(time.Hour), binary), raw(t0.Add(2*time.Hour), nil)} {
			reqs[fmt.Sprintf("req-%d", i)] = r
		}
		if err := tx.InsertRawRequests(ctx, reqs); err != nil {
			return err
		}
		for id := range reqs {
			e := event("ev-raw-"+id, "web", "", "view", "p-raw", "")
			e.RequestID = id
			if _, err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		// A second insert under an id keeps the first.
		return tx.InsertRawRequests(ctx, map[string]*cdp.RawRequest{"req-0": raw(t0, []byte("other"))})
	})
	got, err := s.FindRawRequest(ctx, "req-0")
	if err != nil || string(got.Body) != `{"a":1}` || got.Path != "/webhooks/x?a=1" || !got.ReceivedAt.Equal(t0) ||
		got.Header != "Host: x\nContent-Type: application/json" || got.Method != "POST" || got.BodySize != 7 {
		t.Fatalf("FindRawRequest = %+v, %v", got, err)
	}
	if got, err := s.FindRawRequest(ctx, "req-1"); err != nil || !bytes.Equal(got.Body, binary) {
		t.Fatalf("binary body = %+v, %v", got, err)
	}
	// The archive looks several up at once; an unknown id is absent.
	found, err := s.FindRawRequests(ctx, []string{"req-0", "req-1", "req-unknown"})
	if err != nil || len(found) != 2 || string(found["req-0"].Body) != `{"a":1}` || !bytes.Equal(found["req-1"].Body, binary) ||
		found["req-1"].Header != "Host: x\nContent-Type: application/json" || !found["req-1"].ReceivedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("FindRawRequests = %+v, %v", found, err)
	}
	if e, err := s.FindEventByID(ctx, "ev-raw-req-1"); err != nil || e.RequestID != "req-1" {
		t.Fatalf("event request id = %+v, %v", e, err)
	}
	var n int64
	update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
		n, err = tx.DeleteRawRequestsBefore(ctx, t0.Add(90*time.Minute), 1)
		return err
	})
	if n != 1 {
		t.Fatalf("deleted %d with limit 1", n)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
		n, err = tx.DeleteRawRequestsBefore(ctx, t0.Add(90*time.Minute), 100)
		return err
	})
	if n != 1 {
		t.Fatalf("deleted %d, want the one remaining before the cut", n)
	}
	for _, id := range []string{"req-0", "req-1"} {
		_, err := s.FindRawRequest(ctx, id)
		wantCode(t, err, cdp.ENOTFOUND)
	}
	// Erasing the profile erases the requests that carried its events.
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.DeleteProfile(ctx, "p-raw") })
	_, err = s.FindRawRequest(ctx, "req-2")
	wantCode(t, err, cdp.ENOTFOUND)
}

func testRuns(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	run := func(id, workflow, event string, at time.Time) *cdp.Run {
		return &cdp.Run{ID: id, WorkflowID: workflow, WorkflowVersion: 1, EventID: event, Status: cdp.RunPending,
			Steps: []cdp.StepRun{{ID: "notify", Status: cdp.RunPending}}, CreatedAt: at, UpdatedAt: at,
			TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i, r := range []*cdp.Run{run("r1", "welcome", "e1", t0), run("r2", "welcome", "e2", t0.Add(time.Minute)),
			run("r3", "other", "e1", t0.Add(2*time.Minute))} {
			if ok, err := tx.InsertRun(ctx, r); err != nil || !ok || r.Version != 1 {
				return fmt.Errorf("insert %d: %v %v %d", i, ok, err, r.Version)
			}
		}
		// A redelivered event cannot start its workflow's run twice.
		if ok, err := tx.InsertRun(ctx, run("r4", "welcome", "e1", t0)); err != nil || ok {
			return fmt.Errorf("second run of welcome for e1: %v %v", ok, err)
		}
		return nil
	})
	var stale *cdp.Run
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		r, err := tx.Run(ctx, "r1")
		if err != nil {
			return err
		}
		stale = &cdp.Run{}
		*stale = *r
		next := t0.Add(time.Hour)
		r.Status, r.NextAt, r.UpdatedAt = cdp.RunWaiting, &next, t0.Add(time.Second)
		r.Steps[0].Attempts = []cdp.Attempt{{N: 1, Outcome: "retryable", Error: "the destination answered 500",
			Request: cdp.Captured{Method: "POST", URL: "https://x/api"}, Response: &cdp.Captured{Status: 500, Body: "oops"}}}
		return tx.UpdateRun(ctx, r)
	})
	err := s.Update(ctx, func(tx cdp.Tx) error { return tx.UpdateRun(ctx, stale) })
	wantCode(t, err, cdp.ECONFLICT)
	got, err := s.FindRunByID(ctx, "r1")
	if err != nil || got.Status != cdp.RunWaiting || got.NextAt == nil || !got.NextAt.Equal(t0.Add(time.Hour)) ||
		len(got.Steps) != 1 || got.Steps[0].Attempts[0].Response.Status != 500 || got.Version != 2 || got.WorkflowVersion != 1 ||
		got.TraceParent != stale.TraceParent || got.TraceParent == "" {
		t.Fatalf("run after update: %+v, %v", got, err)
	}
	_, err = s.FindRunByID(ctx, "nope")
	wantCode(t, err, cdp.ENOTFOUND)

	list, cursor, err := s.FindRuns(ctx, cdp.RunFilter{WorkflowID: "welcome", Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != "r2" || cursor == "" {
		t.Fatalf("first page: %v %q %v", list, cursor, err)
	}
	list, cursor, err = s.FindRuns(ctx, cdp.RunFilter{WorkflowID: "welcome", Limit: 1, Cursor: cursor})
	if err != nil || len(list) != 1 || list[0].ID != "r1" || cursor != "" {
		t.Fatalf("second page: %v %q %v", list, cursor, err)
	}
	for f, want := range map[*cdp.RunFilter]int{
		{Status: cdp.RunWaiting}: 1, {Status: cdp.RunPending}: 2, {Since: t0.Add(time.Minute)}: 2,
		{Until: t0.Add(time.Minute)}: 1, {}: 3, {EventID: "e1"}: 2,
	} {
		if list, _, err := s.FindRuns(ctx, *f); err != nil || len(list) != want {
			t.Errorf("FindRuns(%+v) = %d runs, %v; want %d", *f, len(list), err, want)
		}
	}
	counts, err := s.CountRuns(ctx, cdp.RunPending, cdp.RunWaiting, cdp.RunFailed)
	if err != nil || counts[cdp.RunPending] != (cdp.RunCount{Runs: 2, Oldest: t0.Add(time.Minute)}) ||
		counts[cdp.RunWaiting] != (cdp.RunCount{Runs: 1, Oldest: t0}) || counts[cdp.RunFailed] != (cdp.RunCount{}) {
		t.Errorf("CountRuns = %+v, %v", counts, err)
	}
}
