package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// backfillBody is the body of POST /admin/v1/workflows/{id}/backfills.
type backfillBody struct {
	Since       string `json:"since"`
	Until       string `json:"until"`
	Filter      string `json:"filter"`
	Limit       int    `json:"limit"`
	DryRun      bool   `json:"dry_run"`
	IncludeRan  bool   `json:"include_ran"`
	FromArchive bool   `json:"from_archive"`
}

// backfillView is a job with its estimated time to go, in seconds.
type backfillView struct {
	*cdp.Backfill
	ETA int `json:"eta"`
}

func view(bf *workflow.Backfills, job *cdp.Backfill) backfillView {
	return backfillView{job, int(bf.ETA(job) / time.Second)}
}

// CreateBackfill serves POST /admin/v1/workflows/{id}/backfills: a dry run
// answers {selected, sample}; otherwise the job is made (201) and walked
// in the background.
func CreateBackfill(log *slog.Logger, bf *workflow.Backfills) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body backfillBody
		data, err := httpx.ReadBody(w, r, maxBody)
		if err == nil {
			if err = json.Unmarshal(data, &body); err != nil {
				err = cdp.Errorf(cdp.EINVALID, "the body must be {since, until, filter, limit, dry_run, include_ran, from_archive}: %v", err)
			}
		}
		var req workflow.BackfillRequest
		if err == nil {
			req, err = backfillRequest(body)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		id := r.PathValue("id")
		if body.DryRun {
			n, sample, err := bf.DryRun(r.Context(), id, req)
			if err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, map[string]any{"selected": n, "sample": sample})
			return
		}
		job, err := bf.Start(r.Context(), id, req)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, view(bf, job))
	})
}

func backfillRequest(b backfillBody) (workflow.BackfillRequest, error) {
	req := workflow.BackfillRequest{Filter: b.Filter, Limit: b.Limit, IncludeRan: b.IncludeRan, FromArchive: b.FromArchive}
	if b.Since == "" {
		return req, cdp.Errorf(cdp.EINVALID, "since is required: the backfill starts with the events received then")
	}
	var err error
	if req.Since, err = ParseTime("since", b.Since); err != nil {
		return req, err
	}
	until, err := optionalTime("until", b.Until)
	if !until.IsZero() {
		req.Until = &until
	}
	return req, err
}

// ListBackfills serves GET /admin/v1/backfills?status=&limit=&cursor=.
func ListBackfills(log *slog.Logger, bf *workflow.Backfills) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		jobs, next, err := bf.Store.FindBackfills(r.Context(), cdp.BackfillFilter{Status: q.Get("status"), Cursor: q.Get("cursor")})
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		views := []backfillView{}
		for _, j := range jobs {
			views = append(views, view(bf, j))
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"backfills": views, "next_cursor": next})
	})
}

// GetBackfill serves GET /admin/v1/backfills/{id}.
func GetBackfill(log *slog.Logger, bf *workflow.Backfills) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job, err := bf.Find(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, view(bf, job))
	})
}

// CancelBackfill serves POST /admin/v1/backfills/{id}/cancel: the walk
// stops; the runs it made go on.
func CancelBackfill(log *slog.Logger, bf *workflow.Backfills) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job, err := bf.Cancel(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, view(bf, job))
	})
}
