package console

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

type runList struct {
	Runs             []*cdp.Run
	Next             string
	Workflow, Status string
	Workflows        []string
	Statuses         []string
}

// Runs serves GET /console/runs: filter by workflow and status; failed
// runs can be retried in bulk (the count is shown first).
func (c *Console) Runs() http.Handler {
	return c.page("runs", "Runs", func(r *http.Request) (any, error) {
		q := r.URL.Query()
		l := &runList{Workflow: q.Get("workflow"), Status: q.Get("status"),
			Statuses: []string{cdp.RunPending, cdp.RunRunning, cdp.RunWaiting, cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped, cdp.RunExited}}
		for _, w := range c.d.Workflows.List() {
			l.Workflows = append(l.Workflows, w.ID)
		}
		var err error
		l.Runs, l.Next, err = c.d.Store.FindRuns(r.Context(), cdp.RunFilter{WorkflowID: l.Workflow, Status: l.Status, Limit: 50, Cursor: q.Get("cursor")})
		return l, err
	})
}

// runPage is a run with, for each step held at a wait_for, what it waits
// for and until when.
type runPage struct {
	*cdp.Run
	Waiting map[string]waiting
}

type waiting struct {
	For      string
	Deadline *time.Time
}

// Run serves GET /console/runs/{id}: every step with its inputs, output
// and attempts (requests and responses as the run log keeps them), what a
// waiting step waits for and until when, and a Retry button for a failed
// run.
func (c *Console) Run() http.Handler {
	return c.page("run", "Run", func(r *http.Request) (any, error) {
		run, err := c.d.Store.FindRunByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		p := &runPage{Run: admin.ShowRun(run), Waiting: map[string]waiting{}}
		wf, err := c.d.Workflows.Workflow(r.Context(), run.WorkflowID, run.WorkflowVersion)
		for _, s := range run.Steps {
			if s.Status != cdp.RunWaiting || err != nil {
				continue
			}
			if what := wf.Waiting(s.ID); what != "" {
				var out struct{ Deadline *time.Time }
				_ = json.Unmarshal(s.Output, &out)
				p.Waiting[s.ID] = waiting{For: what, Deadline: out.Deadline}
			}
		}
		return p, nil
	})
}
