// Package config defines Switchyard's configuration tree (DESIGN §5): its
// defaults, how a YAML file with ${ENV} references is loaded, and the one
// Validate that reports every problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"go.yaml.in/yaml/v3"
)

// Durability modes (DESIGN §1).
const (
	// DurabilityProcess acks once the event log has written the event to
	// its file: it survives a crash of the process, not of the machine.
	DurabilityProcess = "process"
	// DurabilityFsync acks only after the event log fsynced the event.
	DurabilityFsync = "fsync"
)

// Config is the whole configuration of a Switchyard process.
type Config struct {
	Listen       string          `yaml:"listen"`
	DataDir      string          `yaml:"data_dir"`
	Durability   string          `yaml:"durability"`
	PostgresURL  string          `yaml:"postgres_url"`
	NATSURL      string          `yaml:"nats_url"`
	MaxBodyBytes int64           `yaml:"max_body_bytes"`
	Log          Log             `yaml:"log"`
	Admin        Admin           `yaml:"admin"`
	Sources      []Source        `yaml:"sources"`
	unset        map[string]bool // environment variables referenced but not set
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Admin configures the management API and console.
type Admin struct {
	// Listen, when set, serves /admin/v1 and the console on their own
	// listener instead of the ingest one.
	Listen string `yaml:"listen"`
	// Tokens are accepted as "Authorization: Bearer <token>". With none,
	// only loopback clients are served.
	Tokens []string `yaml:"tokens"`
}

// Source declares a source in the file; such sources are read-only through
// the management API.
type Source struct {
	ID        string  `yaml:"id"`
	Kind      string  `yaml:"kind"`
	Name      string  `yaml:"name"`
	Enabled   *bool   `yaml:"enabled"` // default true
	SiteID    string  `yaml:"site_id"`
	APIKey    string  `yaml:"api_key"`
	WriteKey  string  `yaml:"write_key"`
	RateLimit float64 `yaml:"rate_limit"` // requests per second; 0 = unlimited
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		Listen:       ":8686",
		DataDir:      "./data",
		Durability:   DurabilityProcess,
		MaxBodyBytes: 1 << 20,
		Log:          Log{Level: "info", Format: "text"},
	}
}

// Load reads the YAML file at path over Default(). ${VAR} references in any
// value are replaced with getenv(VAR) before decoding; unknown keys are
// errors. Load does not validate: call Validate.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, getenv)
}

// Parse is Load for a document already in memory.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	cfg := Default()
	cfg.unset = map[string]bool{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if root.Kind == 0 { // empty document
		return cfg, nil
	}
	expandNode(&root, getenv, cfg.unset)
	// Re-encode the expanded tree so that the strict decoder (which rejects
	// unknown keys) sees values that were expanded as plain scalars.
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in every scalar value (never in keys), so that
// a secret containing YAML syntax cannot change the document's structure.
func expandNode(n *yaml.Node, getenv func(string) string, unset map[string]bool) {
	if n.Kind == yaml.ScalarNode {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" {
				unset[name] = true
			}
			return v
		})
		return
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // a key
		}
		expandNode(c, getenv, unset)
	}
}

// Validate checks the whole tree and returns every problem, each prefixed
// with its YAML path, joined into one error; nil if there are none.
func (c *Config) Validate() error {
	var problems []string
	add := func(path, format string, args ...any) {
		problems = append(problems, path+": "+fmt.Sprintf(format, args...))
	}
	if err := validAddr(c.Listen); err != nil {
		add("listen", "%v", err)
	}
	if c.Admin.Listen != "" {
		if err := validAddr(c.Admin.Listen); err != nil {
			add("admin.listen", "%v", err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	}
	if c.Durability != DurabilityProcess && c.Durability != DurabilityFsync {
		add("durability", "must be %q or %q, not %q", DurabilityProcess, DurabilityFsync, c.Durability)
	}
	if c.PostgresURL != "" {
		add("postgres_url", "the PostgreSQL store is not available in this build; leave it empty for the embedded store")
	}
	if c.NATSURL != "" {
		add("nats_url", "external NATS is not available in this build; leave it empty for the embedded event log")
	}
	if c.MaxBodyBytes <= 0 {
		add("max_body_bytes", "must be positive, not %d", c.MaxBodyBytes)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", "must be text or json, not %q", c.Log.Format)
	}
	for i, tok := range c.Admin.Tokens {
		if strings.TrimSpace(tok) == "" {
			add(fmt.Sprintf("admin.tokens[%d]", i), "is empty%s", c.unsetHint())
		}
	}
	seen := map[string]int{}
	for i, s := range c.Sources {
		path := fmt.Sprintf("sources[%d]", i)
		src := s.Source(cdp.OriginConfig)
		for field, msg := range src.Validate() {
			add(path+"."+field, "%s", msg)
		}
		if j, dup := seen[s.ID]; dup {
			add(path+".id", "duplicates sources[%d].id %q", j, s.ID)
		}
		seen[s.ID] = i
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
}

func (c *Config) unsetHint() string {
	if len(c.unset) == 0 {
		return ""
	}
	var names []string
	for n := range c.unset {
		names = append(names, n)
	}
	slices.Sort(names)
	return " (environment variable not set: " + strings.Join(names, ", ") + ")"
}

func validAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

// Source converts the file form to the domain form.
func (s Source) Source(origin string) *cdp.Source {
	enabled := s.Enabled == nil || *s.Enabled
	return &cdp.Source{ID: s.ID, Kind: s.Kind, Name: s.Name, Enabled: enabled, Origin: origin,
		SiteID: s.SiteID, APIKey: s.APIKey, WriteKey: s.WriteKey, RateLimit: s.RateLimit}
}
