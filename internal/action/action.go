// Package action describes what a workflow step can call. Each family of
// actions (Customer.io, signed webhooks, any HTTP API, Slack) lives in a
// package below this one and describes itself: the kind of destination it
// sends to, with that kind's settings and which of them are secrets, and
// each action kind's inputs, description and request builder. Config
// validation, the dry run, the runner, the API documents, the docs' action
// table and the console all read these descriptions, so that adding an
// action is one package and one line in package builtin.
package action

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// Types of an input, as the docs and the console name them.
const (
	String = "string"
	Object = "object"
	List   = "list"
	// Time is Unix seconds or an RFC 3339 timestamp.
	Time = "time"
	// Any is whatever the expression gives (a request body).
	Any = "any"
)

// Input is one input of an action (a key of a step's `with`).
type Input struct {
	Name        string
	Type        string
	Required    bool
	Description string
}

// Setting is one setting of a destination kind (a key of a destination in
// the configuration besides those every kind has).
type Setting struct {
	Name     string
	Required bool
	// Secret settings are masked wherever a request, an answer or an
	// error is recorded or shown.
	Secret      bool
	Description string
}

// Call is an action ready to send: the request and how to read a success.
type Call struct {
	Request httpclient.Request
	// Output turns a successful attempt's response into the step output.
	Output func(status int, body []byte) (any, error)
	// Part, if set, is the call as one item of a batch, for a destination
	// that batches (its kind's Batching joins the parts).
	Part *Part
}

// Part is a call as one item of a batch.
type Part struct {
	// Group: only parts of one group share a batch (http.call's method
	// and URL, s3.put's folder); "" for a kind whose batch takes any.
	Group string
	// Data is the item as the batch carries it (a JSON value, a line).
	Data []byte
	// Value is what a kind joins other than as bytes (a Kafka record).
	Value any
}

// Batching is how a destination kind joins the calls of several runs
// into one request and reads each one's outcome from the answer.
type Batching struct {
	// Join makes the request of a batch of parts of one group; key is
	// the batch's idempotency key (the same for the same items).
	Join func(d *Destination, group string, parts []Part, key string) (httpclient.Request, error)
	// Split reads each part's result from the answer to a batch that
	// succeeded (2xx); nil results, or Split nil, give every part the
	// batch's outcome.
	Split func(status int, body []byte, n int) []Result
	// MaxBytes caps a batch's bytes, whatever the destination asks.
	MaxBytes int
}

// Result is one part's outcome in a batch's answer.
type Result struct {
	// Outcome is the part's; "" for the batch's.
	Outcome httpclient.Outcome
	Error   string
	// Body is the part's own answer, for its step output; nil for the
	// batch's.
	Body []byte
}

// Batch is a destination's batching: how many calls, how many bytes and
// how long a call waits for others before the batch goes.
type Batch struct {
	MaxItems int
	MaxBytes int
	MaxWait  time.Duration
}

// Batch defaults.
const (
	DefaultBatchItems = 100
	DefaultBatchBytes = 1 << 20
	DefaultBatchWait  = time.Second
)

// Spec describes one action kind.
type Spec struct {
	// Kind is what a step's `action` names, <family>.<verb>.
	Kind string
	// Destination is the kind of destination it sends to; "" means it may
	// run without one (http.call with a full URL).
	Destination string
	Inputs      []Input
	// Description is one paragraph for the docs and the console.
	Description string
	// EventBody: without a `body` input the triggering event is sent.
	EventBody bool
	// Build makes the request from the evaluated inputs. key is the step's
	// idempotency key (the same on every attempt); now signs requests.
	Build func(d *Destination, in map[string]any, key string, now time.Time) (Call, error)
	// Explain, if set, reads the destination's reason from a failed
	// attempt's answer, for the run log.
	Explain func(body []byte) string
}

// Input returns the input named name.
func (s *Spec) Input(name string) (Input, bool) {
	i := slices.IndexFunc(s.Inputs, func(in Input) bool { return in.Name == name })
	if i < 0 {
		return Input{}, false
	}
	return s.Inputs[i], true
}

// DestinationKind describes a kind of destination.
type DestinationKind struct {
	Kind        string
	Description string
	Settings    []Setting
	// Check, if set, adds problems beyond required and unknown settings,
	// keyed by setting.
	Check func(d *Destination) map[string]string
	// Secrets, if set, derives secrets beyond the secret settings (an
	// Authorization header's encoded value).
	Secrets func(d *Destination) []string
	// Connect, if set, opens the destination's connection, over which the
	// requests its actions build with a Send go (brokers, object stores).
	// It is opened once and shared by every attempt to the destination.
	Connect func(ctx context.Context, d *Destination, dial httpclient.DialFunc) (httpclient.Conn, error)
	// Batching, if set, lets a destination of the kind take `batch`.
	Batching *Batching
}

// Family is what an action package registers: its destination kind and
// its action kinds.
type Family struct {
	Destination *DestinationKind
	Actions     []*Spec
}

// Destination is a configured destination: where actions send, with the
// settings of its kind and the pacing every kind has.
type Destination struct {
	ID, Kind string
	// Settings holds the kind's settings by name (site_id, url …).
	Settings            map[string]string
	RateLimit           float64
	Concurrency         int
	AllowPrivateNetwork bool
	Timeout             time.Duration
	Retry               *httpclient.Policy // nil: the step's or the default
	Breaker             Breaker
	// Batch, if set, groups the calls to the destination (its kind must
	// have Batching).
	Batch *Batch
}

// Breaker is a destination's circuit breaker configuration.
type Breaker struct {
	// Failures is how many consecutive retryable failures open it.
	Failures int
	// Cooldown is how long it stays open before a probe; each failed
	// probe doubles it, up to MaxCooldown.
	Cooldown, MaxCooldown time.Duration
}

// DefaultBreaker is the breaker of a destination that sets none.
var DefaultBreaker = Breaker{Failures: 10, Cooldown: 30 * time.Second, MaxCooldown: 10 * time.Minute}

// Get returns the setting name, or "" (also of no destination).
func (d *Destination) Get(name string) string {
	if d == nil {
		return ""
	}
	return d.Settings[name]
}

// Registry holds every destination kind and action kind.
type Registry struct {
	dests   map[string]*DestinationKind
	actions map[string]*Spec
}

// NewRegistry registers families. Two kinds of one name are a programming
// error: it panics.
func NewRegistry(families ...Family) *Registry {
	r := &Registry{dests: map[string]*DestinationKind{}, actions: map[string]*Spec{}}
	for _, f := range families {
		if d := f.Destination; d != nil {
			if _, dup := r.dests[d.Kind]; dup {
				panic("action: destination kind " + d.Kind + " registered twice")
			}
			r.dests[d.Kind] = d
		}
		for _, s := range f.Actions {
			if _, dup := r.actions[s.Kind]; dup {
				panic("action: action kind " + s.Kind + " registered twice")
			}
			r.actions[s.Kind] = s
		}
	}
	return r
}

// Action returns the action kind named kind.
func (r *Registry) Action(kind string) (*Spec, bool) {
	s, ok := r.actions[kind]
	return s, ok
}

// Actions returns every action kind, sorted by kind.
func (r *Registry) Actions() []*Spec {
	return slices.SortedFunc(maps.Values(r.actions), func(a, b *Spec) int { return strings.Compare(a.Kind, b.Kind) })
}

// ActionKinds returns the names of every action kind, sorted.
func (r *Registry) ActionKinds() []string { return slices.Sorted(maps.Keys(r.actions)) }

// DestinationKind returns the destination kind named kind.
func (r *Registry) DestinationKind(kind string) (*DestinationKind, bool) {
	d, ok := r.dests[kind]
	return d, ok
}

// DestinationKinds returns every destination kind, sorted by kind.
func (r *Registry) DestinationKinds() []*DestinationKind {
	return slices.SortedFunc(maps.Values(r.dests), func(a, b *DestinationKind) int { return strings.Compare(a.Kind, b.Kind) })
}

// Check returns the problems of a destination's kind and settings, keyed
// by setting ("kind" for an unknown kind).
func (r *Registry) Check(d *Destination) map[string]string {
	k, ok := r.dests[d.Kind]
	if !ok {
		kinds := slices.Sorted(maps.Keys(r.dests))
		return map[string]string{"kind": fmt.Sprintf("must be one of %s, not %q", strings.Join(kinds, ", "), d.Kind)}
	}
	p := map[string]string{}
	var names []string
	for _, s := range k.Settings {
		names = append(names, s.Name)
		if s.Required && d.Settings[s.Name] == "" {
			p[s.Name] = "is required for kind " + d.Kind
		}
	}
	for name, v := range d.Settings {
		if v != "" && !slices.Contains(names, name) {
			p[name] = fmt.Sprintf("is not a setting of kind %s (its settings: %s)", d.Kind, strings.Join(names, ", "))
		}
	}
	if k.Check != nil {
		maps.Copy(p, k.Check(d))
	}
	return p
}

// Client is the httpclient.Target of d: its pacing and the secrets
// to mask in what its attempts record.
func (r *Registry) Client(d *Destination) httpclient.Target {
	t := httpclient.Target{ID: d.ID, RateLimit: d.RateLimit, Concurrency: d.Concurrency,
		AllowPrivateNetwork: d.AllowPrivateNetwork, Timeout: d.Timeout, Secrets: r.Secrets(d)}
	if k, ok := r.dests[d.Kind]; ok && k.Connect != nil {
		t.Connect = func(ctx context.Context, dial httpclient.DialFunc) (httpclient.Conn, error) {
			return k.Connect(ctx, d, dial)
		}
		t.Settings = settingsKey(d.Settings)
	}
	return t
}

// settingsKey identifies a destination's settings: a changed one makes
// the client reconnect.
func settingsKey(settings map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%q=%q;", k, settings[k])
	}
	return b.String()
}

// Secrets returns the values of d to mask: its secret settings, the
// credentials of any URL setting, and what its kind derives.
func (r *Registry) Secrets(d *Destination) []string {
	var out []string
	k, ok := r.dests[d.Kind]
	if !ok {
		return nil
	}
	for _, s := range k.Settings {
		v := d.Settings[s.Name]
		if v == "" {
			continue
		}
		if s.Secret {
			out = append(out, v)
		}
		out = append(out, redact.URLSecrets(v)...)
	}
	if k.Secrets != nil {
		out = append(out, k.Secrets(d)...)
	}
	return out
}

// CheckURL returns the problem of a setting that must be an http(s) URL,
// or "". It does not quote the value, which may be a secret.
func CheckURL(v string) string {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http(s) URL such as https://example.com/hooks"
	}
	return ""
}

// SecretSettings are the names of the settings some destination kind
// keeps secret.
func (r *Registry) SecretSettings() []string {
	var out []string
	for _, k := range r.DestinationKinds() {
		for _, s := range k.Settings {
			if s.Secret && !slices.Contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	return out
}
