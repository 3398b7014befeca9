package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestConsoleInBrowser drives the web console in headless Chromium
// (testdata/console_e2e.mjs, with npm's playwright-core) against the real
// binary: every page loads without console errors at desktop and phone
// widths, an event shows on Live within 1 s, a profile is found and
// erased, a failed run is retried from its page, a CEL error shows inline.
// Screenshots land in screenshots/console (git-ignored). It needs
// SWITCHYARD_TEST_NODE_MODULES with playwright-core, and Chromium
// (/usr/bin/chromium or $CHROMIUM); .ci/run provides both.
func TestConsoleInBrowser(t *testing.T) {
	modules := os.Getenv("SWITCHYARD_TEST_NODE_MODULES")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(filepath.Join(modules, "playwright-core")); modules == "" || err != nil {
		t.Skip("SWITCHYARD_TEST_NODE_MODULES has no playwright-core (.ci/run installs it)")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no Chromium at " + chromium + " (.ci/run installs Debian's chromium)")
	}
	// The stand-in refuses deliveries until told to recover.
	var recovered atomic.Bool
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/recover":
			recovered.Store(true)
		case !recovered.Load():
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer standIn.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
sources: [ { id: web, kind: track } ]
destinations:
  - { id: app, kind: webhook, url: %q, allow_private_network: true, retry: { max_attempts: 1 } }
workflows:
  - id: notify
    trigger: { source: web, types: [purchase] }
    steps: [ { id: tell, action: webhook.send, destination: app } ]
tracking_plans:
  - id: orders
    sources: [web]
    events:
      signup: { properties: { type: object, required: [plan] } }
`, standIn.URL+"/in"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, filepath.Join(dir, "data"), "--config", cfg)
	shots, _ := filepath.Abs(filepath.Join("..", "..", "screenshots", "console"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "console_e2e.mjs"), p.url, standIn.URL, shots)
	cmd.Env = append(os.Environ(), "NODE_MODULES_DIR="+modules, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("browser checks failed: %v\nserver stderr:\n%s", err, p.stderr)
	}
}
