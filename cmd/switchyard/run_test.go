package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

func TestRunCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"version"}, os.Getenv, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "switchyard ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(t.Context(), []string{"frobnicate"}, os.Getenv, &out, &errOut); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(t.Context(), nil, os.Getenv, &out, &errOut); err == nil {
		t.Fatal("no command accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("sources:\n  - id: web\n    kind: track\nadmin:\n  tokens: [\"${TOK}\"]\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("durability: maybe\nsources:\n  - id: web\n    kind: fax\n"), 0o600)
	env := func(k string) string { return map[string]string{"TOK": "secret"}[k] }
	var out bytes.Buffer
	if err := run(t.Context(), []string{"config", "validate", good}, env, &out, &out); err != nil || !strings.Contains(out.String(), "ok: 1 source, 0 destinations, 0 workflows with 0 steps") {
		t.Fatalf("good config: %v %q", err, out.String())
	}
	err := run(t.Context(), []string{"config", "validate", bad}, env, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "durability") || !strings.Contains(err.Error(), "sources[0].kind") {
		t.Fatalf("bad config: %v", err)
	}
	hooks := filepath.Join(dir, "hooks.yaml")
	os.WriteFile(hooks, []byte("sources:\n  - id: h\n    kind: webhook\n    verify: {scheme: standard_webhooks, secret: \"whsec_!\"}\n    event_type: \"body.\"\n"+
		"  - id: c\n    kind: customerio_webhook\n"), 0o600)
	err = run(t.Context(), []string{"config", "validate", hooks}, env, &out, &out)
	for _, want := range []string{"sources[0].event_type: ERROR", "sources[0].verify.secret", "sources[1].signing_key: is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("webhook config: %v, want %q", err, want)
		}
	}
	if err := run(t.Context(), []string{"config", "validate", filepath.Join(dir, "missing.yaml")}, env, &out, &out); err == nil {
		t.Fatal("missing file accepted")
	}
}

// lockedBuffer lets the test read what serve printed while it runs.
type lockedBuffer struct{ syncWriter }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.(*bytes.Buffer).String()
}

// TestServeInProcess runs serve through run (so the race detector sees the
// whole wiring) with a config file and flag overrides, then cancels it.
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfgPath, []byte("listen: \"127.0.0.1:1\"\nsources:\n  - id: web\n    kind: track\nlog:\n  level: warn\n"), 0o600)
	ctx, cancel := context.WithCancel(t.Context())
	stdout := &lockedBuffer{syncWriter{w: &bytes.Buffer{}}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")},
			os.Getenv, stdout, &bytes.Buffer{})
	}()
	var url string
	testenv.Await(t, "serve's whole banner", 30*time.Second, func() (bool, string) {
		// The banner is written a line at a time: read it once whole.
		out := stdout.String()
		if m := urlLine.FindStringSubmatch(out); m != nil && strings.Contains(out, "Press Ctrl-C") {
			url = m[1]
		}
		return url != "", out
	})
	if !strings.Contains(stdout.String(), `source "web"`) || strings.Contains(stdout.String(), `"default"`) {
		t.Fatalf("with configured sources no default source is made; banner:\n%s", stdout)
	}
	code, err := post(url+"/track", `{"source":{"id":"web"},"events":[{"type":"x"}]}`)
	if err != nil || code != 200 {
		t.Fatalf("track: %d %v", code, err)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	// The container's health check says so too, and fails where nothing listens.
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health", "--url", url}, os.Getenv, &out, &bytes.Buffer{}); err != nil || out.String() != "ready\n" {
		t.Errorf("health: %q %v", out.String(), err)
	}
	if err := run(t.Context(), []string{"health", "--url", "http://127.0.0.1:1"}, os.Getenv, &out, &bytes.Buffer{}); err == nil {
		t.Error("health succeeded with nothing listening")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// The banner names the external engines by address, never with their
// credentials.
func TestBannerEngines(t *testing.T) {
	cfg := config.Default()
	if got := engines(cfg); got != "embedded NATS JetStream + SQLite" {
		t.Errorf("embedded: %q", got)
	}
	cfg.NATSURL = "nats://u:natspass@n1:4222, nats://n2:4222"
	cfg.PostgresURL = "postgres://sy:pgpass@db:5432/switchyard?sslmode=require"
	got := engines(cfg)
	if want := "NATS JetStream at n1:4222,n2:4222 + PostgreSQL at db:5432/switchyard"; got != want {
		t.Errorf("external: %q, want %q", got, want)
	}
	if strings.Contains(got, "pass") {
		t.Errorf("credentials in the banner: %q", got)
	}
}

// A step with a misspelled action still has its other fields checked, and
// serve reports exactly the problems config validate reports (one code
// path), each literal written where an expression belongs with its fix.
func TestServeAndValidateReportAlike(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte(`
destinations:
  - {id: d, kind: http, url: "https://example.com", timeout: soon}
workflows:
  - id: w
    trigger: {source: nosrc}
    steps:
      - id: s
        action: webhook.sned
        destination: nosuchdest
        with: { body: "bareword", url: /v1/things }
`), 0o600)
	validate, err := exec.Command(bin(t), "config", "validate", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted it: %s", validate)
	}
	serve, err := exec.Command(bin(t), "serve", "--config", cfg, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil {
		t.Fatalf("serve started: %s", serve)
	}
	if string(serve) != string(validate) {
		t.Fatalf("serve reported\n%s\nvalidate reported\n%s", serve, validate)
	}
	for _, want := range []string{`unknown action "webhook.sned"`, `no destination "nosuchdest"`, `did you mean "'bareword'"`,
		`did you mean "'/v1/things'"`, "destinations[0].timeout"} {
		if !strings.Contains(string(validate), want) {
			t.Errorf("validate does not report %s:\n%s", want, validate)
		}
	}
}

// The banner lists every enabled source with the URL or setting to paste
// (webhook sources too), and with a separate admin listener says where
// tail, listen and send must point.
func TestBannerListsEverySource(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(`
admin: {listen: "127.0.0.1:0"}
sources:
  - {id: web, kind: track}
  - {id: cio, kind: customerio_track, site_id: s1, api_key: k1}
  - {id: cdp, kind: customerio_pipelines, write_key: w1}
  - {id: cio-reports, kind: customerio_webhook, signing_key: sk}
  - {id: stripe, kind: webhook, verify: {scheme: none}}
`), 0o600)
	p := start(t, filepath.Join(dir, "data"), "--config", cfg)
	for _, want := range []string{
		`source "web" (kind track): Tracardi trackers use ` + p.url + "/track",
		`customerio-node 5 or later {url: "` + p.url + `/api/v1"}`,
		`customerio.WithURL("` + p.url + `")`,
		`customerio-node 5 or later {url: "` + p.url + `/v1"}`,
		`source "cio-reports" (kind customerio_webhook): paste ` + p.url + "/webhooks/cio-reports",
		`source "stripe" (kind webhook): the provider posts to ` + p.url + "/webhooks/stripe",
		"switchyard tail and listen need --url http://127.0.0.1:",
	} {
		if !strings.Contains(p.banner, want) {
			t.Errorf("banner lacks %s:\n%s", want, p.banner)
		}
	}
}

// Tracing follows the configuration or the standard OTEL_* variables.
func TestTracingOn(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		cfg  bool
		env  []string
		want bool
	}{
		{false, nil, false},
		{true, nil, true},
		{false, []string{"OTEL_TRACES_EXPORTER", "otlp"}, true},
		{false, []string{"OTEL_TRACES_EXPORTER", "none"}, false},
		{true, []string{"OTEL_SDK_DISABLED", "true"}, false},
	} {
		if got := tracingOn(config.Tracing{Enabled: c.cfg}, env(c.env...)); got != c.want {
			t.Errorf("enabled %v, env %v: %v, want %v", c.cfg, c.env, got, c.want)
		}
	}
}
