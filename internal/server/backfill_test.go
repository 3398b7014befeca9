package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

type backfillJob struct {
	ID                                        string
	Status                                    string
	Selected, Processed, RunsCreated, Skipped int
	ETA                                       int
}

func (s *stack) backfill(t *testing.T, id string) backfillJob {
	t.Helper()
	r := s.do(t, "GET", "/admin/v1/backfills/"+id, "", "")
	wantStatus(t, r, 200)
	var j struct {
		backfillJob
		RunsCreated int `json:"runs_created"`
	}
	json.Unmarshal(r.body, &j)
	j.backfillJob.RunsCreated = j.RunsCreated
	return j.backfillJob
}

func (s *stack) startBackfill(t *testing.T, workflow, body string) backfillJob {
	t.Helper()
	r := s.do(t, "POST", "/admin/v1/workflows/"+workflow+"/backfills", "application/json", body)
	wantStatus(t, r, 201)
	var j backfillJob
	json.Unmarshal(r.body, &j)
	return j
}

// A workflow made after its events ran over them by a backfill: the dry
// run counts what the trigger and the filter select, the job creates one
// run each (and says it is done), a second job skips what already ran
// unless include_ran, and cancel stops a job.
func TestBackfill(t *testing.T) {
	t.Parallel()
	s := newStack(t, func(c *config.Config) { c.BackfillRate = 1000 })
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	var events []string
	for i := range 10 {
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":%d}}`, i))
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`,{"type":"view"}]}`), 200)
	s.events(t, "type=order", 10)
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows", "application/yaml",
		"id: late\ntrigger: { source: web, types: [order] }\nsteps: [ { id: s, stop: true } ]\n"), 201)

	r := s.do(t, "POST", "/admin/v1/workflows/late/backfills", "application/json",
		`{"since":"`+since+`","filter":"event.properties.n >= 5","dry_run":true}`)
	wantStatus(t, r, 200)
	var dry struct {
		Selected int
		Sample   []cdp.Event
	}
	json.Unmarshal(r.body, &dry)
	if dry.Selected != 5 || len(dry.Sample) != 5 || dry.Sample[0].Type != "order" {
		t.Fatalf("dry run %s", r.body)
	}

	job := s.startBackfill(t, "late", `{"since":"`+since+`","filter":"event.properties.n >= 5"}`)
	if job.Selected != 5 || job.Status != "running" {
		t.Fatalf("created %+v", job)
	}
	testenv.Eventually(t, "the backfill to finish", 10*time.Second, func() bool { return s.backfill(t, job.ID).Status == "done" })
	if j := s.backfill(t, job.ID); j.RunsCreated != 5 || j.Processed != 5 || j.Skipped != 0 || j.ETA != 0 {
		t.Fatalf("done %+v", j)
	}
	runs := s.waitRuns(t, cdp.RunFilter{WorkflowID: "late", Status: cdp.RunSucceeded}, 5)
	if runs[0].BackfillID != job.ID {
		t.Fatalf("run %+v", runs[0])
	}

	// Without include_ran, the dry run counts what a job would run: not
	// the 5 that ran.
	r = s.do(t, "POST", "/admin/v1/workflows/late/backfills", "application/json", `{"since":"`+since+`","dry_run":true}`)
	wantStatus(t, r, 200)
	if json.Unmarshal(r.body, &dry); dry.Selected != 5 {
		t.Fatalf("dry run after 5 ran: %s", r.body)
	}
	again := s.startBackfill(t, "late", `{"since":"`+since+`"}`)
	if again.Selected != 5 {
		t.Fatalf("second job selected %d, want the 5 that did not run", again.Selected)
	}
	testenv.Eventually(t, "the second backfill", 10*time.Second, func() bool { return s.backfill(t, again.ID).Status == "done" })
	if j := s.backfill(t, again.ID); j.RunsCreated != 5 || j.Skipped != 5 || j.Processed != 5 {
		t.Fatalf("second backfill %+v (the 5 that ran are skipped)", j)
	}
	all := s.startBackfill(t, "late", `{"since":"`+since+`","include_ran":true,"limit":3}`)
	testenv.Eventually(t, "the limited backfill", 10*time.Second, func() bool { return s.backfill(t, all.ID).Status == "done" })
	if j := s.backfill(t, all.ID); j.RunsCreated != 3 {
		t.Fatalf("limited backfill %+v", j)
	}

	for body, code := range map[string]int{`{}`: 400, `{"since":"soon"}`: 400, `{"since":"` + since + `","filter":"event."}`: 400, `nope`: 400} {
		wantStatus(t, s.do(t, "POST", "/admin/v1/workflows/late/backfills", "application/json", body), code)
	}
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows/nope/backfills", "application/json", `{"since":"`+since+`"}`), 404)
	wantStatus(t, s.do(t, "GET", "/admin/v1/backfills/nope", "", ""), 404)
	r = s.do(t, "GET", "/admin/v1/backfills", "", "")
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), all.ID) {
		t.Fatalf("list %s", r.body)
	}
}

// Cancel stops a running job: no run is created after it.
func TestBackfillCancel(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.BackfillRate = 2 })
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	var events []string
	for i := range 300 {
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":%d}}`, i))
	}
	wantStatus(t, s.track(t, `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`), 200)
	s.events(t, "type=order&limit=1000", 300)
	wantStatus(t, s.do(t, "POST", "/admin/v1/workflows", "application/yaml",
		"id: slow\ntrigger: { types: [order] }\nsteps: [ { id: s, stop: true } ]\n"), 201)
	job := s.startBackfill(t, "slow", `{"since":"`+since+`"}`)
	r := s.do(t, "POST", "/admin/v1/backfills/"+job.ID+"/cancel", "", "")
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), `"status":"cancelled"`) {
		t.Fatalf("cancel answered %s", r.body)
	}
	made := s.backfill(t, job.ID).RunsCreated
	testenv.Never(t, "the cancelled backfill made more runs", 2*time.Second, func() bool { return s.backfill(t, job.ID).RunsCreated != made })
	if j := s.backfill(t, job.ID); j.Status != "cancelled" || j.RunsCreated != made || made >= 300 {
		t.Fatalf("after cancel %+v (made %d at cancel)", j, made)
	}
}
