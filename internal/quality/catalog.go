package quality

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// The catalog is bounded whatever clients send: a source keeps at most
// MaxCatalogTypes types (the rest are counted under OtherType), a type
// at most maxPaths property paths, each at most maxDepth levels deep.
const (
	MaxCatalogTypes = 1000
	OtherType       = "(other)"
	maxPaths        = 200
	maxDepth        = 5
)

// Catalog counts what each source sends, by type and property path, as
// events are stored, and adds the counts to the store's catalog
// periodically: the processor's hot path does no I/O for it. Counts of
// the last interval are lost if the process dies (the catalog describes
// traffic; it is not a ledger).
type Catalog struct {
	store cdp.CatalogStore
	log   *slog.Logger

	mu      sync.Mutex
	pending map[[2]string]*tally
	// known are the types the store holds or this node counts, by
	// source: what the bound on types counts. The store's are read at
	// the first flush (loaded).
	known  map[string]map[string]bool
	loaded bool
}

type tally struct {
	events, violating int64
	first, last       time.Time
	paths             map[string]map[string]int64 // path → JSON type → events
}

// NewCatalog returns a catalog that adds to store.
func NewCatalog(store cdp.CatalogStore, log *slog.Logger) *Catalog {
	return &Catalog{store: store, log: log, pending: map[[2]string]*tally{}, known: map[string]map[string]bool{}}
}

// Observe counts stored events.
func (c *Catalog) Observe(events []*cdp.Event) {
	if len(events) == 0 {
		return
	}
	type seen struct {
		key   [2]string
		paths map[[2]string]bool
		at    time.Time
		viol  bool
	}
	// Properties are read outside the lock: it is the costly part.
	obs := make([]seen, len(events))
	for i, e := range events {
		obs[i] = seen{key: [2]string{e.SourceID, e.Type}, paths: observePaths(e.Properties), at: e.ReceivedAt, viol: len(e.Violations) > 0}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range obs {
		t := c.tallyLocked(o.key)
		t.events++
		if o.viol {
			t.violating++
		}
		if t.first.IsZero() || o.at.Before(t.first) {
			t.first = o.at
		}
		if o.at.After(t.last) {
			t.last = o.at
		}
		for pt := range o.paths {
			types := t.paths[pt[0]]
			if types == nil {
				if len(t.paths) >= maxPaths {
					continue
				}
				types = map[string]int64{}
				t.paths[pt[0]] = types
			}
			types[pt[1]]++
		}
	}
}

// tallyLocked is the pending tally of key, counted under OtherType when
// its source has its fill of types.
func (c *Catalog) tallyLocked(key [2]string) *tally {
	if t := c.pending[key]; t != nil {
		return t
	}
	if !c.known[key[0]][key[1]] && len(c.known[key[0]]) >= MaxCatalogTypes {
		key[1] = OtherType
		if t := c.pending[key]; t != nil {
			return t
		}
	}
	c.knowLocked(key[0], key[1])
	t := &tally{paths: map[string]map[string]int64{}}
	c.pending[key] = t
	return t
}

func (c *Catalog) knowLocked(source, typ string) {
	if c.known[source] == nil {
		c.known[source] = map[string]bool{}
	}
	c.known[source][typ] = true
}

// Flush adds the counts observed since the last flush to the store; on
// failure they are kept for the next.
func (c *Catalog) Flush(ctx context.Context) error {
	if err := c.loadKnown(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	pending := c.pending
	c.pending = map[[2]string]*tally{}
	c.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	entries := make([]*cdp.CatalogType, 0, len(pending))
	for _, key := range slices.SortedFunc(maps.Keys(pending), func(a, b [2]string) int { return compareKeys(a, b) }) {
		t := pending[key]
		e := &cdp.CatalogType{SourceID: key[0], Type: key[1], Events: t.events, Violating: t.violating, FirstSeen: t.first, LastSeen: t.last}
		for _, path := range slices.Sorted(maps.Keys(t.paths)) {
			e.Properties = append(e.Properties, cdp.CatalogProperty{Path: path, Types: t.paths[path]})
		}
		entries = append(entries, e)
	}
	if err := c.store.AddCatalog(ctx, entries); err != nil {
		c.restore(pending)
		return err
	}
	return nil
}

func compareKeys(a, b [2]string) int {
	return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
}

// loadKnown adds the types the store holds to those known, once.
func (c *Catalog) loadKnown(ctx context.Context) error {
	c.mu.Lock()
	loaded := c.loaded
	c.mu.Unlock()
	if loaded {
		return nil
	}
	types, err := c.store.CatalogTypes(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for source, list := range types {
		for _, t := range list {
			c.knowLocked(source, t)
		}
	}
	c.loaded = true
	return nil
}

// restore puts counts that could not be stored back into pending.
func (c *Catalog) restore(old map[[2]string]*tally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, o := range old {
		t := c.pending[key]
		if t == nil {
			c.pending[key] = o
			continue
		}
		t.events += o.events
		t.violating += o.violating
		if o.first.Before(t.first) {
			t.first = o.first
		}
		if o.last.After(t.last) {
			t.last = o.last
		}
		for path, types := range o.paths {
			if t.paths[path] == nil {
				t.paths[path] = map[string]int64{}
			}
			for jt, n := range types {
				t.paths[path][jt] += n
			}
		}
	}
}

// Run flushes every interval until ctx is done. Whoever stops the
// processor flushes once more after it stopped, so that a clean stop
// loses nothing.
func (c *Catalog) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("event catalog", "err", err)
		}
	})
}

// observePaths lists the property paths of a JSON object with their
// JSON types, each once.
func observePaths(raw json.RawMessage) map[[2]string]bool {
	out := map[[2]string]bool{}
	if len(raw) < 3 { // absent, "{}" or "[]"
		return out
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return out
	}
	if m, ok := v.(map[string]any); ok {
		walkObject(m, "", 1, out)
	}
	return out
}

func walkObject(m map[string]any, prefix string, depth int, out map[[2]string]bool) {
	for k, v := range m {
		if len(out) >= maxPaths {
			return
		}
		walkValue(prefix+k, v, depth, out)
	}
}

func walkValue(path string, v any, depth int, out map[[2]string]bool) {
	out[[2]string{path, jsonType(v)}] = true
	if depth >= maxDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		walkObject(v, path+".", depth+1, out)
	case []any:
		for _, item := range v {
			if len(out) >= maxPaths {
				return
			}
			walkValue(path+"[]", item, depth+1, out)
		}
	}
}

// jsonType is v's JSON Schema type (a whole number is an integer).
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	}
	return "object"
}
