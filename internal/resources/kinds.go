package resources

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// kind is what the package knows of one kind of resource: how its
// definition (the configuration file's entry, as JSON) joins a
// configuration, and which of its fields are secrets.
type kind struct {
	name  string // cdp.ResourceDestination …
	label string // in messages
	// add decodes def (refusing unknown fields) and appends it to cfg's
	// entries of the kind; it returns the entry's id and YAML path.
	add func(cfg *config.Config, def []byte) (id, path string, err error)
	// entries are cfg's entries of the kind, by id, as definitions.
	entries func(cfg *config.Config) (map[string]json.RawMessage, error)
	// secrets are the fields of def that hold secrets.
	secrets func(actions *action.Registry, def map[string]any) []string
}

// kinds are the kinds of resource, by name.
var kinds = map[string]*kind{
	cdp.ResourceDestination: {name: cdp.ResourceDestination, label: "destination",
		add: func(cfg *config.Config, def []byte) (string, string, error) {
			var d config.Destination
			if err := strict(def, &d); err != nil {
				return "", "", err
			}
			cfg.Destinations = append(cfg.Destinations, d)
			return d.ID, fmt.Sprintf("destinations[%d]", len(cfg.Destinations)-1), nil
		},
		entries: func(cfg *config.Config) (map[string]json.RawMessage, error) {
			return definitions(cfg.Destinations, func(d config.Destination) string { return d.ID })
		},
		secrets: func(actions *action.Registry, def map[string]any) []string {
			k, _ := actions.DestinationKind(fmt.Sprint(def["kind"]))
			var out []string
			if k != nil {
				for _, s := range k.Settings {
					if s.Secret {
						out = append(out, s.Name)
					}
				}
			}
			return out
		}},
	cdp.ResourceAlertChannel: {name: cdp.ResourceAlertChannel, label: "alert channel",
		add: func(cfg *config.Config, def []byte) (string, string, error) {
			var c config.AlertChannel
			if err := strict(def, &c); err != nil {
				return "", "", err
			}
			cfg.Alerts.Channels = append(cfg.Alerts.Channels, c)
			return c.ID, fmt.Sprintf("alerts.channels[%d]", len(cfg.Alerts.Channels)-1), nil
		},
		entries: func(cfg *config.Config) (map[string]json.RawMessage, error) {
			return definitions(cfg.Alerts.Channels, func(c config.AlertChannel) string { return c.ID })
		},
		secrets: func(_ *action.Registry, def map[string]any) []string {
			if def["kind"] == "slack" { // its URL is the credential
				return []string{"url", "signing_secret"}
			}
			return []string{"signing_secret"}
		}},
	cdp.ResourceAlertRule: {name: cdp.ResourceAlertRule, label: "alert rule",
		add: func(cfg *config.Config, def []byte) (string, string, error) {
			var r config.AlertRule
			if err := strict(def, &r); err != nil {
				return "", "", err
			}
			r.ID = r.RuleID()
			cfg.Alerts.Rules = append(cfg.Alerts.Rules, r)
			return r.ID, fmt.Sprintf("alerts.rules[%d]", len(cfg.Alerts.Rules)-1), nil
		},
		entries: func(cfg *config.Config) (map[string]json.RawMessage, error) {
			return definitions(cfg.Alerts.Rules, config.AlertRule.RuleID)
		},
		secrets: func(*action.Registry, map[string]any) []string { return nil }},
	cdp.ResourceTrackingPlan: {name: cdp.ResourceTrackingPlan, label: "tracking plan",
		add: func(cfg *config.Config, def []byte) (string, string, error) {
			var p quality.Plan
			if err := strict(def, &p); err != nil {
				return "", "", err
			}
			cfg.TrackingPlans = append(cfg.TrackingPlans, p)
			return p.ID, fmt.Sprintf("tracking_plans[%d]", len(cfg.TrackingPlans)-1), nil
		},
		entries: func(cfg *config.Config) (map[string]json.RawMessage, error) {
			return definitions(cfg.TrackingPlans, func(p quality.Plan) string { return p.ID })
		},
		secrets: func(*action.Registry, map[string]any) []string { return nil }},
}

// strict decodes a JSON or YAML definition into v, refusing fields v
// does not have.
func strict(def []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(def))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return cdp.Errorf(cdp.EINVALID, "%v", err)
	}
	return nil
}

// Canonical is the definition of an entry of the configuration file's
// types: its YAML fields as compact JSON, empty ones left out, keys
// sorted; what is stored, answered and compared.
func Canonical(v any) (_ json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil { // the YAML encoder panics on what it cannot encode
			err = fmt.Errorf("encode definition: %v", r)
		}
	}()
	if d, ok := v.(config.Destination); ok {
		v = d.Normalized() // YAML cannot encode a setting beside the field of its name
	}
	if p, ok := v.(quality.Plan); ok {
		return canonicalPlan(p)
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode definition: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode definition: %w", err)
	}
	return json.Marshal(prune(m))
}

// canonicalPlan is a tracking plan's definition: pruned as any other
// entry but for what is meaningful empty or false in a plan (an event type
// listed without schemas, allow_unplanned: false, a schema's false or
// empty values, which are kept as written).
func canonicalPlan(p quality.Plan) (json.RawMessage, error) {
	events, allow := p.Events, p.AllowUnplanned
	p.Events, p.AllowUnplanned = nil, nil
	type plain quality.Plan // the rest, pruned as any entry
	b, err := Canonical(plain(p))
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if allow != nil {
		m["allow_unplanned"] = *allow
	}
	if len(events) > 0 {
		out := map[string]any{}
		for typ, e := range events {
			entry := map[string]any{}
			if e.Description != "" {
				entry["description"] = e.Description
			}
			for k, schema := range map[string]any{"properties": e.Properties, "traits": e.Traits} {
				if schema != nil {
					entry[k] = schema
				}
			}
			out[typ] = entry
		}
		m["events"] = out
	}
	return json.Marshal(m)
}

// prune drops the empty values of m (at any depth).
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x = prune(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(v) == 0 {
			return nil
		}
		return v
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case int:
		if v == 0 {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	}
	return v
}

// definitions are entries as definitions, by id.
func definitions[T any](entries []T, id func(T) string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, e := range entries {
		def, err := Canonical(e)
		if err != nil {
			return nil, err
		}
		out[id(e)] = def
	}
	return out, nil
}

// masked is def with its secret fields' values replaced by redact.Mask.
func masked(def json.RawMessage, secrets func(map[string]any) []string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(def, &m) != nil {
		return def
	}
	for _, k := range secrets(m) {
		if v, ok := m[k]; ok && v != "" {
			m[k] = redact.Mask
		}
	}
	out, _ := json.Marshal(m)
	return out
}
