package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// DefaultSourceID names the source created when a server starts with no
// sources at all, so that a newcomer can send a first event at once.
const DefaultSourceID = "default"

// Sources is the registry of sources: those declared in the configuration
// file (read-only) and those created through the management API (stored).
// Lookups are in memory; the stored set is reloaded periodically so that
// every node of a cluster sees sources created on another.
type Sources struct {
	store cdp.SourceStore
	now   func() time.Time
	// write serialises reloads with changes, so that a reload that read the
	// store before a change cannot drop it from memory afterwards.
	write  sync.Mutex
	mu     sync.RWMutex // guards the maps for lookups
	config map[string]*cdp.Source
	stored map[string]*cdp.Source
}

// NewSources returns a registry over store with the configured sources.
func NewSources(store cdp.SourceStore, configured []*cdp.Source) *Sources {
	s := &Sources{store: store, now: time.Now, config: map[string]*cdp.Source{}, stored: map[string]*cdp.Source{}}
	for _, src := range configured {
		src.Origin = cdp.OriginConfig
		s.config[src.ID] = src
	}
	return s
}

// Load reloads the stored sources.
func (s *Sources) Load(ctx context.Context) error {
	s.write.Lock()
	defer s.write.Unlock()
	list, err := s.store.FindSources(ctx)
	if err != nil {
		return fmt.Errorf("load sources: %w", err)
	}
	stored := make(map[string]*cdp.Source, len(list))
	for _, src := range list {
		stored[src.ID] = src
	}
	s.mu.Lock()
	s.stored = stored
	s.mu.Unlock()
	return nil
}

// Run reloads the stored sources every interval until ctx is done.
func (s *Sources) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if err := s.Load(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reload sources", "err", err)
		}
	})
}

// Get returns the source with id; configured sources shadow stored ones.
func (s *Sources) Get(id string) (*cdp.Source, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if src, ok := s.config[id]; ok {
		return src, true
	}
	src, ok := s.stored[id]
	return src, ok
}

// List returns every source sorted by id.
func (s *Sources) List() []*cdp.Source {
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := maps.Clone(s.stored)
	maps.Copy(all, s.config)
	return slices.SortedFunc(maps.Values(all), func(a, b *cdp.Source) int { return cmpString(a.ID, b.ID) })
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Create validates and stores a new source.
func (s *Sources) Create(ctx context.Context, src *cdp.Source) error {
	if err := validate(src); err != nil {
		return err
	}
	s.write.Lock()
	defer s.write.Unlock()
	if _, ok := s.Get(src.ID); ok {
		return cdp.Errorf(cdp.ECONFLICT, "source %s already exists", src.ID)
	}
	now := s.now().UTC()
	src.Origin, src.CreatedAt, src.UpdatedAt = cdp.OriginAPI, now, now
	if err := s.store.CreateSource(ctx, src); err != nil {
		return err
	}
	s.mu.Lock()
	s.stored[src.ID] = src
	s.mu.Unlock()
	return nil
}

// Update replaces a stored source; configured sources are read-only.
func (s *Sources) Update(ctx context.Context, src *cdp.Source) error {
	if err := validate(src); err != nil {
		return err
	}
	s.write.Lock()
	defer s.write.Unlock()
	old, err := s.mutable(src.ID)
	if err != nil {
		return err
	}
	src.Origin, src.CreatedAt, src.UpdatedAt = cdp.OriginAPI, old.CreatedAt, s.now().UTC()
	if err := s.store.UpdateSource(ctx, src); err != nil {
		return err
	}
	s.mu.Lock()
	s.stored[src.ID] = src
	s.mu.Unlock()
	return nil
}

// Delete removes a stored source; configured sources are read-only.
func (s *Sources) Delete(ctx context.Context, id string) error {
	s.write.Lock()
	defer s.write.Unlock()
	if _, err := s.mutable(id); err != nil {
		return err
	}
	if err := s.store.DeleteSource(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.stored, id)
	s.mu.Unlock()
	return nil
}

func (s *Sources) mutable(id string) (*cdp.Source, error) {
	src, ok := s.Get(id)
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "source %s not found", id)
	}
	if src.Origin == cdp.OriginConfig {
		return nil, cdp.Errorf(cdp.EFORBIDDEN, "source %s is defined in the configuration file; change it there", id)
	}
	return src, nil
}

func validate(src *cdp.Source) error {
	problems := src.Validate()
	if len(problems) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(problems))
	msg := ""
	for i, k := range keys {
		if i > 0 {
			msg += "; "
		}
		msg += k + ": " + problems[k]
	}
	return cdp.Errorf(cdp.EINVALID, "%s", msg)
}

// EnsureDefault creates the default source if there are no sources at all,
// and returns it (created reports whether it was new). With any source
// present it returns nil.
func (s *Sources) EnsureDefault(ctx context.Context) (src *cdp.Source, created bool, err error) {
	if d, ok := s.Get(DefaultSourceID); ok {
		return d, false, nil
	}
	if len(s.List()) > 0 {
		return nil, false, nil
	}
	d := &cdp.Source{ID: DefaultSourceID, Kind: cdp.SourceTrack, Name: "Default source", Enabled: true}
	if err := s.Create(ctx, d); err != nil {
		return nil, false, fmt.Errorf("create default source: %w", err)
	}
	return d, true, nil
}
