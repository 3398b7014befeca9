package admin

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Desired is what `switchyard apply` asks a server to hold: the
// configuration file's sources, destinations, workflows, alerts and tracking plans (its
// environment variables expanded where the command ran).
type Desired struct {
	Sources      []config.Source      `yaml:"sources"`
	Destinations []config.Destination `yaml:"destinations"`
	Workflows    []workflow.Workflow  `yaml:"workflows"`
	Alerts       DesiredAlerts        `yaml:"alerts"`
	Plans        []quality.Plan       `yaml:"tracking_plans"`
}

// DesiredAlerts are the alert channels and rules of a Desired.
type DesiredAlerts struct {
	Channels []config.AlertChannel `yaml:"channels"`
	Rules    []config.AlertRule    `yaml:"rules"`
}

// Change is one difference between a Desired and the server.
type Change struct {
	Kind   string `json:"kind"` // source, destination, workflow, alert_channel, alert_rule
	ID     string `json:"id"`
	Action string `json:"action"` // add, change, remove
	// Fields are the fields that differ; Secrets says of each secret field
	// whether it changes, never its value.
	Fields  []string          `json:"fields,omitempty"`
	Secrets map[string]string `json:"secrets,omitempty"`
	// Conflict says why the change cannot be made here (the server's own
	// configuration file defines the entry).
	Conflict string `json:"conflict,omitempty"`
	// Body is what to send to make the change (its route's body).
	Body json.RawMessage `json:"body,omitempty"`
}

// Plan is what applying a Desired would change, in the order to apply it:
// additions and changes of what others name first (destinations, sources,
// workflows, channels, rules), then removals the other way round.
type Plan struct {
	Changes   []Change `json:"changes"`
	Unchanged int      `json:"unchanged"`
}

// Planner compares a Desired with what the server holds.
type Planner struct {
	Sources   *ingest.Sources
	Workflows *workflow.Registry
	Resources *resources.Resources
}

// entry is one desired definition, as a map to compare and the body that
// would make it.
type entry struct {
	id   string
	def  map[string]any
	body json.RawMessage
}

// Plan compares d with the server; with prune, what the API created that
// d does not name is removed.
func (p *Planner) Plan(d *Desired, prune bool) (*Plan, error) {
	out := &Plan{Changes: []Change{}}
	var removals []Change
	for _, kind := range []string{"destination", "source", "workflow", cdp.ResourceAlertChannel, cdp.ResourceAlertRule, cdp.ResourceTrackingPlan} {
		want, err := p.desired(kind, d)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, e := range want {
			seen[e.id] = true
			cur, origin := p.current(kind, e.id)
			secrets := p.secrets(kind, e.def)
			switch {
			case origin == cdp.OriginConfig || origin == workflow.OriginForward:
				if !reflect.DeepEqual(e.def, cur) {
					out.Changes = append(out.Changes, Change{Kind: kind, ID: e.id, Action: "change",
						Conflict: "defined in the server's configuration file (or a source's forward_to): change it there"})
				} else {
					out.Unchanged++
				}
			case cur == nil:
				out.Changes = append(out.Changes, Change{Kind: kind, ID: e.id, Action: "add", Body: e.body, Secrets: added(e.def, secrets)})
			default:
				c := compare(e.def, cur, secrets)
				if len(c.Fields) == 0 && !slices.Contains(slices.Collect(maps.Values(c.Secrets)), "changed") {
					out.Unchanged++
					continue
				}
				c.Kind, c.ID, c.Action, c.Body = kind, e.id, "change", e.body
				out.Changes = append(out.Changes, c)
			}
		}
		if prune {
			for _, id := range p.apiIDs(kind) {
				if !seen[id] {
					removals = append(removals, Change{Kind: kind, ID: id, Action: "remove"})
				}
			}
		}
	}
	slices.Reverse(removals)
	out.Changes = append(out.Changes, removals...)
	return out, nil
}

// desired are d's entries of a kind.
func (p *Planner) desired(kind string, d *Desired) ([]entry, error) {
	var out []entry
	add := func(id string, v any, body json.RawMessage) error {
		def, err := asMap(v)
		if err != nil {
			return err
		}
		if body == nil {
			body, _ = json.Marshal(def)
		}
		out = append(out, entry{id: id, def: def, body: body})
		return nil
	}
	var err error
	switch kind {
	case "source":
		for _, s := range d.Sources {
			src := s.Source(cdp.OriginAPI)
			asFiled, ferr := asMap(src) // the body: the server keeps what it leaves out
			if ferr != nil {
				return nil, ferr
			}
			body, _ := json.Marshal(asFiled)
			if cur, ok := p.Sources.Get(s.ID); ok {
				ingest.KeepCredentials(src, cur) // generated credentials the file never named
			}
			if err = add(s.ID, src, body); err != nil {
				return nil, err
			}
		}
	case "workflow":
		for _, w := range d.Workflows {
			if err = add(w.ID, w, nil); err != nil {
				return nil, err
			}
		}
	case "destination":
		for _, x := range d.Destinations {
			if err = addCanonical(add, x.ID, x); err != nil {
				return nil, err
			}
		}
	case cdp.ResourceAlertChannel:
		for _, x := range d.Alerts.Channels {
			if err = addCanonical(add, x.ID, x); err != nil {
				return nil, err
			}
		}
	case cdp.ResourceAlertRule:
		for _, x := range d.Alerts.Rules {
			if err = addCanonical(add, x.RuleID(), x); err != nil {
				return nil, err
			}
		}
	case cdp.ResourceTrackingPlan:
		for _, x := range d.Plans {
			if err = addCanonical(add, x.ID, x); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func addCanonical(add func(string, any, json.RawMessage) error, id string, v any) error {
	def, err := resources.Canonical(v)
	if err != nil {
		return err
	}
	return add(id, def, def)
}

// current is what the server holds of kind/id (nil: nothing), and where
// it was defined.
func (p *Planner) current(kind, id string) (map[string]any, string) {
	switch kind {
	case "source":
		src, ok := p.Sources.Get(id)
		if !ok {
			return nil, ""
		}
		m, _ := asMap(src)
		return m, src.Origin
	case "workflow":
		c, ok := p.Workflows.Get(id)
		if !ok {
			return nil, ""
		}
		m, _ := asMap(c.Workflow)
		return m, c.Origin
	}
	def, origin := p.Resources.Current(kind, id)
	if def == nil {
		return nil, ""
	}
	m, _ := asMap(def)
	return m, origin
}

// secrets are the fields of a definition of kind that hold secrets (a
// source's verify holds its secret).
func (p *Planner) secrets(kind string, def map[string]any) []string {
	switch kind {
	case "source":
		return []string{"api_key", "write_key", "signing_key", "verify"}
	case "workflow":
		return nil
	}
	return p.Resources.SecretFields(kind, def)
}

// apiIDs are the ids of kind the API created.
func (p *Planner) apiIDs(kind string) []string {
	var out []string
	switch kind {
	case "source":
		for _, s := range p.Sources.List() {
			if s.Origin == cdp.OriginAPI {
				out = append(out, s.ID)
			}
		}
	case "workflow":
		for _, c := range p.Workflows.List() {
			if c.Origin == workflow.OriginAPI {
				out = append(out, c.ID)
			}
		}
	default:
		out = p.Resources.IDs(kind)
	}
	return out
}

// asMap is v's JSON as a map.
func asMap(v any) (map[string]any, error) {
	b, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	m := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for _, k := range []string{"origin", "created_at", "updated_at"} {
		delete(m, k)
	}
	return m, nil
}

// compare lists the fields of want that differ from have: the secret ones
// as changed or unchanged (a secret want leaves out is kept: unchanged).
func compare(want, have map[string]any, secrets []string) Change {
	c := Change{Secrets: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(union(want, have))) {
		w, inWant := want[k]
		same := reflect.DeepEqual(w, have[k])
		switch {
		case slices.Contains(secrets, k):
			if inWant && !same {
				c.Secrets[k] = "changed"
			} else {
				c.Secrets[k] = "unchanged"
			}
		case !same:
			c.Fields = append(c.Fields, k)
		}
	}
	if len(c.Secrets) == 0 {
		c.Secrets = nil
	}
	return c
}

// added names the secret fields a new entry sets.
func added(def map[string]any, secrets []string) map[string]string {
	out := map[string]string{}
	for _, k := range secrets {
		if _, ok := def[k]; ok {
			out[k] = "set"
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func union(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// Plans serves POST /admin/v1/plan[?prune=true]: the body is a Desired in
// YAML (or JSON); the answer, the Plan that would make the server hold it.
func Plans(log *slog.Logger, p *Planner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := httpx.ReadBody(w, r, 8*maxBody)
		var d Desired
		if err == nil {
			dec := yaml.NewDecoder(bytes.NewReader(body))
			dec.KnownFields(true)
			if derr := dec.Decode(&d); derr != nil && len(bytes.TrimSpace(body)) > 0 {
				err = cdp.Errorf(cdp.EINVALID, "the body must be a configuration's sources, destinations, workflows, alerts and tracking plans: %v", derr)
			}
		}
		var plan *Plan
		if err == nil {
			plan, err = p.Plan(&d, r.URL.Query().Get("prune") == "true")
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, plan)
	})
}
