package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Enqueue hands runs to the runners.
type Enqueue func(ctx context.Context, runs []*cdp.Run) error

// runFilter reads workflow, status, event, since, until, limit and cursor.
func runFilter(r *http.Request) (cdp.RunFilter, error) {
	q := r.URL.Query()
	f := cdp.RunFilter{WorkflowID: q.Get("workflow"), Status: q.Get("status"), EventID: q.Get("event"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, cdp.Errorf(cdp.EINVALID, "limit must be an integer from 1 to 1000, not %q", s)
		}
		f.Limit = n
	}
	var err error
	if f.Since, err = optionalTime("since", q.Get("since")); err != nil {
		return f, err
	}
	f.Until, err = optionalTime("until", q.Get("until"))
	return f, err
}

type runList struct {
	Runs       []*cdp.Run `json:"runs"`
	NextCursor string     `json:"next_cursor"`
}

// ListRuns serves GET /admin/v1/runs?workflow=&status=&since=&until=&limit=&cursor=.
func ListRuns(log *slog.Logger, store cdp.RunReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := runFilter(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		runs, next, err := store.FindRuns(r.Context(), f)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, runList{Runs: showRuns(runs), NextCursor: next})
	})
}

// GetRun serves GET /admin/v1/runs/{id}: the run with each step's inputs,
// attempts (requests and responses, credentials masked) and outputs.
func GetRun(log *slog.Logger, store cdp.RunReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := store.FindRunByID(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, ShowRun(run))
	})
}

// ShowRun is run as answers show it: each step's evaluated input with its
// credential-like fields masked (a workflow's Authorization header, say),
// and its output with those values masked too (a destination may echo
// them). The run record keeps both in clear, since a retry resends the
// same request and later steps read the output; the attempts were masked
// when they were recorded.
func ShowRun(run *cdp.Run) *cdp.Run {
	if run == nil {
		return nil
	}
	c := *run
	c.Steps = make([]cdp.StepRun, len(run.Steps))
	for i, st := range run.Steps {
		secrets := redact.JSONSecrets(st.Input)
		st.Input = redact.JSONFields(st.Input)
		st.Output = redact.JSONFields(redact.Bytes(st.Output, secrets...))
		c.Steps[i] = st
	}
	return &c
}

// showRuns is ShowRun for a list.
func showRuns(runs []*cdp.Run) []*cdp.Run {
	out := make([]*cdp.Run, len(runs))
	for i, r := range runs {
		out[i] = ShowRun(r)
	}
	return out
}

// RetryRun serves POST /admin/v1/runs/{id}/retry: a failed run resumes
// from its failed step, keeping its id and the steps already done.
func RetryRun(log *slog.Logger, store cdp.Store, enqueue Enqueue) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := workflow.RetryRun(r.Context(), store, r.PathValue("id"), time.Now())
		if err == nil {
			err = enqueue(r.Context(), []*cdp.Run{run})
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusAccepted, ShowRun(run))
	})
}

// bulkRetryLimit bounds one bulk retry; repeat it for more.
const bulkRetryLimit = 1000

// RetryRuns serves POST /admin/v1/runs/retry?workflow=&since=&until=: it
// reports how many failed runs the filter matches ({"matched": n}) and,
// only with confirm=true, retries them ({"matched": n, "retried": m}).
func RetryRuns(log *slog.Logger, store cdp.Store, enqueue Enqueue) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := runFilter(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		if f.Status != "" && f.Status != cdp.RunFailed {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "only failed runs can be retried"))
			return
		}
		f.Status, f.Limit, f.Cursor = cdp.RunFailed, bulkRetryLimit, ""
		runs, _, err := store.FindRuns(r.Context(), f)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		out := map[string]int{"matched": len(runs)}
		if r.URL.Query().Get("confirm") == "true" {
			retried := 0
			for _, run := range runs {
				if run, err = workflow.RetryRun(r.Context(), store, run.ID, time.Now()); err != nil {
					continue // retried meanwhile
				}
				if err := enqueue(r.Context(), []*cdp.Run{run}); err != nil {
					httpx.Error(w, r, log, err)
					return
				}
				retried++
			}
			out["retried"] = retried
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}
