package console

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Workflows serves GET /console/workflows.
func (c *Console) Workflows() http.Handler {
	return c.page("workflows", "Workflows", func(r *http.Request) (any, error) {
		return c.d.Workflows.List(), nil
	})
}

type workflowPage struct {
	Workflow *workflow.Compiled
	New      bool
	Editable bool
	YAML     string
	Saved    string
	Versions []*cdp.WorkflowVersion
	Events   []*cdp.Event // recent events to try a dry run on
	Pick     string       // the first of them the trigger selects
	// BackfillSince is the Backfill form's default: 24 hours ago.
	BackfillSince string
	// Waiting counts the runs held at each wait_for step.
	Waiting []cdp.WaitCount
}

// asWritten renders a workflow as YAML the way people write it: an
// expression holding a CEL string literal ('POST') is double-quoted,
// "'POST'", rather than single-quoted with every inner quote doubled,
// which no one writes and few can read.
func asWritten(w any) (string, error) {
	var doc yaml.Node
	if err := doc.Encode(w); err != nil {
		return "", err
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "'") && !strings.Contains(n.Value, "\n") {
			n.Style = yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	return b.String(), nil
}

// newWorkflow is the editor's starting text for a new workflow.
const newWorkflow = `id: my-workflow
trigger:
  types: [purchase]
  # if: "event.properties.total > 100.0"
steps:
  - id: notify
    action: http.call
    with:
      url: "'https://example.com/hook'"
      body: "event.properties"
`

// Workflow serves GET /console/workflows/{id} (and /console/workflows/new):
// the definition as YAML, its versions, an editor for workflows created
// through the API (problems shown inline), and a dry run against a stored
// event.
func (c *Console) Workflow() http.Handler {
	return c.page("workflow", "Workflow", func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		p := &workflowPage{Saved: r.URL.Query().Get("saved")}
		var err error
		if p.Events, _, err = c.d.Store.FindEvents(r.Context(), cdp.EventFilter{Limit: 20}); err != nil {
			return nil, err
		}
		if id == "new" {
			p.New, p.Editable, p.YAML = true, true, newWorkflow
			return p, nil
		}
		wf, ok := c.d.Workflows.Get(id)
		if !ok {
			return nil, cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", id)
		}
		p.Workflow, p.Editable = wf, wf.Origin == workflow.OriginAPI && auth.PrincipalFrom(r.Context()).Can(auth.Admin)
		p.Waiting = c.waitingAt(r.Context(), wf.ID)
		if pick := c.newestSelected(r.Context(), wf); pick != nil {
			p.Pick = pick.ID
			if !slices.ContainsFunc(p.Events, func(e *cdp.Event) bool { return e.ID == pick.ID }) {
				p.Events = append([]*cdp.Event{pick}, p.Events...)
			}
		}
		p.BackfillSince = time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
		if p.YAML, err = asWritten(wf.Workflow); err != nil {
			return nil, err
		}
		if p.Editable {
			if p.Versions, err = c.d.Workflows.Versions(r.Context(), id); err != nil {
				return nil, err
			}
		}
		return p, nil
	})
}

// newestSelected finds, among the newest stored events, the newest one the
// workflow's trigger selects (its sources and types, and its condition),
// for the dry run to start from; nil if none of them.
func (c *Console) newestSelected(ctx context.Context, wf *workflow.Compiled) *cdp.Event {
	const pages, conditions = 5, 20 // at most 500 events read, 20 conditions evaluated
	cursor, tried := "", 0
	for range pages {
		events, next, err := c.d.Store.FindEvents(ctx, cdp.EventFilter{Limit: 100, Cursor: cursor})
		if err != nil {
			return nil
		}
		for _, e := range events {
			if !wf.Matches(e.SourceID, e.Type) {
				continue
			}
			if tried++; tried > conditions {
				return nil
			}
			d, err := c.d.Workflows.DryRun(ctx, c.d.Store, wf.Workflow, e.ID, time.Now())
			if err == nil && d.Matches {
				return e
			}
		}
		if cursor = next; cursor == "" {
			return nil
		}
	}
	return nil
}

// waitingAt counts the runs of workflow id held at each wait_for step
// (a foreach's items counted under their step).
func (c *Console) waitingAt(ctx context.Context, id string) []cdp.WaitCount {
	all, err := c.d.Store.CountWaits(ctx)
	if err != nil {
		return nil
	}
	var out []cdp.WaitCount
	for _, w := range all {
		if w.WorkflowID != id {
			continue
		}
		step := workflow.StepName(w.StepID)
		if n := len(out); n > 0 && out[n-1].StepID == step {
			out[n-1].Runs += w.Runs
			continue
		}
		out = append(out, cdp.WaitCount{WorkflowID: id, StepID: step, Runs: w.Runs})
	}
	return out
}
