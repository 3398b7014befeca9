package ingest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/periodic"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// Default sources, created when a server starts with no sources at all so
// that a newcomer can send a first event at once through every API.
const (
	DefaultSourceID           = "default"
	DefaultCustomerIOSourceID = "customerio"
	DefaultPipelinesSourceID  = "pipelines"
)

// Sources is the registry of sources: those declared in the configuration
// file (read-only) and those created through the management API (stored).
// Lookups are in memory; the stored set is reloaded periodically so that
// every node of a cluster sees sources created on another.
type Sources struct {
	store cdp.SourceStore
	now   func() time.Time
	// write serialises reloads with changes, so that a reload that read the
	// store before a change cannot drop it from memory afterwards.
	write     sync.Mutex
	mu        sync.RWMutex // guards the maps for lookups
	config    map[string]*cdp.Source
	stored    map[string]*cdp.Source
	dependent Dependent
}

// Dependent is what depends on the set of sources: it adds problems of its
// own to a source's validation and follows every change of the set. The
// workflow registry is one, since a source's forward_to list implies
// workflows.
type Dependent interface {
	CheckSource(*cdp.Source) map[string]string
	SourcesChanged([]*cdp.Source)
}

// NewSources returns a registry over store with the configured sources;
// dependent, if not nil, is told of the set on every Load and change.
func NewSources(store cdp.SourceStore, configured []*cdp.Source, dependent Dependent) *Sources {
	s := &Sources{store: store, now: time.Now, config: map[string]*cdp.Source{}, stored: map[string]*cdp.Source{}, dependent: dependent}
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
	s.changed()
	return nil
}

func (s *Sources) changed() {
	if s.dependent != nil {
		s.dependent.SourcesChanged(s.List())
	}
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
	generateCredentials(src)
	if err := s.validate(src); err != nil {
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
	s.keep(src.ID, src)
	return nil
}

// Update replaces a stored source; configured sources are read-only.
func (s *Sources) Update(ctx context.Context, src *cdp.Source) error {
	s.write.Lock()
	defer s.write.Unlock()
	old, err := s.mutable(src.ID)
	if err != nil {
		return err
	}
	KeepCredentials(src, old)
	if err := s.validate(src); err != nil {
		return err
	}
	src.Origin, src.CreatedAt, src.UpdatedAt = cdp.OriginAPI, old.CreatedAt, s.now().UTC()
	if err := s.store.UpdateSource(ctx, src); err != nil {
		return err
	}
	s.keep(src.ID, src)
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
	s.keep(id, nil)
	return nil
}

// keep records src as the stored source id (nil: deleted) and tells the
// dependent.
func (s *Sources) keep(id string, src *cdp.Source) {
	s.mu.Lock()
	if src == nil {
		delete(s.stored, id)
	} else {
		s.stored[id] = src
	}
	s.mu.Unlock()
	s.changed()
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

func (s *Sources) validate(src *cdp.Source) error {
	problems := src.Validate()
	if len(problems) == 0 {
		problems = hooks.Check(src)
	}
	if len(problems) == 0 {
		problems = quality.CheckSource(src)
	}
	if len(problems) == 0 && s.dependent != nil {
		problems = s.dependent.CheckSource(src)
	}
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

// EnsureDefaults creates the default sources when there are no sources at
// all: "default" (kind track), "customerio" (kind customerio_track) and
// "pipelines" (kind customerio_pipelines), the latter two with random
// credentials. Once any source exists it does nothing.
func (s *Sources) EnsureDefaults(ctx context.Context) error {
	if len(s.List()) > 0 {
		return nil
	}
	for _, d := range []*cdp.Source{
		{ID: DefaultSourceID, Kind: cdp.SourceTrack, Name: "Default source", Enabled: true},
		{ID: DefaultCustomerIOSourceID, Kind: cdp.SourceCustomerIOTrack, Name: "Default Customer.io Track API source",
			Enabled: true, SiteID: randomHex(10), APIKey: randomHex(20)},
		{ID: DefaultPipelinesSourceID, Kind: cdp.SourceCustomerIOPipelines, Name: "Default Customer.io Data Pipelines source",
			Enabled: true, WriteKey: randomHex(16)},
	} {
		if err := s.Create(ctx, d); err != nil {
			return fmt.Errorf("create default source: %w", err)
		}
	}
	return nil
}

// generateCredentials fills in the credentials a new source of its kind
// issues to its clients and that were not given, as the default sources
// get theirs: a Track API site id and key, a Data Pipelines write key, a
// Standard Webhooks secret. A key another system issues (Customer.io's
// webhook signing key, an HMAC secret) must be given.
func generateCredentials(src *cdp.Source) {
	switch src.Kind {
	case cdp.SourceCustomerIOTrack:
		if src.SiteID == "" && src.APIKey == "" {
			src.SiteID, src.APIKey = randomHex(10), randomHex(20)
		}
	case cdp.SourceCustomerIOPipelines:
		if src.WriteKey == "" {
			src.WriteKey = randomHex(16)
		}
	case cdp.SourceWebhook:
		if v := src.Verify; v != nil && v.Scheme == cdp.VerifyStandardWebhooks && v.Secret == "" {
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			v.Secret = "whsec_" + base64.StdEncoding.EncodeToString(b)
		}
	}
}

// KeepCredentials gives src the credentials of old (a source of the
// same kind) that it leaves out or sends back masked: credentials are
// write-only, so a source read back, edited and sent again keeps them,
// and so does one applied from a file that never named the generated
// ones.
func KeepCredentials(src, old *cdp.Source) {
	if old == nil || old.Kind != src.Kind {
		return
	}
	keep := func(f *string, was string) {
		if *f == "" || *f == redact.Mask {
			*f = was
		}
	}
	if src.Kind == cdp.SourceCustomerIOTrack && src.SiteID == "" {
		src.SiteID = old.SiteID
	}
	keep(&src.APIKey, old.APIKey)
	keep(&src.WriteKey, old.WriteKey)
	keep(&src.SigningKey, old.SigningKey)
	if src.Verify != nil && old.Verify != nil && src.Verify.Scheme == old.Verify.Scheme {
		v := *src.Verify
		keep(&v.Secret, old.Verify.Secret)
		src.Verify = &v
	}
}

// randomHex returns n random bytes in hex, the shape of Customer.io keys.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ByCredentials returns the source (enabled or not) of kind whose
// credentials are user and pass — site_id and api_key, or the write key
// and an empty password — comparing in constant time.
func (s *Sources) ByCredentials(kind, user, pass string) (*cdp.Source, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	match := func(src *cdp.Source) bool {
		wantUser, wantPass := src.SiteID, src.APIKey
		if kind == cdp.SourceCustomerIOPipelines {
			wantUser, wantPass = src.WriteKey, ""
		}
		u := subtle.ConstantTimeCompare([]byte(wantUser), []byte(user))
		p := subtle.ConstantTimeCompare([]byte(wantPass), []byte(pass))
		return src.Kind == kind && wantUser != "" && u&p == 1
	}
	for _, src := range s.config {
		if match(src) {
			return src, true
		}
	}
	for id, src := range s.stored {
		if _, shadowed := s.config[id]; !shadowed && match(src) {
			return src, true
		}
	}
	return nil, false
}
