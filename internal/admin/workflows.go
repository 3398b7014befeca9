package admin

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// workflowView is a workflow as the management API shows it: its
// definition, its effective enabled flag and where it comes from.
type workflowView struct {
	*workflow.Workflow
	Enabled   bool      `json:"enabled"`
	Version   int       `json:"version"`
	Origin    string    `json:"origin"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func viewWorkflow(c *workflow.Compiled) workflowView {
	return workflowView{Workflow: c.Workflow, Enabled: c.Enabled == nil || *c.Enabled, Version: c.Version,
		Origin: c.Origin, UpdatedAt: c.UpdatedAt}
}

// writeWorkflow answers with c and its version as the ETag (for If-Match).
func writeWorkflow(w http.ResponseWriter, status int, c *workflow.Compiled) {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(c.Version)))
	httpx.WriteJSON(w, status, viewWorkflow(c))
}

// decodeWorkflow reads a workflow in JSON or YAML (the configuration
// file's shape; JSON is YAML), refusing unknown fields.
func decodeWorkflow(w http.ResponseWriter, r *http.Request) (*workflow.Workflow, error) {
	body, err := httpx.ReadBody(w, r, maxBody)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, cdp.Errorf(cdp.EINVALID, "the body must be a workflow (JSON or YAML)")
	}
	dec := yaml.NewDecoder(bytes.NewReader(body))
	dec.KnownFields(true)
	wf := &workflow.Workflow{}
	if err := dec.Decode(wf); err != nil && !errors.Is(err, io.EOF) {
		return nil, cdp.Errorf(cdp.EINVALID, "invalid workflow: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return wf, nil
}

type workflowList struct {
	Workflows []workflowView `json:"workflows"`
}

// ListWorkflows serves GET /admin/v1/workflows.
func ListWorkflows(reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := workflowList{Workflows: []workflowView{}}
		for _, c := range reg.List() {
			out.Workflows = append(out.Workflows, viewWorkflow(c))
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

// GetWorkflow serves GET /admin/v1/workflows/{id}[?version=N].
func GetWorkflow(log *slog.Logger, reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		c, ok := reg.Get(id)
		if s := r.URL.Query().Get("version"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "version must be a positive integer, not %q", s))
				return
			}
			if c, err = reg.Workflow(r.Context(), id, n); err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			ok = c.Version == n
		}
		if !ok {
			httpx.Error(w, r, log, cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", id))
			return
		}
		writeWorkflow(w, http.StatusOK, c)
	})
}

// CreateWorkflow serves POST /admin/v1/workflows.
func CreateWorkflow(log *slog.Logger, reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wf, err := decodeWorkflow(w, r)
		var c *workflow.Compiled
		if err == nil {
			c, err = reg.Create(r.Context(), wf)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/admin/v1/workflows/"+c.ID)
		writeWorkflow(w, http.StatusCreated, c)
	})
}

// UpdateWorkflow serves PUT /admin/v1/workflows/{id}: the body becomes
// the next version. With If-Match: "<version>" the change is refused (409)
// if the workflow moved on since that version was read.
func UpdateWorkflow(log *slog.Logger, reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wf, err := decodeWorkflow(w, r)
		ifVersion := 0
		if err == nil {
			wf.ID = cmp.Or(wf.ID, r.PathValue("id"))
			ifVersion, err = ifMatch(r)
		}
		var c *workflow.Compiled
		switch {
		case err != nil:
		case wf.ID != r.PathValue("id"):
			err = cdp.Errorf(cdp.EINVALID, "the body's id %q differs from the path's %q", wf.ID, r.PathValue("id"))
		default:
			c, err = reg.Update(r.Context(), wf, ifVersion)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		writeWorkflow(w, http.StatusOK, c)
	})
}

// ifMatch reads If-Match: "<version>" (0 when absent).
func ifMatch(r *http.Request) (int, error) {
	s := r.Header.Get("If-Match")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(s, "W/"), `"`))
	if err != nil || n < 1 {
		return 0, cdp.Errorf(cdp.EINVALID, "If-Match must be a workflow version as its ETag gives it, not %s", s)
	}
	return n, nil
}

// DeleteWorkflow serves DELETE /admin/v1/workflows/{id}.
func DeleteWorkflow(log *slog.Logger, reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := reg.Delete(r.Context(), r.PathValue("id")); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type versionList struct {
	Versions []*cdp.WorkflowVersion `json:"versions"`
}

// WorkflowVersions serves GET /admin/v1/workflows/{id}/versions.
func WorkflowVersions(log *slog.Logger, reg *workflow.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		versions, err := reg.Versions(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, versionList{Versions: versions})
	})
}

// DryRunWorkflow serves POST /admin/v1/workflows/dry-run?event=ID: the
// body is a workflow (saved or not); the answer is what it would do with
// the stored event, calling nothing.
func DryRunWorkflow(log *slog.Logger, reg *workflow.Registry, store cdp.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wf, err := decodeWorkflow(w, r)
		var d *workflow.DryRun
		switch {
		case err != nil:
		case r.URL.Query().Get("event") == "":
			err = cdp.Errorf(cdp.EINVALID, "name the stored event to try the workflow on: ?event=<event id>")
		default:
			d, err = reg.DryRun(r.Context(), store, wf, r.URL.Query().Get("event"), time.Now())
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, d)
	})
}
