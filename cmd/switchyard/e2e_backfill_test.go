package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// TestKillNineMidBackfill kills the server while a backfill walks 200
// events, restarts it, and requires the job to finish with each event's
// run created exactly once: the walk's cursor is committed with the runs
// of each page, and a run is unique per workflow, event and backfill.
func TestKillNineMidBackfill(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, []byte("log: { level: warn }\nbackfill_rate: 40\nsources: [ { id: web, kind: track } ]\n"), 0o600)
	data := filepath.Join(dir, "data")
	p := start(t, data, "--config", cfg)
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	var events []string
	for i := range 200 {
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":%d}}`, i))
	}
	if code, err := post(p.url+"/track", `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`); err != nil || code != 200 {
		t.Fatalf("track: %d %v", code, err)
	}
	testenv.Eventually(t, "200 stored", 15*time.Second, func() bool {
		var list struct{ Events []any }
		json.Unmarshal(get(t, p.url+"/admin/v1/events?type=order&limit=1000", ""), &list)
		return len(list.Events) == 200
	})
	if code, err := post(p.url+"/admin/v1/workflows", `{"id":"late","trigger":{"types":["order"]},"steps":[{"id":"s","stop":true}]}`); err != nil || code != 201 {
		t.Fatalf("workflow: %d %v", code, err)
	}
	var job struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		Processed   int    `json:"processed"`
		RunsCreated int    `json:"runs_created"`
	}
	resp, err := http.Post(p.url+"/admin/v1/workflows/late/backfills", "application/json", strings.NewReader(`{"since":"`+since+`"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("backfill: %v %v", resp, err)
	}
	json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	read := func() {
		json.Unmarshal(get(t, p.url+"/admin/v1/backfills/"+job.ID, ""), &job)
	}
	testenv.Eventually(t, "the backfill to be under way", 15*time.Second, func() bool { read(); return job.Processed >= 40 })
	if job.Status != "running" {
		t.Fatalf("the backfill ended before the kill: %+v", job)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()

	p = start(t, data, "--config", cfg)
	testenv.Eventually(t, "the backfill to finish after the restart", 30*time.Second, func() bool { read(); return job.Status == "done" })
	var runs struct {
		Runs []struct {
			EventID    string `json:"event_id"`
			BackfillID string `json:"backfill_id"`
		}
	}
	json.Unmarshal(get(t, p.url+"/admin/v1/runs?workflow=late&limit=1000", ""), &runs)
	perEvent := map[string]int{}
	for _, r := range runs.Runs {
		if r.BackfillID == job.ID {
			perEvent[r.EventID]++
		}
	}
	if len(perEvent) != 200 || job.RunsCreated != 200 {
		t.Fatalf("%d events with a run, %d runs created; want 200 each", len(perEvent), job.RunsCreated)
	}
	for id, n := range perEvent {
		if n != 1 {
			t.Fatalf("event %s has %d runs of the backfill", id, n)
		}
	}
}

// switchyard backfill counts first, then follows the job to its end.
func TestBackfillCommand(t *testing.T) {
	a := openApp(t)
	addr, _ := serveApp(t, a, "")
	base := "http://" + addr
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	resp, err := http.Post(base+"/track", "application/json", strings.NewReader(`{"source":{"id":"web"},"events":[{"type":"order"},{"type":"order"}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", resp, err)
	}
	resp.Body.Close()
	// The workflow comes after its events are stored: they did not run it.
	waitFor(t, "the events stored", func() bool {
		events, _, _ := a.Store.FindEvents(t.Context(), cdp.EventFilter{Type: "order"})
		return len(events) == 2
	})
	resp, err = http.Post(base+"/admin/v1/workflows", "application/yaml", strings.NewReader("id: late\ntrigger: { types: [order] }\nsteps: [ { id: s, stop: true } ]\n"))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("workflow: %v %v", resp, err)
	}
	resp.Body.Close()
	env := func(string) string { return "" }
	waitFor(t, "the events", func() bool {
		var out strings.Builder
		_ = run(t.Context(), []string{"backfill", "--url", base, "--workflow", "late", "--since", since, "--dry-run"}, env, &out, &out)
		return strings.Contains(out.String(), "would run on 2 events")
	})
	var out, status strings.Builder
	if err := run(t.Context(), []string{"backfill", "--url", base, "--workflow", "late", "--since", since}, env, &out, &status); err != nil ||
		!strings.Contains(out.String(), "done: 2 runs created, 0 events skipped") || !strings.Contains(status.String(), "backfill: 2/2 (100%)") {
		t.Fatalf("backfill: %v\n%s\n%s", err, out.String(), status.String())
	}
	if err := run(t.Context(), []string{"backfill", "--url", base, "--workflow", "nope", "--since", since}, env, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "workflow nope not found") {
		t.Fatalf("an unknown workflow: %v", err)
	}
}
