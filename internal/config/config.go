// Package config defines Switchyard's configuration tree (docs/configuration.md): its
// defaults, how a YAML file with ${ENV} references is loaded, and the one
// Validate that reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Durability modes: what an acknowledgement promises (docs/architecture.md).
const (
	// DurabilityProcess acks once the event log has written the event to
	// its file: it survives a crash of the process, not of the machine.
	DurabilityProcess = "process"
	// DurabilityFsync acks only after the event log fsynced the event.
	DurabilityFsync = "fsync"
)

// natsPrefix is what a stream name and a subject token both allow.
var natsPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// NATSTLS is how Switchyard checks an external NATS server's certificate
// and proves its own. A tls:// URL with none of these set uses the
// system's roots.
type NATSTLS struct {
	CAFile   string `yaml:"ca_file"`   // roots to check the server against
	CertFile string `yaml:"cert_file"` // client certificate, for servers that verify clients
	KeyFile  string `yaml:"key_file"`
}

// Config is the whole configuration of a Switchyard process.
type Config struct {
	Listen      string `yaml:"listen"`
	DataDir     string `yaml:"data_dir"`
	Durability  string `yaml:"durability"`
	PostgresURL string `yaml:"postgres_url"`
	NATSURL     string `yaml:"nats_url"`
	// NATSPrefix prefixes the JetStream stream names and subjects, so that
	// several Switchyard deployments (or test runs) can share one NATS.
	NATSPrefix string `yaml:"nats_prefix"`
	// NATSReplicas is how many copies a clustered JetStream keeps of the
	// streams (0: the server's default).
	NATSReplicas int `yaml:"nats_replicas"`
	// NATSCredentials is a .creds file (user JWT and NKey seed, as nsc
	// writes them) for a NATS in operator mode; NATSNKey an NKey seed
	// file. A user and password or a token go in nats_url itself.
	NATSCredentials string  `yaml:"nats_credentials"`
	NATSNKey        string  `yaml:"nats_nkey"`
	NATSTLS         NATSTLS `yaml:"nats_tls"`
	MaxBodyBytes    int64   `yaml:"max_body_bytes"`
	// MaxConnections caps each listener's open connections; 0 derives it
	// from the open-file limit.
	MaxConnections int `yaml:"max_connections"`
	// MemoryLimitBytes is the Go runtime's soft memory limit: near it the
	// garbage collector works harder instead of letting the heap grow (0:
	// none). While the collector takes more than a quarter of the CPU
	// the limit is raised, up to four times this (package memlimit). The
	// GOMEMLIMIT environment variable, when set, wins and stays fixed.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
	// EventRetention is how long events are kept, a Go duration of at
	// least a day ("" keeps them). PostgreSQL drops whole days, so an
	// event there may outlive it by up to a day.
	EventRetention string `yaml:"event_retention"`
	Log            Log    `yaml:"log"`
	Admin          Admin  `yaml:"admin"`
	// TrustedProxies are the addresses (IPs or CIDR prefixes) of reverse
	// proxies whose X-Forwarded-For/-Host/-Proto headers are believed.
	TrustedProxies []string     `yaml:"trusted_proxies"`
	RawCapture     RawCapture   `yaml:"raw_capture"`
	Backpressure   Backpressure `yaml:"backpressure"`
	Tail           Tail         `yaml:"tail"`
	Tracing        Tracing      `yaml:"tracing"`
	// MinFreeBytes is the free space kept on the data directory's
	// filesystem with the embedded event log: under it, new events are
	// refused and the node is not ready (0: a tenth of the filesystem, at
	// most 1 GiB).
	MinFreeBytes int64               `yaml:"min_free_bytes"`
	Sources      []Source            `yaml:"sources"`
	Destinations []Destination       `yaml:"destinations"`
	Workflows    []workflow.Workflow `yaml:"workflows"`
	Alerts       Alerts              `yaml:"alerts"`
	// BackfillRate caps the runs a backfill creates per second (default
	// 50), so that the runners keep serving arriving events.
	BackfillRate float64  `yaml:"backfill_rate"`
	Archive      *Archive `yaml:"archive"`
	// TrackingPlans check what sources send (docs/quality.md).
	TrackingPlans []quality.Plan    `yaml:"tracking_plans"`
	unset         map[string]string // YAML path → environment variables it names that are not set
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
	// Tokens are accepted as "Authorization: Bearer <token>", each with a
	// role. With none, only loopback clients are served.
	Tokens []AdminToken `yaml:"tokens"`
	// AuditRetention is how long the audit trail keeps an entry (a Go
	// duration of at least an hour; default 2160h, 90 days).
	AuditRetention string `yaml:"audit_retention"`
	// AllowedHosts are the host names the management API and console
	// answer to besides IP addresses and localhost (a defence against DNS
	// rebinding): "switchyard.example.com", "*.example.com", or "*".
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// RawCapture configures keeping the raw request of every accepted event.
type RawCapture struct {
	Enabled      bool   `yaml:"enabled"`
	MaxBodyBytes int    `yaml:"max_body_bytes"` // longer bodies are kept truncated
	Retention    string `yaml:"retention"`      // a Go duration, e.g. 168h
}

// Tracing sends OpenTelemetry traces over OTLP/HTTP: a trace per ingest
// request, followed through the event log to the store, the workflow runs
// it starts, their steps and every outbound attempt. The exporter also
// reads the standard OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// TLS); OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the node.
type Tracing struct {
	// Enabled turns tracing on (off by default: no span is made).
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://collector:4318 (traces go to /v1/traces under it). Empty:
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT,
	// else http://localhost:4318.
	Endpoint string `yaml:"endpoint"`
	// SamplingRatio is the share of new traces recorded, 0 to 1 (default
	// 1). A request that arrives with a traceparent follows its caller's
	// decision.
	SamplingRatio float64 `yaml:"sampling_ratio"`
}

// Tail bounds what the live tails (the management API's /tail, the
// console's live view, switchyard tail and listen) may cost a node, so
// that no number of them slows ingest.
type Tail struct {
	// MaxSubscribers caps the tails open at once on a node (default 100);
	// one more is refused with 503.
	MaxSubscribers int `yaml:"max_subscribers"`
	// FilterCPU is the share of one CPU that the CEL filters of every
	// tail on the node may take together (default 0.25); a tail whose
	// filter cannot keep up within it falls behind and is disconnected.
	FilterCPU float64 `yaml:"filter_cpu"`
}

// Backpressure bounds the events accepted and not yet stored: beyond the
// bound, ingest requests are refused with Retry-After until the store has
// caught up.
type Backpressure struct {
	// MaxDelay is how long the backlog may take to store at the rate the
	// store was measured at, a Go duration (default 30s).
	MaxDelay string `yaml:"max_delay"`
	// MaxBytes caps the backlog whatever the rate (default 512 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
}

// MaxDelayDuration is MaxDelay parsed (Validate reports a bad value).
func (b Backpressure) MaxDelayDuration() time.Duration {
	d, _ := time.ParseDuration(b.MaxDelay)
	return d
}

// RetentionDuration is Retention parsed (Validate reports a bad value).
func (r RawCapture) RetentionDuration() time.Duration {
	d, _ := time.ParseDuration(r.Retention)
	return d
}

// EventRetentionDuration is EventRetention parsed (0: keep; Validate
// reports a bad value).
func (c *Config) EventRetentionDuration() time.Duration {
	d, _ := time.ParseDuration(c.EventRetention)
	return d
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
	// customerio_webhook
	SigningKey         string `yaml:"signing_key"`
	TimestampTolerance int    `yaml:"timestamp_tolerance"` // seconds; 0 = off
	// webhook
	Verify    *cdp.WebhookVerify `yaml:"verify"`
	EventType string             `yaml:"event_type"`
	DedupKey  string             `yaml:"dedup_key"`
	// ForwardTo names webhook destinations every event of the source is
	// sent to: sugar for a one-step webhook.send workflow per destination.
	ForwardTo []string `yaml:"forward_to"`
	// ExpectEvery is how often the source should receive something (a
	// duration); longer without an event raises the source_silent alert.
	ExpectEvery string `yaml:"expect_every"`
	// Transform reshapes each event at ingest (docs/quality.md).
	Transform string `yaml:"transform"`
}

// Destination declares where actions send (docs/workflows.md).
type Destination struct {
	ID   string `yaml:"id"`
	Kind string `yaml:"kind"` // customerio | webhook | http
	// customerio
	SiteID    string `yaml:"site_id"`
	APIKey    string `yaml:"api_key"`
	AppAPIKey string `yaml:"app_api_key"`
	Region    string `yaml:"region"`
	TrackURL  string `yaml:"track_url"`
	AppURL    string `yaml:"app_url"`
	// webhook, http and slack: the URL (http: the base of relative urls)
	URL           string `yaml:"url"`
	SigningSecret string `yaml:"signing_secret"`
	// Settings holds the other settings of the kind, by name (a broker's
	// subject or brokers, an object store's bucket …): the action
	// registry says which exist.
	Settings map[string]string `yaml:",inline"`
	// every kind
	RateLimit           float64         `yaml:"rate_limit"`  // requests per second; 0 = none
	Concurrency         int             `yaml:"concurrency"` // in flight; 0 = 64
	AllowPrivateNetwork bool            `yaml:"allow_private_network"`
	Timeout             string          `yaml:"timeout"` // a Go duration; default 30s
	Retry               *workflow.Retry `yaml:"retry"`
	CircuitBreaker      *CircuitBreaker `yaml:"circuit_breaker"`
	Batch               *Batch          `yaml:"batch"`
}

// Batch groups a destination's calls into one request: a batch goes when
// it has MaxItems calls or MaxBytes, or MaxWait after its first call.
type Batch struct {
	MaxItems int    `yaml:"max_items"` // default 100
	MaxBytes int    `yaml:"max_bytes"` // default 1 MiB (Customer.io: at most 500 kB)
	MaxWait  string `yaml:"max_wait"`  // a Go duration; default 1s
}

// parse returns the batch settings and their problems keyed by field.
func (b *Batch) parse() (*action.Batch, map[string]string) {
	if b == nil {
		return nil, nil
	}
	out, p := &action.Batch{MaxItems: b.MaxItems, MaxBytes: b.MaxBytes}, map[string]string{}
	if b.MaxItems < 0 || b.MaxItems > 10000 {
		p["max_items"] = fmt.Sprintf("must be 1-10000 (0 = %d), not %d", action.DefaultBatchItems, b.MaxItems)
	}
	if b.MaxBytes < 0 || b.MaxBytes > 64<<20 {
		p["max_bytes"] = fmt.Sprintf("must be at most 64 MiB (0 = 1 MiB), not %d", b.MaxBytes)
	}
	if b.MaxWait != "" {
		if d, err := time.ParseDuration(b.MaxWait); err != nil || d <= 0 || d > time.Minute {
			p["max_wait"] = fmt.Sprintf("must be a duration of at most 1m such as 500ms, not %q", b.MaxWait)
		} else {
			out.MaxWait = d
		}
	}
	return out, p
}

// CircuitBreaker is a destination's breaker: it opens after Failures
// consecutive retryable failures, probes after Cooldown, and doubles the
// cooldown after each failed probe up to MaxCooldown.
type CircuitBreaker struct {
	Failures    int    `yaml:"failures"`     // default 10
	Cooldown    string `yaml:"cooldown"`     // default 30s
	MaxCooldown string `yaml:"max_cooldown"` // default 10m
}

// Normalized is d with the settings its own fields name (site_id, url …)
// in those fields: the destination YAML would have decoded (a program
// may have put them in Settings).
func (d Destination) Normalized() Destination {
	if len(d.Settings) == 0 {
		return d
	}
	d.Settings = maps.Clone(d.Settings)
	for name, field := range map[string]*string{"site_id": &d.SiteID, "api_key": &d.APIKey, "app_api_key": &d.AppAPIKey,
		"region": &d.Region, "track_url": &d.TrackURL, "app_url": &d.AppURL, "url": &d.URL, "signing_secret": &d.SigningSecret} {
		if v, ok := d.Settings[name]; ok {
			if *field == "" {
				*field = v
			}
			delete(d.Settings, name)
		}
	}
	return d
}

// Destination converts the file form; Validate has checked it.
func (d Destination) Destination() *workflow.Destination {
	settings := maps.Clone(d.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	for name, v := range map[string]string{"site_id": d.SiteID, "api_key": d.APIKey, "app_api_key": d.AppAPIKey,
		"region": d.Region, "track_url": d.TrackURL, "app_url": d.AppURL, "url": d.URL, "signing_secret": d.SigningSecret} {
		if v != "" {
			settings[name] = v
		}
	}
	out := &workflow.Destination{ID: d.ID, Kind: d.Kind, Settings: settings, RateLimit: d.RateLimit,
		Concurrency: d.Concurrency, AllowPrivateNetwork: d.AllowPrivateNetwork}
	out.Timeout, _ = time.ParseDuration(d.Timeout)
	if d.Retry != nil {
		if p, _ := workflow.ParseRetry(d.Retry); p != nil {
			out.Retry = &httpclient.Policy{MaxAttempts: p.MaxAttempts, Base: p.Base, Max: p.Max}
		}
	}
	out.Breaker, _ = d.CircuitBreaker.parse()
	out.Batch, _ = d.Batch.parse()
	return out
}

// parse returns the breaker with defaults for what is unset, and the
// problems keyed by field.
func (b *CircuitBreaker) parse() (action.Breaker, map[string]string) {
	out, p := action.DefaultBreaker, map[string]string{}
	if b == nil {
		return out, p
	}
	if b.Failures < 0 || b.Failures > 1000 {
		p["failures"] = fmt.Sprintf("must be 1-1000 (0 = 10), not %d", b.Failures)
	} else if b.Failures > 0 {
		out.Failures = b.Failures
	}
	for field, f := range map[string]struct {
		raw string
		to  *time.Duration
	}{"cooldown": {b.Cooldown, &out.Cooldown}, "max_cooldown": {b.MaxCooldown, &out.MaxCooldown}} {
		if f.raw == "" {
			continue
		}
		if d, err := time.ParseDuration(f.raw); err != nil || d < time.Second {
			p[field] = fmt.Sprintf("must be a duration of at least 1s such as 30s, not %q", f.raw)
		} else {
			*f.to = d
		}
	}
	if out.MaxCooldown < out.Cooldown {
		p["max_cooldown"] = fmt.Sprintf("must not be shorter than cooldown (%v)", out.Cooldown)
	}
	return out, p
}

func (d Destination) problems(actions *action.Registry) map[string]string {
	p := map[string]string{}
	if !cdp.ValidSourceID(d.ID) {
		p["id"] = "must be 1-128 letters, digits, '_' or '-', starting with a letter or digit"
	}
	maps.Copy(p, actions.Check(d.Destination()))
	if d.RateLimit < 0 {
		p["rate_limit"] = "must not be negative"
	}
	if d.Concurrency < 0 {
		p["concurrency"] = "must not be negative"
	}
	if d.Timeout != "" {
		if t, err := time.ParseDuration(d.Timeout); err != nil || t <= 0 {
			p["timeout"] = fmt.Sprintf("must be a positive duration such as 10s, not %q", d.Timeout)
		}
	}
	if d.Retry != nil {
		if _, problems := workflow.ParseRetry(d.Retry); problems != nil {
			for k, v := range problems {
				p["retry."+k] = v
			}
		}
	}
	_, problems := d.CircuitBreaker.parse()
	for k, v := range problems {
		p["circuit_breaker."+k] = v
	}
	_, problems = d.Batch.parse()
	for k, v := range problems {
		p["batch."+k] = v
	}
	if k, ok := actions.DestinationKind(d.Kind); ok && d.Batch != nil && k.Batching == nil {
		p["batch"] = fmt.Sprintf("kind %s does not batch (%s do)", d.Kind, strings.Join(batchingKinds(actions), ", "))
	}
	return p
}

// batchingKinds names the destination kinds that take batch.
func batchingKinds(actions *action.Registry) []string {
	var out []string
	for _, k := range actions.DestinationKinds() {
		if k.Batching != nil {
			out = append(out, k.Kind)
		}
	}
	return out
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		Listen:       ":8686",
		DataDir:      "./data",
		Durability:   DurabilityProcess,
		MaxBodyBytes: 1 << 20,
		Log:          Log{Level: "info", Format: "text"},
		RawCapture:   RawCapture{Enabled: true, MaxBodyBytes: 64 << 10, Retention: "168h"},
		Backpressure: Backpressure{MaxDelay: "30s", MaxBytes: 512 << 20},
		Tail:         Tail{MaxSubscribers: 100, FilterCPU: 0.25},
		Tracing:      Tracing{SamplingRatio: 1},
		// What the measured peak under saturation needs; see docs/benchmarks.md.
		MemoryLimitBytes: 128 << 20,
	}
}

// Validate checks the whole tree and returns every problem, each prefixed
// with its YAML path, joined into one error; nil if there are none.
// actions are the action families the build ships (the wiring's
// registry): destinations and workflow steps are checked against them.
func (c *Config) Validate(actions *action.Registry) error {
	problems := c.problems(actions)
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
}

// Problems lists what Validate reports, each "path: message" with the
// entry's YAML path: the management API checks a destination or an alert
// it is given in a copy of the file's configuration with it added.
func (c *Config) Problems(actions *action.Registry) []string { return c.problems(actions) }

// problems lists what Validate reports, each prefixed with its YAML path.
func (c *Config) problems(actions *action.Registry) []string {
	var p problemList
	c.checkProcess(p.add)
	c.checkSources(p.add)
	c.checkWorkflows(actions, p.add)
	c.checkAlerts(p.add)
	c.checkArchive(p.add)
	c.checkPlans(p.add)
	return c.withUnset(p)
}

// problemList collects "path: message" problems.
type problemList []string

func (p *problemList) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

// checkProcess checks the process's own settings: listeners, engines,
// limits, logging, admin access.
func (c *Config) checkProcess(add func(path, format string, args ...any)) {
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
	if u, err := url.Parse(c.PostgresURL); c.PostgresURL != "" && (err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql")) {
		add("postgres_url", "must be a postgres:// URL, e.g. postgres://switchyard@db:5432/switchyard")
	}
	c.checkNATS(add)
	c.checkLimits(add)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", "must be text or json, not %q", c.Log.Format)
	}
	if _, err := httpx.ParseProxies(c.TrustedProxies); err != nil {
		add("trusted_proxies", "%v", err)
	}
	for i, h := range c.Admin.AllowedHosts {
		if !validHostPattern(h) {
			add(fmt.Sprintf("admin.allowed_hosts[%d]", i), "must be a host name such as switchyard.example.com, *.example.com or *, without scheme, port or path, not %q", h)
		}
	}
	c.checkAdminTokens(add)
}

// checkNATS checks the settings of an external NATS.
func (c *Config) checkNATS(add func(path, format string, args ...any)) {
	if u, err := url.Parse(c.NATSURL); c.NATSURL != "" && (err != nil || u.Host == "") {
		add("nats_url", "must be a NATS URL, e.g. nats://nats-1:4222 (several: comma-separated)")
	}
	if c.NATSReplicas < 0 || c.NATSReplicas > 5 || (c.NATSReplicas > 0 && c.NATSURL == "") {
		add("nats_replicas", "must be 1 to 5 (JetStream's limit), and only with nats_url")
	}
	natsAuth := c.NATSCredentials != "" || c.NATSNKey != "" || c.NATSTLS != (NATSTLS{})
	if natsAuth && c.NATSURL == "" {
		add("nats_url", "is needed by nats_credentials, nats_nkey and nats_tls (the embedded server needs none)")
	}
	if c.NATSCredentials != "" && c.NATSNKey != "" {
		add("nats_nkey", "cannot be used with nats_credentials, which holds its own key")
	}
	if (c.NATSTLS.CertFile == "") != (c.NATSTLS.KeyFile == "") {
		add("nats_tls", "cert_file and key_file go together (a client certificate and its key)")
	}
	if !natsPrefix.MatchString(c.NATSPrefix) {
		add("nats_prefix", "must be letters, digits, '_' or '-', not %q", c.NATSPrefix)
	}
}

// checkLimits checks the limits on connections, bodies, retention, memory
// and backpressure.
func (c *Config) checkLimits(add func(path, format string, args ...any)) {
	if c.BackfillRate < 0 || c.BackfillRate > 100000 {
		add("backfill_rate", "must be 0 (50 runs/s) to 100000, not %g", c.BackfillRate)
	}
	if c.MaxConnections < 0 {
		add("max_connections", "must not be negative (0 derives it from the open-file limit), not %d", c.MaxConnections)
	}
	if c.MaxBodyBytes <= 0 {
		add("max_body_bytes", "must be positive, not %d", c.MaxBodyBytes)
	}
	if c.RawCapture.MaxBodyBytes < 0 {
		add("raw_capture.max_body_bytes", "must not be negative, not %d", c.RawCapture.MaxBodyBytes)
	}
	if d, err := time.ParseDuration(c.EventRetention); c.EventRetention != "" && (err != nil || d < 24*time.Hour) {
		add("event_retention", "must be a duration of at least a day such as 2160h (90 days), or empty to keep events, not %q", c.EventRetention)
	}
	if d, err := time.ParseDuration(c.RawCapture.Retention); err != nil || d <= 0 {
		add("raw_capture.retention", "must be a positive duration such as 168h, not %q", c.RawCapture.Retention)
	}
	if d, err := time.ParseDuration(c.Backpressure.MaxDelay); err != nil || d < time.Second {
		add("backpressure.max_delay", "must be a duration of at least 1s such as 30s, not %q", c.Backpressure.MaxDelay)
	}
	if c.MemoryLimitBytes != 0 && c.MemoryLimitBytes < 64<<20 {
		add("memory_limit_bytes", "must be 0 (no limit) or at least 67108864 (64 MiB), not %d", c.MemoryLimitBytes)
	}
	if c.MinFreeBytes < 0 {
		add("min_free_bytes", "must be 0 (a tenth of the filesystem, at most 1 GiB) or more, not %d", c.MinFreeBytes)
	}
	if c.Tail.MaxSubscribers < 1 || c.Tail.MaxSubscribers > 100000 {
		add("tail.max_subscribers", "must be 1 to 100000, not %d", c.Tail.MaxSubscribers)
	}
	if r := c.Tracing.SamplingRatio; !(r >= 0 && r <= 1) {
		add("tracing.sampling_ratio", "must be a share from 0 to 1, not %g", r)
	}
	if e := c.Tracing.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("tracing.endpoint", "must be an http(s) URL such as http://collector:4318, not %q", e)
		}
	}
	if c.Tail.FilterCPU <= 0 || c.Tail.FilterCPU > 64 {
		add("tail.filter_cpu", "must be a share of one CPU above 0 (0.25 is a quarter) and at most 64, not %g", c.Tail.FilterCPU)
	}
	if c.Backpressure.MaxBytes < 16<<20 {
		add("backpressure.max_bytes", "must be at least 16777216 (16 MiB), not %d", c.Backpressure.MaxBytes)
	}
}

// checkSources checks each source and that their ids are unique.
func (c *Config) checkSources(add func(path, format string, args ...any)) {
	seen := map[string]int{}
	for i, s := range c.Sources {
		path := fmt.Sprintf("sources[%d]", i)
		src := s.Source(cdp.OriginConfig)
		for field, msg := range src.Validate() {
			add(path+"."+field, "%s", msg)
		}
		for field, msg := range hooks.Check(src) {
			add(path+"."+field, "%s", msg)
		}
		for field, msg := range quality.CheckSource(src) {
			add(path+"."+field, "%s", msg)
		}
		if j, dup := seen[s.ID]; dup {
			add(path+".id", "duplicates sources[%d].id %q", j, s.ID)
		}
		seen[s.ID] = i
	}
}

// checkPlans checks each tracking plan and that their ids are unique.
func (c *Config) checkPlans(add func(path, format string, args ...any)) {
	seen := map[string]int{}
	for i, p := range c.TrackingPlans {
		path := fmt.Sprintf("tracking_plans[%d]", i)
		for field, msg := range quality.Check(p) {
			add(path+"."+field, "%s", msg)
		}
		if j, dup := seen[p.ID]; dup {
			add(path+".id", "duplicates tracking_plans[%d].id %q", j, p.ID)
		}
		seen[p.ID] = i
	}
}

// checkWorkflows checks the destinations, and the workflows (declared, and
// implied by forward_to) against them.
func (c *Config) checkWorkflows(actions *action.Registry, add func(path, format string, args ...any)) {
	kinds := map[string]string{}
	for i, d := range c.Destinations {
		path := fmt.Sprintf("destinations[%d]", i)
		for field, msg := range d.problems(actions) {
			add(path+"."+field, "%s", msg)
		}
		if _, dup := kinds[d.ID]; dup {
			add(path+".id", "duplicates destination %q", d.ID)
		}
		kinds[d.ID] = d.Kind
	}
	ids := map[string]bool{}
	for i, w := range c.Workflows {
		path := fmt.Sprintf("workflows[%d]", i)
		_, problems := workflow.Compile(&w, workflow.References{Actions: actions, Destinations: kinds})
		for _, p := range problems {
			add(path+"."+p[:strings.Index(p, ": ")], "%s", p[strings.Index(p, ": ")+2:])
		}
		if ids[w.ID] {
			add(path+".id", "duplicates workflow %q", w.ID)
		}
		ids[w.ID] = true
	}
	for i, s := range c.Sources {
		for j, d := range s.ForwardTo {
			w := workflow.Forward(s.ID, d)
			path := fmt.Sprintf("sources[%d].forward_to[%d]", i, j)
			if _, problems := workflow.Compile(&w, workflow.References{Actions: actions, Destinations: kinds}); problems != nil {
				// The implied workflow has one step naming d: its problems are d's.
				add(path, "%s", problems[0][strings.Index(problems[0], ": ")+2:])
			}
			if ids[w.ID] {
				add(path, "implies workflow %q, which is also declared", w.ID)
			}
			ids[w.ID] = true
		}
	}
}

// withUnset reports each value that names an environment variable that is
// not set, in place of what else is wrong with the value (an empty key is
// "required" only because its variable is missing).
func (c *Config) withUnset(problems []string) []string {
	if len(c.unset) == 0 {
		return problems
	}
	problems = slices.DeleteFunc(problems, func(p string) bool {
		path, _, _ := strings.Cut(p, ": ")
		_, unset := c.unset[path]
		return unset
	})
	for path, names := range c.unset {
		problems = append(problems, fmt.Sprintf("%s: uses environment variable %s, which is not set", path, names))
	}
	return problems
}

var hostPattern = regexp.MustCompile(`^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$`)

func validHostPattern(h string) bool { return hostPattern.MatchString(h) }

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
		SiteID: s.SiteID, APIKey: s.APIKey, WriteKey: s.WriteKey, RateLimit: s.RateLimit,
		SigningKey: s.SigningKey, TimestampTolerance: s.TimestampTolerance,
		Verify: s.Verify, EventType: s.EventType, DedupKey: s.DedupKey, ForwardTo: s.ForwardTo, ExpectEvery: s.ExpectEvery,
		Transform: s.Transform}
}
