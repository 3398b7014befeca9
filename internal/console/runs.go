package console

import (
	"net/http"

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
			Statuses: []string{cdp.RunPending, cdp.RunRunning, cdp.RunWaiting, cdp.RunSucceeded, cdp.RunFailed, cdp.RunSkipped}}
		for _, w := range c.d.Workflows.List() {
			l.Workflows = append(l.Workflows, w.ID)
		}
		var err error
		l.Runs, l.Next, err = c.d.Store.FindRuns(r.Context(), cdp.RunFilter{WorkflowID: l.Workflow, Status: l.Status, Limit: 50, Cursor: q.Get("cursor")})
		return l, err
	})
}

// Run serves GET /console/runs/{id}: every step with its inputs, output
// and attempts (requests and responses as the run log keeps them), and a
// Retry button for a failed run.
func (c *Console) Run() http.Handler {
	return c.page("run", "Run", func(r *http.Request) (any, error) {
		run, err := c.d.Store.FindRunByID(r.Context(), r.PathValue("id"))
		return admin.ShowRun(run), err
	})
}
