// Package resources keeps the destinations, alert channels and alert
// rules created through the management API beside those of the
// configuration file: each change is a new version in the store (the
// previous ones kept), checked by the same code that checks the file (the
// file's configuration with the change applied must be valid), with
// secrets write-only, and put in force on every node (each reloads the
// store periodically). The file's entries are read-only here.
package resources

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Resources keeps the API's destinations, alert channels and alert rules.
type Resources struct {
	Store   cdp.ResourceStore
	File    *config.Config // the configuration file, as loaded
	Actions *action.Registry
	// Workflows says which of the API's workflows a set of destinations
	// would break.
	Workflows interface {
		CheckDestinations(dests []*workflow.Destination) []string
	}
	// Apply puts in force a configuration whose destinations and alerts
	// are the file's and the API's; it is called after every change made
	// here or seen in the store.
	Apply func(cfg *config.Config)
	Log   *slog.Logger
	Now   func() time.Time

	mu      sync.Mutex
	stored  map[string]map[string]*cdp.ResourceVersion // kind → id → latest (deleted too)
	applied string                                     // what was last put in force
}

// Item is a resource as the management API shows it: its definition
// (the configuration file's shape) with its secrets masked.
type Item struct {
	Kind       string          `json:"kind"`
	ID         string          `json:"id"`
	Origin     string          `json:"origin"` // config or api
	Version    int             `json:"version"`
	Definition json.RawMessage `json:"definition"`
	Deleted    bool            `json:"deleted,omitempty"`
	UpdatedAt  time.Time       `json:"updated_at,omitzero"`
}

// Kinds are the kinds of resource, in the order a configuration is
// applied (destinations before the alerts that may name them).
var Kinds = []string{cdp.ResourceDestination, cdp.ResourceAlertChannel, cdp.ResourceAlertRule, cdp.ResourceTrackingPlan}

func kindOf(name string) (*kind, error) {
	k, ok := kinds[name]
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "no resources of kind %q", name)
	}
	return k, nil
}

// Load reads the stored resources and puts the set in force if it
// changed.
func (r *Resources) Load(ctx context.Context) error {
	stored := map[string]map[string]*cdp.ResourceVersion{}
	for _, name := range Kinds {
		list, err := r.Store.FindResources(ctx, name)
		if err != nil {
			return fmt.Errorf("load %ss: %w", name, err)
		}
		stored[name] = map[string]*cdp.ResourceVersion{}
		for _, v := range list {
			stored[name][v.ID] = v
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stored = stored
	return r.applyLocked()
}

// Run reloads the stored resources every interval until ctx is done:
// what another node changed comes in force here.
func (r *Resources) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if err := r.Load(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("reload destinations and alerts", "err", err)
		}
	})
}

// applyLocked puts the current set in force unless it is the one in
// force (the first set is always applied: the key is never empty).
func (r *Resources) applyLocked() error {
	key := "set:"
	for _, name := range Kinds {
		for _, id := range slices.Sorted(maps.Keys(r.stored[name])) {
			key += fmt.Sprintf("%s/%s@%d;", name, id, r.stored[name][id].Version)
		}
	}
	if key == r.applied {
		return nil
	}
	cfg, _, err := r.mergedLocked("", "", nil)
	if err != nil {
		return err
	}
	r.applied = key
	if r.Apply != nil {
		r.Apply(cfg)
	}
	return nil
}

// mergedLocked is the file's configuration plus the stored resources,
// with the resource kind/id replaced by def (nil: removed), and the YAML
// path of def's entry in it.
func (r *Resources) mergedLocked(kindName, id string, def json.RawMessage) (*config.Config, string, error) {
	cfg := *r.File
	cfg.Destinations = slices.Clone(cfg.Destinations)
	cfg.Alerts.Channels = slices.Clone(cfg.Alerts.Channels)
	cfg.Alerts.Rules = slices.Clone(cfg.Alerts.Rules)
	cfg.TrackingPlans = slices.Clone(cfg.TrackingPlans)
	path := ""
	for _, name := range Kinds {
		k := kinds[name]
		for _, sid := range slices.Sorted(maps.Keys(r.stored[name])) {
			v := r.stored[name][sid]
			if v.Deleted || (name == kindName && sid == id) {
				continue
			}
			if _, _, err := k.add(&cfg, v.Definition); err != nil {
				return nil, "", fmt.Errorf("stored %s %s version %d: %w", k.label, sid, v.Version, err)
			}
		}
		if name == kindName && def != nil {
			var err error
			if _, path, err = k.add(&cfg, def); err != nil {
				return nil, "", err
			}
		}
	}
	return &cfg, path, nil
}

// List returns the resources of a kind: the file's, then the API's, each
// by id.
func (r *Resources) List(kindName string) ([]*Item, error) {
	k, err := kindOf(kindName)
	if err != nil {
		return nil, err
	}
	file, err := k.entries(r.File)
	if err != nil {
		return nil, err
	}
	var out []*Item
	for _, id := range slices.Sorted(maps.Keys(file)) {
		out = append(out, r.item(k, &cdp.ResourceVersion{Kind: k.name, ID: id, Version: 1, Definition: file[id]}, cdp.OriginConfig))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(r.stored[k.name])) {
		if v := r.stored[k.name][id]; !v.Deleted {
			out = append(out, r.item(k, v, cdp.OriginAPI))
		}
	}
	return out, nil
}

// Get returns one resource.
func (r *Resources) Get(kindName, id string) (*Item, error) {
	list, err := r.List(kindName)
	if err != nil {
		return nil, err
	}
	for _, it := range list {
		if it.ID == id {
			return it, nil
		}
	}
	return nil, cdp.Errorf(cdp.ENOTFOUND, "%s %s not found", kinds[kindName].label, id)
}

// Origin says where a resource of a kind was defined (config or api) and
// its version ("" when there is none).
func (r *Resources) Origin(kindName, id string) (string, int) {
	if it, err := r.Get(kindName, id); err == nil {
		return it.Origin, it.Version
	}
	return "", 0
}

// Versions returns the history of a resource created through the API,
// oldest first (a file entry has only its current version).
func (r *Resources) Versions(ctx context.Context, kindName, id string) ([]*Item, error) {
	k, err := kindOf(kindName)
	if err != nil {
		return nil, err
	}
	if def := r.fileEntry(k, id); def != nil {
		return []*Item{r.item(k, &cdp.ResourceVersion{Kind: k.name, ID: id, Version: 1, Definition: def}, cdp.OriginConfig)}, nil
	}
	list, err := r.Store.FindResourceVersions(ctx, k.name, id)
	if err != nil {
		return nil, err
	}
	out := make([]*Item, len(list))
	for i, v := range list {
		out[i] = r.item(k, v, cdp.OriginAPI)
	}
	return out, nil
}

func (r *Resources) item(k *kind, v *cdp.ResourceVersion, origin string) *Item {
	return &Item{Kind: k.name, ID: v.ID, Origin: origin, Version: v.Version, Deleted: v.Deleted, UpdatedAt: v.CreatedAt,
		Definition: masked(v.Definition, func(m map[string]any) []string { return k.secrets(r.Actions, m) })}
}

// Save creates a resource (id "") or stores the next version of the one
// with id. ifVersion, when not 0, is the version the caller read: if
// another change came in between, Save fails with ECONFLICT. A secret
// left out, or sent back masked, keeps its stored value.
func (r *Resources) Save(ctx context.Context, kindName, id string, body []byte, ifVersion int) (*Item, error) {
	k, err := kindOf(kindName)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	scratch := &config.Config{}
	newID, _, err := k.add(scratch, body)
	if err != nil {
		return nil, err
	}
	if newID == "" {
		return nil, cdp.Errorf(cdp.EINVALID, "id: is required")
	}
	if err := r.readOnly(k, newID); err != nil {
		return nil, err
	}
	cur := r.stored[k.name][newID]
	live := cur != nil && !cur.Deleted
	switch {
	case id == "" && live:
		return nil, cdp.Errorf(cdp.ECONFLICT, "%s %s already exists", k.label, newID)
	case id != "" && id != newID:
		return nil, cdp.Errorf(cdp.EINVALID, "id: %q does not match the path's %q", newID, id)
	case id != "" && !live:
		return nil, cdp.Errorf(cdp.ENOTFOUND, "%s %s not found", k.label, id)
	case ifVersion != 0 && live && ifVersion != cur.Version:
		return nil, cdp.Errorf(cdp.ECONFLICT, "%s %s is at version %d, not %d", k.label, newID, cur.Version, ifVersion)
	}
	def, err := r.definition(k, scratch, cur)
	if err != nil {
		return nil, err
	}
	if err := r.checkLocked(k, newID, def); err != nil {
		return nil, err
	}
	next := 1
	if cur != nil {
		next = cur.Version + 1
	}
	return r.saveLocked(ctx, k, &cdp.ResourceVersion{Kind: k.name, ID: newID, Version: next, Definition: def, CreatedAt: r.Now().UTC()})
}

// definition is the canonical definition of the entry scratch holds (as
// the request declared it), with the secrets it left out or masked taken
// from cur.
func (r *Resources) definition(k *kind, scratch *config.Config, cur *cdp.ResourceVersion) (json.RawMessage, error) {
	entries, err := k.entries(scratch)
	if err != nil {
		return nil, err
	}
	var def json.RawMessage
	for _, d := range entries {
		def = d
	}
	var m map[string]any
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, fmt.Errorf("decode definition: %w", err)
	}
	var old map[string]any
	if cur != nil {
		_ = json.Unmarshal(cur.Definition, &old)
	}
	for _, s := range k.secrets(r.Actions, m) {
		if v, ok := m[s]; !ok || v == redact.Mask {
			delete(m, s)
			if ov, ok := old[s]; ok && old["kind"] == m["kind"] {
				m[s] = ov
			}
		}
	}
	return json.Marshal(m)
}

// checkLocked reports what would be wrong with the resource kind/id
// defined as def (nil: removed): the problems the configuration file
// would have with it that it does not have without, and, for
// destinations, the API's workflows it would break.
func (r *Resources) checkLocked(k *kind, id string, def json.RawMessage) error {
	before, _, err := r.mergedLocked(k.name, id, r.currentLocked(k, id))
	if err != nil {
		return err
	}
	after, path, err := r.mergedLocked(k.name, id, def)
	if err != nil {
		return err
	}
	had := map[string]bool{}
	for _, p := range before.Problems(r.Actions) {
		had[p] = true
	}
	var problems []string
	for _, p := range after.Problems(r.Actions) {
		if had[p] {
			continue
		}
		if path != "" && strings.HasPrefix(p, path+".") {
			p = strings.TrimPrefix(p, path+".") // the field of the resource itself
		} else if path != "" && strings.HasPrefix(p, path+":") {
			p = strings.TrimPrefix(p, path+": ")
		}
		problems = append(problems, p)
	}
	if k.name == cdp.ResourceDestination && r.Workflows != nil {
		var dests []*workflow.Destination
		for _, d := range after.Destinations {
			dests = append(dests, d.Destination())
		}
		problems = append(problems, r.Workflows.CheckDestinations(dests)...)
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	code := cdp.EINVALID
	if def == nil {
		code = cdp.ECONFLICT // something still names it
	}
	return cdp.Errorf(code, "%s", strings.Join(problems, "; "))
}

// fileEntry is the configuration file's definition of kind/id, or nil.
func (r *Resources) fileEntry(k *kind, id string) json.RawMessage {
	file, err := k.entries(r.File)
	if err != nil {
		return nil
	}
	return file[id]
}

// readOnly refuses a change to an entry of the configuration file.
func (r *Resources) readOnly(k *kind, id string) error {
	if r.fileEntry(k, id) != nil {
		return cdp.Errorf(cdp.EFORBIDDEN, "%s %s is defined in the configuration file; change it there", k.label, id)
	}
	return nil
}

// currentLocked is the stored definition of kind/id in force, or nil.
func (r *Resources) currentLocked(k *kind, id string) json.RawMessage {
	if v := r.stored[k.name][id]; v != nil && !v.Deleted {
		return v.Definition
	}
	return nil
}

// Delete stores the removal of a resource created through the API as its
// next version, unless something still names it (ECONFLICT).
func (r *Resources) Delete(ctx context.Context, kindName, id string) error {
	k, err := kindOf(kindName)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.readOnly(k, id); err != nil {
		return err
	}
	cur := r.stored[k.name][id]
	if cur == nil || cur.Deleted {
		return cdp.Errorf(cdp.ENOTFOUND, "%s %s not found", k.label, id)
	}
	if err := r.checkLocked(k, id, nil); err != nil {
		return err
	}
	_, err = r.saveLocked(ctx, k, &cdp.ResourceVersion{Kind: k.name, ID: id, Version: cur.Version + 1, Definition: cur.Definition,
		Deleted: true, CreatedAt: r.Now().UTC()})
	return err
}

// saveLocked stores v and puts the new set in force.
func (r *Resources) saveLocked(ctx context.Context, k *kind, v *cdp.ResourceVersion) (*Item, error) {
	if err := r.Store.SaveResource(ctx, v); err != nil {
		return nil, err
	}
	if r.stored == nil {
		r.stored = map[string]map[string]*cdp.ResourceVersion{}
	}
	if r.stored[k.name] == nil {
		r.stored[k.name] = map[string]*cdp.ResourceVersion{}
	}
	r.stored[k.name][v.ID] = v
	if err := r.applyLocked(); err != nil {
		return nil, err
	}
	return r.item(k, v, cdp.OriginAPI), nil
}

// Current is the definition in force of a resource, with its secrets,
// and where it was defined ("" when there is none): what a plan compares
// a desired definition with.
func (r *Resources) Current(kindName, id string) (json.RawMessage, string) {
	k, err := kindOf(kindName)
	if err != nil {
		return nil, ""
	}
	if def := r.fileEntry(k, id); def != nil {
		return def, cdp.OriginConfig
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if def := r.currentLocked(k, id); def != nil {
		return def, cdp.OriginAPI
	}
	return nil, ""
}

// SecretFields are the fields of a definition of kind that hold secrets.
func (r *Resources) SecretFields(kindName string, def map[string]any) []string {
	k, err := kindOf(kindName)
	if err != nil {
		return nil
	}
	return k.secrets(r.Actions, def)
}

// IDs are the ids of the resources of a kind created through the API.
func (r *Resources) IDs(kindName string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range slices.Sorted(maps.Keys(r.stored[kindName])) {
		if !r.stored[kindName][id].Deleted {
			out = append(out, id)
		}
	}
	return out
}
