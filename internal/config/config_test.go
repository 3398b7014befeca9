package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/auth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		doc := `
listen: ":9000"
data_dir: /var/lib/sy
admin:
  tokens: ["${TOKEN}", {name: dashboards, token: v-1, role: viewer}]
sources:
  - id: web
    kind: track
  - id: off
    kind: track
    enabled: false
`
		cfg, err := Parse([]byte(doc), env(map[string]string{"TOKEN": "s3cr: et"}), actions)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(actions); err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Admin.AccessTokens(), []auth.Token{{Name: "tokens[0]", Secret: "s3cr: et", Role: auth.Admin},
			{Name: "dashboards", Secret: "v-1", Role: auth.Viewer}}; !cmp.Equal(got, want) {
			t.Fatalf("Tokens=%+v, want %+v", got, want)
		}
		if got, want := cfg.Listen, ":9000"; got != want {
			t.Fatalf("Listen=%q, want %q", got, want)
		}
		if got := cfg.Durability; got != DurabilityProcess {
			t.Fatalf("Durability=%q, want default %q", got, DurabilityProcess)
		}
		if got := cfg.Sources[1].Source("config").Enabled; got {
			t.Fatal("sources[1] enabled, want disabled")
		}
	})
	t.Run("EmptyDocumentIsDefault", func(t *testing.T) {
		cfg, err := Parse(nil, env(nil), actions)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(actions); err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.MaxBodyBytes, int64(1<<20); got != want {
			t.Fatalf("MaxBodyBytes=%d, want %d", got, want)
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		_, err := Parse([]byte("listn: ':1'\n"), env(nil), actions)
		if err == nil || !strings.Contains(err.Error(), "listn") {
			t.Fatalf("err=%v, want unknown field listn", err)
		}
	})
	t.Run("ErrSyntax", func(t *testing.T) {
		if _, err := Parse([]byte("listen: [\n"), env(nil), actions); err == nil {
			t.Fatal("want a parse error")
		}
	})
	t.Run("EnvCannotInjectStructure", func(t *testing.T) {
		cfg, err := Parse([]byte(`listen: "${L}"`), env(map[string]string{"L": "x\ndata_dir: /etc"}), actions)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DataDir != "./data" {
			t.Fatalf("DataDir=%q: an env value changed the document structure", cfg.DataDir)
		}
	})
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := `
listen: "nope"
durability: sometimes
max_body_bytes: 0
event_retention: 12h
memory_limit_bytes: 1000
backpressure: {max_delay: 10ms, max_bytes: 1024}
log: {level: loud, format: xml}
admin:
  tokens: ["${MISSING_TOKEN}", {name: a, token: t1, role: root}, {name: a, token: t1}]
sources:
  - id: "@internal"
    kind: track
  - id: web
    kind: carrier-pigeon
  - id: web
    kind: track
`
	cfg, err := Parse([]byte(doc), env(nil), actions)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(actions)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"listen:", "durability:", "max_body_bytes:", "log.level:", "log.format:",
		"memory_limit_bytes: must be 0 (no limit) or at least 67108864 (64 MiB), not 1000",
		`backpressure.max_delay: must be a duration of at least 1s such as 30s, not "10ms"`,
		"backpressure.max_bytes: must be at least 16777216 (16 MiB), not 1024",
		`event_retention: must be a duration of at least a day such as 2160h (90 days), or empty to keep events, not "12h"`,
		"admin.tokens[0]: uses environment variable MISSING_TOKEN, which is not set",
		`admin.tokens[1].role: role must be viewer, operator or admin, not "root"`,
		`admin.tokens[2]: repeats another token`, `admin.tokens[2].name: "a" names another token too`,
		"sources[0].id:", `sources[1].kind: unknown source kind "carrier-pigeon"`,
		`sources[2].id: duplicates sources[1].id "web"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestWorkflowsAndDestinations(t *testing.T) {
	good := `
destinations:
  - { id: cio, kind: customerio, site_id: s, api_key: "${KEY}", region: eu, rate_limit: 100 }
  - { id: app, kind: webhook, url: "https://example.com/hooks", signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
workflows:
  - id: welcome
    trigger: { source: cio-reports, types: [email_delivered], if: "event.properties.subject != ''" }
    steps:
      - id: notify
        action: customerio.track_event
        destination: cio
        with: { identifier: "profile.identifiers.id", name: "'email_seen'", data: "event.properties" }
`
	cfg, err := Parse([]byte(good), func(string) string { return "k" }, actions)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(actions); err != nil {
		t.Fatal(err)
	}
	if d := cfg.Destinations[0].Destination(); d.Get("region") != "eu" || d.RateLimit != 100 {
		t.Errorf("destination %+v", d)
	}
	bad := `
destinations:
  - { id: cio, kind: customerio, site_id: s }
  - { id: cio, kind: fax }
  - { id: hook, kind: webhook, url: "ftp://x", signing_secret: "not base64!", timeout: soon, retry: { base: never } }
workflows:
  - id: w
    steps:
      - id: notify
        action: customerio.track_event
        destination: hook
        with: { name: "event." }
`
	cfg, err = Parse([]byte(bad), func(string) string { return "" }, actions)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(actions)
	for _, want := range []string{
		"destinations[0].api_key:", "destinations[0].site_id: site_id and api_key go together", "destinations[1].kind: must be one of",
		"destinations[1].id: duplicates", "destinations[2].url:", "destinations[2].signing_secret:", "destinations[2].timeout:",
		"destinations[2].retry.base:", `workflows[0].steps[0].destination: "hook" is of kind webhook`, "workflows[0].steps[0].with.name: ERROR",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestForwardTo(t *testing.T) {
	cfg, err := Parse([]byte(`
sources: [ { id: hooks, kind: track, forward_to: [app, cio, nope] } ]
destinations:
  - { id: app, kind: webhook, url: "https://example.com/in" }
  - { id: cio, kind: customerio, site_id: s, api_key: k }
`), func(string) string { return "" }, actions)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(actions)
	for _, want := range []string{`sources[0].forward_to[1]: "cio" is of kind customerio`,
		`sources[0].forward_to[2]: no destination "nope"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"app"`) {
		t.Errorf("the webhook destination was refused: %v", err)
	}
}

func TestNATSConnectionOptions(t *testing.T) {
	good := `
nats_url: tls://nats-1:4222,tls://nats-2:4222
nats_credentials: /etc/switchyard/nats.creds
nats_tls: { ca_file: /etc/switchyard/ca.pem, cert_file: /etc/switchyard/client.pem, key_file: /etc/switchyard/client-key.pem }
`
	cfg, err := Parse([]byte(good), env(nil), actions)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(actions); err != nil {
		t.Fatal(err)
	}
	if cfg.NATSCredentials != "/etc/switchyard/nats.creds" || cfg.NATSTLS.KeyFile != "/etc/switchyard/client-key.pem" {
		t.Fatalf("parsed %+v", cfg)
	}
	bad := `
nats_credentials: a.creds
nats_nkey: a.nk
nats_tls: { cert_file: client.pem }
`
	cfg, err = Parse([]byte(bad), env(nil), actions)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(actions)
	for _, want := range []string{"nats_url: is needed by", "nats_nkey: cannot be used with nats_credentials", "nats_tls: cert_file and key_file go together"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestEventRetention(t *testing.T) {
	for doc, want := range map[string]time.Duration{``: 0, `event_retention: 2160h`: 90 * 24 * time.Hour} {
		cfg, err := Parse([]byte(doc), env(nil), actions)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(actions); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
		if got := cfg.EventRetentionDuration(); got != want {
			t.Errorf("%q: retention %v, want %v", doc, got, want)
		}
	}
	cfg, err := Parse([]byte(`event_retention: forever`), env(nil), actions)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(actions); err == nil || !strings.Contains(err.Error(), "event_retention:") {
		t.Errorf("forever: %v, want an event_retention error", err)
	}
}

// A file with mistyped keys and values of the wrong type gets every
// problem at once, each with its YAML path and its line in the file as
// written (comments and blank lines included), a suggestion for a near
// miss, and no Go type names.
func TestParseReportsEveryKeyProblem(t *testing.T) {
	doc := `# a comment line

lsten: ":1"
max_body_bytes: lots
durability: sometimes
sources:
  - id: web
    kind: track
    sekret: x   # not a key of a source

  - id: hooks
    kind: webhook
    verify: {scheme: none, secert: y}
workflows: 5
admin:
  tokens: tok
destinations:
  - {id: bus, kind: nats, url: "nats://127.0.0.1:4222", strem: ORDERS}
  - {id: lake, kind: s3, endpoint: "https://s3.amazonaws.com", bucket: b, brokers: x}
`
	_, err := Parse([]byte(doc), func(string) string { return "" }, actions)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`lsten (line 3): unknown key "lsten"; did you mean "listen"?`,
		`max_body_bytes (line 4): "lots" is text, but this key takes a whole number`,
		`sources[0].sekret (line 9): unknown key "sekret"; known keys here: api_key, dedup_key,`,
		`sources[1].verify.secert (line 13): unknown key "secert"; did you mean "secret"?`,
		`workflows (line 14): "5" is a number, but this key takes a list`,
		`admin.tokens (line 16): "tok" is text, but this key takes a list`,
		`durability: must be "process" or "fsync", not "sometimes"`,
		`destinations[0].strem (line 18): unknown key "strem"; did you mean "stream"?`,
		`destinations[1].brokers (line 19): unknown key "brokers"; known keys here:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, goName := range []string{"int64", "config.", "[]string", "workflow.Workflow", "unmarshal"} {
		if strings.Contains(err.Error(), goName) {
			t.Errorf("error names the Go type %q:\n%v", goName, err)
		}
	}
}

// An environment variable that is not set is reported on each value that
// names it, instead of what else is wrong with that value; a value
// expanded from the environment is typed as written plainly.
func TestUnsetVariableOnItsField(t *testing.T) {
	doc := `max_body_bytes: ${BODY_MAX}
sources:
  - id: cio
    kind: customerio_track
    site_id: "${CIO_SITE}"
    api_key: "${CIO_KEY}"
    name: "${APP_NAME}-${NAME}"
`
	env := map[string]string{"BODY_MAX": "2048", "CIO_SITE": "s1"}
	cfg, err := Parse([]byte(doc), func(k string) string { return env[k] }, actions)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBodyBytes != 2048 || cfg.Sources[0].SiteID != "s1" {
		t.Errorf("expanded values: %d %q", cfg.MaxBodyBytes, cfg.Sources[0].SiteID)
	}
	err = cfg.Validate(actions)
	want := "sources[0].api_key: uses environment variable CIO_KEY, which is not set"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "api_key: is required") {
		t.Errorf("validate: %v; want %q alone for api_key", err, want)
	}
	// Each variable is named, even one whose name is part of another's.
	if want := "sources[0].name: uses environment variable APP_NAME, NAME, which is not set"; !strings.Contains(err.Error(), want) {
		t.Errorf("validate: %v; want %q", err, want)
	}
}

// Whatever the file holds, Parse answers with a configuration or an
// error, never a panic, and its errors never name Go types.
func FuzzParse(f *testing.F) {
	f.Add("listen: \":8686\"\nsources:\n  - id: web\n    kind: track\n")
	f.Add("lsten: x\nworkflows: 5\nadmin: {tokens: a}\n")
	f.Add("sources: [{id: a, kind: webhook, verify: {scheme: none, x: [1]}}]\nmax_body_bytes: ${X}\n")
	f.Add("- a\n- b\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := Parse([]byte(doc), func(string) string { return "" }, actions)
		if err != nil {
			if cfg != nil {
				t.Fatal("a configuration with an error")
			}
			for _, goName := range []string{"config.Config", "config.Source", "workflow.", "int64"} {
				if strings.Contains(err.Error(), goName) && !strings.Contains(doc, goName) {
					t.Fatalf("error names %q: %v", goName, err)
				}
			}
			return
		}
		_ = cfg.Validate(actions)
	})
}
