package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

func wait(run, step, profile string, deadline *time.Time) *cdp.Wait {
	kind := cdp.WaitEvent
	if step == "" {
		kind = cdp.WaitExit
	}
	return &cdp.Wait{RunID: run, StepID: step, WorkflowID: "wf", Version: 3, Kind: kind, ProfileID: profile, After: t0,
		Deadline: deadline, Scope: json.RawMessage(`{"trigger":{"type":"cart"}}`), CreatedAt: t0}
}

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

// waitKeys are the run/step keys of ws, in order.
func waitKeys(ws []*cdp.Wait) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.RunID+"/"+w.StepID)
	}
	return out
}

// Waits are found by profile with what was stored, inserted once per run
// and step, and deleted by exactly one claimer; a run's end deletes them
// all; merges move them to the survivor and an erase deletes them.
func testWaits(t *testing.T, s cdp.Store) {
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		if any, err := tx.HasWaits(ctx); err != nil || any {
			return fmt.Errorf("an empty store has waits: %v %v", any, err)
		}
		for _, w := range []*cdp.Wait{wait("r1", "wait", "p1", at(time.Hour)), wait("r1", "", "p1", nil),
			wait("r2", "wait", "p2", at(time.Minute)), wait("r3", "wait[0]", "p3", nil)} {
			if err := tx.InsertWait(ctx, w); err != nil {
				return err
			}
		}
		again := wait("r1", "wait", "p9", nil) // the same run and step: ignored
		if err := tx.InsertWait(ctx, again); err != nil {
			return err
		}
		if any, err := tx.HasWaits(ctx); err != nil || !any {
			return fmt.Errorf("HasWaits with waits: %v %v", any, err)
		}
		return nil
	})
	var got []*cdp.Wait
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		var err error
		got, err = tx.ProfileWaits(ctx, []string{"p1", "p2", "nobody"})
		return err
	})
	slices.SortFunc(got, func(a, b *cdp.Wait) int { return cmpKey(a) - cmpKey(b) })
	want := []*cdp.Wait{wait("r1", "", "p1", nil), wait("r1", "wait", "p1", at(time.Hour)), wait("r2", "wait", "p2", at(time.Minute))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ProfileWaits (-want +got):\n%s", diff)
	}

	// A claim deletes the wait once.
	var first, second bool
	update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
		first, err = tx.DeleteWait(ctx, "r2", "wait")
		return err
	})
	update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
		second, err = tx.DeleteWait(ctx, "r2", "wait")
		return err
	})
	if !first || second {
		t.Fatalf("claims of one wait: %v then %v, want true then false", first, second)
	}

	// Merge moves p3's waits to p1; a run's end deletes its waits; an
	// erase deletes the profile's.
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, id := range []string{"p1", "p3"} {
			if err := seedProfile(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := tx.MergeProfile(ctx, "p3", "p1"); err != nil {
			return err
		}
		got, err := tx.ProfileWaits(ctx, []string{"p1", "p3"})
		if err != nil {
			return err
		}
		if keys := waitKeys(got); len(keys) != 3 || !slices.Contains(keys, "r3/wait[0]") || got[0].ProfileID != "p1" || got[2].ProfileID != "p1" {
			return fmt.Errorf("after the merge: %v", keys)
		}
		if err := tx.DeleteRunWaits(ctx, "r1"); err != nil {
			return err
		}
		if got, err = tx.ProfileWaits(ctx, []string{"p1"}); err != nil || len(got) != 1 || got[0].RunID != "r3" {
			return fmt.Errorf("after r1 ended: %v %v", waitKeys(got), err)
		}
		if err := tx.DeleteProfile(ctx, "p1"); err != nil {
			return err
		}
		if got, err = tx.ProfileWaits(ctx, []string{"p1"}); err != nil || len(got) != 0 {
			return fmt.Errorf("after the erase: %v %v", waitKeys(got), err)
		}
		return nil
	})
}

func cmpKey(w *cdp.Wait) int {
	return int(w.RunID[1])*100 + len(w.StepID)
}

// Due waits are claimed earliest first, up to the limit, only once their
// deadline passed; claimers at the same time never take the same wait.
func testClaimDueWaits(t *testing.T, s cdp.Store) {
	const n = 60
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for i := range n {
			if err := tx.InsertWait(ctx, wait(fmt.Sprintf("r%03d", i), "wait", "p", at(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return tx.InsertWait(ctx, wait("exit", "", "p", nil)) // no deadline: never due
	})
	claim := func(now time.Time, limit int) []*cdp.Wait {
		var ws []*cdp.Wait
		update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
			ws, err = tx.ClaimDueWaits(ctx, now, limit)
			return err
		})
		return ws
	}
	if got := waitKeys(claim(t0.Add(2*time.Second), 10)); !cmp.Equal(got, []string{"r000/wait", "r001/wait", "r002/wait"}) {
		t.Fatalf("due at +2s: %v", got)
	}
	if got := waitKeys(claim(t0.Add(time.Hour), 2)); !cmp.Equal(got, []string{"r003/wait", "r004/wait"}) {
		t.Fatalf("limited to 2: %v", got)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ws := claim(t0.Add(time.Hour), 7)
				if len(ws) == 0 {
					return
				}
				mu.Lock()
				for _, k := range waitKeys(ws) {
					seen[k]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n-5 {
		t.Fatalf("claimed %d waits, want %d", len(seen), n-5)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("wait %s claimed %d times", k, c)
		}
	}
	var left []*cdp.Wait
	update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
		left, err = tx.ProfileWaits(ctx, []string{"p"})
		return err
	})
	if keys := waitKeys(left); !cmp.Equal(keys, []string{"exit/"}) {
		t.Fatalf("left: %v", keys)
	}
}

// A frequency claim is taken once while it holds: forever without an
// end, until its end otherwise; of claims at the same moment, one wins.
// Merges keep the survivor's claims and move the others; an erase drops
// them.
func testFrequencies(t *testing.T, s cdp.Store) {
	claim := func(wf, pid string, until *time.Time, now time.Time) bool {
		var ok bool
		update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
			ok, err = tx.ClaimFrequency(ctx, wf, pid, until, now)
			return err
		})
		return ok
	}
	if !claim("once", "p1", nil, t0) || claim("once", "p1", nil, t0.Add(24*time.Hour)) {
		t.Fatal("once: a second claim was taken")
	}
	if !claim("once", "p2", nil, t0) {
		t.Fatal("once: another person's claim was refused")
	}
	if !claim("daily", "p1", at(time.Hour), t0) || claim("daily", "p1", at(2*time.Hour), t0.Add(30*time.Minute)) ||
		!claim("daily", "p1", at(2*time.Hour), t0.Add(time.Hour)) {
		t.Fatal("once_per: claims not taken by their end")
	}
	var wins sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wins.Go(func() {
			if claim("race", "p1", nil, t0) {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wins.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 claims at once won", won)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, id := range []string{"p1", "p3"} {
			if err := seedProfile(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if !claim("moved", "p3", nil, t0) || !claim("once", "p3", nil, t0) {
		t.Fatal("p3's claims")
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.MergeProfile(ctx, "p3", "p1") })
	if claim("moved", "p1", nil, t0) || claim("once", "p1", nil, t0) || !claim("moved", "p3", nil, t0) {
		t.Fatal("after the merge: the survivor does not hold the moved claim, or the merged-away id still does")
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.DeleteProfile(ctx, "p1") })
	if !claim("once", "p1", nil, t0) {
		t.Fatal("an erased person's claim survived")
	}
}

// The first run in line is the earliest-created of its workflow and key
// that has not ended; runs without a key, of another key or workflow do
// not count.
func testFirstInLine(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	mk := func(id, wf, key string) *cdp.Run {
		return &cdp.Run{ID: id, WorkflowID: wf, EventID: "ev-" + id, Status: cdp.RunPending, OrderKey: key, CreatedAt: t0, UpdatedAt: t0}
	}
	runs := []*cdp.Run{mk("a", "wf", "p1"), mk("x", "wf", ""), mk("b", "wf", "p1"), mk("c", "wf", "p2"), mk("d", "other", "p1"), mk("e", "wf", "p1")}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, r := range runs {
			if _, err := tx.InsertRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	first := func() string {
		id, err := s.FirstInLine(ctx, "wf", "p1")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, step := range []struct{ end, want string }{{"", "a"}, {"a", "b"}, {"b", "e"}, {"e", ""}} {
		if step.end != "" {
			update(t, s, func(ctx context.Context, tx cdp.Tx) error {
				r, err := tx.Run(ctx, step.end)
				if err != nil {
					return err
				}
				r.Status = []string{cdp.RunSucceeded, cdp.RunExited, cdp.RunFailed}[len(step.want)%3]
				return tx.UpdateRun(ctx, r)
			})
		}
		if got := first(); got != step.want {
			t.Fatalf("after %q ended: first in line %q, want %q", step.end, got, step.want)
		}
	}
	if r, _ := s.FindRunByID(ctx, "b"); r.OrderKey != "p1" {
		t.Fatalf("order key read back %q", r.OrderKey)
	}
}

// The latest debounced run of a workflow and key is the last set.
func testDebounces(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	if id, err := s.DebouncedRun(ctx, "wf", "p1"); err != nil || id != "" {
		t.Fatalf("none yet: %q %v", id, err)
	}
	update(t, s, func(ctx context.Context, tx cdp.Tx) error {
		for _, set := range [][3]string{{"wf", "p1", "r1"}, {"wf", "p1", "r2"}, {"wf", "p2", "r3"}, {"other", "p1", "r4"}} {
			if err := tx.SetDebounce(ctx, set[0], set[1], set[2]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range [][3]string{{"wf", "p1", "r2"}, {"wf", "p2", "r3"}, {"other", "p1", "r4"}} {
		if id, err := s.DebouncedRun(ctx, c[0], c[1]); err != nil || id != c[2] {
			t.Fatalf("%s/%s: %q %v, want %s", c[0], c[1], id, err, c[2])
		}
	}
}

// A line is held by one run at a time: its holder may claim it again,
// another run only after the holder released it; of claims at once, one
// wins.
func testLines(t *testing.T, s cdp.Store) {
	claim := func(run string) bool {
		var ok bool
		update(t, s, func(ctx context.Context, tx cdp.Tx) (err error) {
			ok, err = tx.ClaimLine(ctx, "wf", "p1", run)
			return err
		})
		return ok
	}
	release := func(run string) {
		update(t, s, func(ctx context.Context, tx cdp.Tx) error { return tx.ReleaseLine(ctx, "wf", "p1", run) })
	}
	if !claim("a") || !claim("a") || claim("b") {
		t.Fatal("a holds the line, again, and b may not")
	}
	release("b") // not the holder: nothing
	if claim("b") {
		t.Fatal("b claimed a line a still holds")
	}
	release("a")
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if claim(fmt.Sprintf("r%d", i)) {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 claims at once won", won)
	}
}
