package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Workflow origins: the configuration file (read-only through the
// management API, no history), a source's forward_to, or the management
// API (versioned in the store).
const (
	OriginConfig  = cdp.OriginConfig
	OriginForward = "forward_to"
	OriginAPI     = cdp.OriginAPI
)

// Registry holds the workflows a server runs: those of the configuration
// file, those its sources' forward_to lists imply, and those created
// through the management API, whose every version is stored so that a run
// finishes with the version it started with. The set the processor
// matches events against is an immutable snapshot, swapped on change;
// the stored set is reloaded periodically so every node sees changes made
// on another.
type Registry struct {
	store   Store
	actions *action.Registry
	sources []*cdp.Source // the latest set, for their forward_to lists
	log     *slog.Logger
	config  []*Compiled
	dests   map[string]*Destination           // changed under write
	kinds   atomic.Pointer[map[string]string] // destination id → kind, read by any compile
	now     func() time.Time

	write  sync.Mutex                      // serialises changes and reloads
	stored map[string]*cdp.WorkflowVersion // latest stored version by id, deleted ones too
	cur    atomic.Pointer[snapshot]
	cache  sync.Map // versionKey → *Compiled: stored versions, compiled once

	// Metrics, if set, counts the waits Wake ends.
	Metrics *metrics.Metrics
}

// Store is where the registry keeps the workflows created through the
// API, and reads runs from (whether a replayed event's original ran a
// workflow).
type Store interface {
	cdp.WorkflowStore
	runFinder
}

type runFinder interface {
	FindRuns(ctx context.Context, f cdp.RunFilter) ([]*cdp.Run, string, error)
}

// hasRun reports whether workflow wfID has a run for event id: live, from
// a backfill, or from a replay that asked for one.
func hasRun(ctx context.Context, runs runFinder, wfID, id string) (bool, error) {
	found, _, err := runs.FindRuns(ctx, cdp.RunFilter{WorkflowID: wfID, EventID: id, Limit: 1})
	return len(found) > 0, err
}

// snapshot is the current set of workflows.
type snapshot struct {
	all    []*Compiled // config, then forward_to, then API, each by id
	byID   map[string]*Compiled
	active []*Compiled // the enabled ones
	dests  map[string]*Destination
}

func versionKey(id string, version int) string { return fmt.Sprintf("%s@%d", id, version) }

// NewRegistry compiles the configured workflows against the
// destinations. Call Load before use; SourcesChanged adds the workflows
// the sources' forward_to lists imply.
func NewRegistry(store Store, actions *action.Registry, configured []Workflow, dests []*Destination, log *slog.Logger) (*Registry, error) {
	r := &Registry{store: store, actions: actions, log: log, now: time.Now, stored: map[string]*cdp.WorkflowVersion{}}
	r.setDestinationsLocked(dests)
	for i := range configured {
		c, problems := Compile(&configured[i], r.refs())
		if problems != nil {
			return nil, fmt.Errorf("workflow %s: %s", configured[i].ID, strings.Join(problems, "; "))
		}
		c.Version, c.Origin = 1, OriginConfig
		r.config = append(r.config, c)
	}
	r.rebuildLocked()
	return r, nil
}

// refs are what this registry's workflows may name.
func (r *Registry) refs() References {
	return References{Actions: r.actions, Destinations: *r.kinds.Load()}
}

// Forward is the workflow a source's forward_to implies for one
// destination: every event of the source is sent to it, signed.
func Forward(sourceID, dest string) Workflow {
	return Workflow{ID: "forward-" + sourceID + "-" + dest, Name: "forward " + sourceID + " to " + dest,
		Trigger: Trigger{Source: sourceID}, Steps: []Step{{ID: "forward", Action: "webhook.send", Destination: dest}}}
}

// CheckSource reports the problems of a source's forward_to list, keyed
// by field path.
func (r *Registry) CheckSource(src *cdp.Source) map[string]string {
	problems := map[string]string{}
	for i, d := range src.ForwardTo {
		w := Forward(src.ID, d)
		if _, p := Compile(&w, r.refs()); p != nil {
			problems[fmt.Sprintf("forward_to[%d]", i)] = strings.Join(p, "; ")
		}
	}
	return problems
}

// Load reloads the stored workflows and rebuilds the set.
func (r *Registry) Load(ctx context.Context) error {
	r.write.Lock()
	defer r.write.Unlock()
	list, err := r.store.FindWorkflows(ctx)
	if err != nil {
		return fmt.Errorf("load workflows: %w", err)
	}
	r.stored = make(map[string]*cdp.WorkflowVersion, len(list))
	for _, v := range list {
		r.stored[v.ID] = v
	}
	r.rebuildLocked()
	return nil
}

// Run reloads the stored workflows every interval until ctx is done.
func (r *Registry) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if err := r.Load(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reload workflows", "err", err)
		}
	})
}

// SourcesChanged rebuilds the set with the workflows the sources'
// forward_to lists imply.
func (r *Registry) SourcesChanged(sources []*cdp.Source) {
	r.write.Lock()
	defer r.write.Unlock()
	r.sources = sources
	r.rebuildLocked()
}

func (r *Registry) rebuildLocked() {
	s := &snapshot{byID: map[string]*Compiled{}, dests: maps.Clone(r.dests)}
	add := func(c *Compiled) {
		if _, taken := s.byID[c.ID]; taken {
			r.log.Warn("workflow id used twice; the first one wins", "workflow", c.ID, "origin", c.Origin)
			return
		}
		s.all, s.byID[c.ID] = append(s.all, c), c
		if c.Enabled == nil || *c.Enabled {
			s.active = append(s.active, c)
		}
	}
	for _, c := range r.config {
		add(c)
	}
	for _, src := range r.sources {
		for _, d := range src.ForwardTo {
			w := Forward(src.ID, d)
			c, err := r.compiled(versionKey(w.ID, 1), func() (*Compiled, error) { return r.compile(&w, 1, OriginForward, src.UpdatedAt) })
			if err != nil {
				r.log.Warn("source forward_to", "source", src.ID, "err", err)
				continue
			}
			add(c)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.stored)) {
		v := r.stored[id]
		if v.Deleted {
			continue
		}
		c, err := r.compiled(versionKey(v.ID, v.Version), func() (*Compiled, error) { return r.decode(v) })
		if err != nil {
			r.log.Warn("stored workflow does not compile; it is not run", "workflow", v.ID, "version", v.Version, "err", err)
			continue
		}
		add(c)
	}
	r.cur.Store(s)
}

// compiled returns the cached workflow under key, compiling it once.
func (r *Registry) compiled(key string, compile func() (*Compiled, error)) (*Compiled, error) {
	if c, ok := r.cache.Load(key); ok {
		return c.(*Compiled), nil
	}
	c, err := compile()
	if err != nil {
		return nil, err
	}
	r.cache.Store(key, c)
	return c, nil
}

func (r *Registry) compile(w *Workflow, version int, origin string, at time.Time) (*Compiled, error) {
	c, problems := Compile(w, r.refs())
	if problems != nil {
		return nil, cdp.Errorf(cdp.EINVALID, "%s", strings.Join(problems, "; "))
	}
	c.Version, c.Origin, c.UpdatedAt = version, origin, at
	return c, nil
}

// decode compiles a stored version.
func (r *Registry) decode(v *cdp.WorkflowVersion) (*Compiled, error) {
	w := &Workflow{}
	if err := json.Unmarshal(v.Definition, w); err != nil {
		return nil, fmt.Errorf("decode workflow %s version %d: %w", v.ID, v.Version, err)
	}
	return r.compile(w, v.Version, OriginAPI, v.CreatedAt)
}

// List returns every current workflow: configured, forward_to, then
// created through the API.
func (r *Registry) List() []*Compiled { return r.cur.Load().all }

// Get returns the current version of workflow id.
func (r *Registry) Get(id string) (*Compiled, bool) {
	c, ok := r.cur.Load().byID[id]
	return c, ok
}

// Workflow returns version of workflow id, the version a run started
// with (configured and forward_to workflows have only their current
// one), or ENOTFOUND.
func (r *Registry) Workflow(ctx context.Context, id string, version int) (*Compiled, error) {
	if c, ok := r.Get(id); ok && (c.Version == version || c.Origin != OriginAPI) {
		return c, nil
	}
	return r.compiled(versionKey(id, version), func() (*Compiled, error) {
		v, err := r.store.FindWorkflowVersion(ctx, id, version)
		if err != nil {
			return nil, err
		}
		return r.decode(v)
	})
}

// Destinations returns the destinations, by id: the configuration
// file's and those created through the management API.
func (r *Registry) Destinations() []*Destination {
	dests := r.cur.Load().dests
	return slices.SortedFunc(maps.Values(dests), func(a, b *Destination) int { return strings.Compare(a.ID, b.ID) })
}

// Destination returns the destination with id.
func (r *Registry) Destination(id string) (*Destination, bool) {
	d, ok := r.cur.Load().dests[id]
	return d, ok
}

// SetDestinations replaces the destinations (the configuration file's
// and the API's, as the management API changed them) and recompiles the
// stored workflows against them.
func (r *Registry) SetDestinations(dests []*Destination) {
	r.write.Lock()
	defer r.write.Unlock()
	r.setDestinationsLocked(dests)
	r.cache.Clear() // compiled against the destinations' kinds
	r.rebuildLocked()
}

func (r *Registry) setDestinationsLocked(dests []*Destination) {
	r.dests = map[string]*Destination{}
	kinds := map[string]string{}
	for _, d := range dests {
		r.dests[d.ID], kinds[d.ID] = d, d.Kind
	}
	r.kinds.Store(&kinds)
}

// CheckDestinations reports the workflows that would no longer compile
// with dests instead of the current destinations: a destination removed,
// or of another kind, that they call. Each problem names its workflow.
func (r *Registry) CheckDestinations(dests []*Destination) []string {
	kinds := map[string]string{}
	for _, d := range dests {
		kinds[d.ID] = d.Kind
	}
	refs := References{Actions: r.actions, Destinations: kinds}
	var out []string
	for _, c := range r.List() {
		if c.Origin == OriginConfig {
			continue // checked with the file's destinations, which do not change
		}
		if _, problems := Compile(c.Workflow, refs); problems != nil {
			out = append(out, fmt.Sprintf("workflow %s: %s", c.ID, strings.Join(problems, "; ")))
		}
	}
	return out
}

// Versions returns the history of workflow id, oldest first.
func (r *Registry) Versions(ctx context.Context, id string) ([]*cdp.WorkflowVersion, error) {
	if c, ok := r.Get(id); ok && c.Origin != OriginAPI {
		def, err := json.Marshal(c.Workflow)
		if err != nil {
			return nil, fmt.Errorf("encode workflow %s: %w", id, err)
		}
		return []*cdp.WorkflowVersion{{ID: id, Version: 1, Definition: def, CreatedAt: c.UpdatedAt}}, nil
	}
	return r.store.FindWorkflowVersions(ctx, id)
}

// Create stores a new workflow as version 1, or as the version after its
// deletion when the id was used before.
func (r *Registry) Create(ctx context.Context, w *Workflow) (*Compiled, error) {
	r.write.Lock()
	defer r.write.Unlock()
	if c, ok := r.Get(w.ID); ok {
		return nil, cdp.Errorf(cdp.ECONFLICT, "workflow %s already exists (%s)", w.ID, c.Origin)
	}
	next := 1
	if old, ok := r.stored[w.ID]; ok {
		next = old.Version + 1
	}
	return r.saveLocked(ctx, w, next, false)
}

// Update stores w as the next version of its workflow. ifVersion, when
// not 0, is the version the caller read: if another change came in
// between, Update fails with ECONFLICT rather than overwrite it.
func (r *Registry) Update(ctx context.Context, w *Workflow, ifVersion int) (*Compiled, error) {
	r.write.Lock()
	defer r.write.Unlock()
	cur, err := r.mutable(w.ID)
	if err != nil {
		return nil, err
	}
	if ifVersion != 0 && ifVersion != cur.Version {
		return nil, cdp.Errorf(cdp.ECONFLICT, "workflow %s is at version %d, not %d", w.ID, cur.Version, ifVersion)
	}
	return r.saveLocked(ctx, w, r.stored[w.ID].Version+1, false)
}

// Delete stores a deletion as the workflow's next version: it starts no
// more runs, and the runs it started finish with their version.
func (r *Registry) Delete(ctx context.Context, id string) error {
	r.write.Lock()
	defer r.write.Unlock()
	cur, err := r.mutable(id)
	if err != nil {
		return err
	}
	_, err = r.saveLocked(ctx, cur.Workflow, r.stored[id].Version+1, true)
	return err
}

func (r *Registry) mutable(id string) (*Compiled, error) {
	c, ok := r.Get(id)
	switch {
	case !ok:
		return nil, cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", id)
	case c.Origin == OriginConfig:
		return nil, cdp.Errorf(cdp.EFORBIDDEN, "workflow %s is defined in the configuration file; change it there", id)
	case c.Origin == OriginForward:
		return nil, cdp.Errorf(cdp.EFORBIDDEN, "workflow %s comes from a source's forward_to; change the source", id)
	}
	return c, nil
}

// saveLocked compiles w, stores it as version and makes it current.
func (r *Registry) saveLocked(ctx context.Context, w *Workflow, version int, deleted bool) (*Compiled, error) {
	now := r.now().UTC()
	c, err := r.compile(w, version, OriginAPI, now)
	if err != nil && !deleted {
		return nil, err
	}
	def, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode workflow %s: %w", w.ID, err)
	}
	v := &cdp.WorkflowVersion{ID: w.ID, Version: version, Definition: def, Deleted: deleted, CreatedAt: now}
	if err := r.store.SaveWorkflow(ctx, v); err != nil {
		return nil, err
	}
	r.stored[w.ID] = v
	if c != nil {
		r.cache.Store(versionKey(w.ID, version), c)
	}
	r.rebuildLocked()
	return c, nil
}

// Runs returns the runs that event e starts: one per enabled workflow whose
// trigger matches its source and type and whose condition holds. It is
// called in the transaction that stores e, so the runs are created exactly
// once with the event. A condition that fails on e starts nothing and is
// logged; it never affects another workflow.
func (r *Registry) Runs(ctx context.Context, tx cdp.Tx, e *cdp.Event, now time.Time) ([]*cdp.Run, error) {
	var runs []*cdp.Run
	var vars map[string]any
	profile := func(id string) (*cdp.Profile, error) { return tx.Profile(ctx, id) }
	for _, wf := range r.cur.Load().active {
		ok, err := wf.triggers(ctx, e, now, &vars, profile)
		if err != nil {
			r.log.Warn("workflow trigger condition failed", "workflow", wf.ID, "event", e.ID, "err", err)
		}
		if ok && e.ReplayOf != "" && !e.Rerun {
			ok = !r.ranOriginal(ctx, wf.ID, e.ReplayOf)
		}
		if f := wf.Trigger.Frequency; ok && f != nil && e.ProfileID != "" {
			var err error
			if ok, err = tx.ClaimFrequency(ctx, wf.ID, e.ProfileID, f.until(now), now); err != nil {
				return nil, err
			}
		}
		if ok {
			run := &cdp.Run{ID: cdp.NewID(), WorkflowID: wf.ID, WorkflowVersion: wf.Version, EventID: e.ID,
				Status: cdp.RunPending, CreatedAt: now, UpdatedAt: now, OrderKey: wf.key(ctx, wf.OrderBy, wf.orderByProfile, e, vars)}
			if err := wf.debounce(ctx, tx, run, e, vars, now); err != nil {
				return nil, err
			}
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// ranOriginal reports whether workflow id ran for event, which a replay
// replays: it does not run again unless asked to. A store that cannot say
// counts as yes: a message sent twice cannot be taken back.
func (r *Registry) ranOriginal(ctx context.Context, id, event string) bool {
	ran, err := hasRun(ctx, r.store, id, event)
	if err != nil {
		r.log.Warn("replay: cannot tell whether the workflow ran for the original event; not running it", "workflow", id, "event", event, "err", err)
		return true
	}
	return ran
}

// triggers reports whether wf's trigger selects e: its sources and types,
// then its condition. vars holds the condition's variables, made once
// (the event and its profile, read with profile) for all the workflows
// an event is matched against.
func (wf *Compiled) triggers(ctx context.Context, e *cdp.Event, now time.Time, vars *map[string]any,
	profile func(id string) (*cdp.Profile, error)) (bool, error) {
	if !wf.Matches(e.SourceID, e.Type) {
		return false, nil
	}
	if wf.If == nil {
		return true, nil
	}
	if *vars == nil {
		*vars = exprVars(e, e.View(), now, people{profile: profile})
	}
	return wf.If.EvalBool(ctx, *vars)
}
