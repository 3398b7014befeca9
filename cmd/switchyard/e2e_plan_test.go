package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// From traffic to a plan: the catalog sees purchases, plan infer writes
// their schema as a tracking plan's entry, apply puts a block plan made of
// it in force through the management API, and the server then refuses a
// purchase that breaks it (Tracardi's 422) while it accepts a good one.
func TestPlanInferThenApply(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "server.yaml")
	os.WriteFile(own, []byte("log: { level: warn }\nsources: [ { id: web, kind: track } ]\n"), 0o600)
	p := start(t, filepath.Join(dir, "data"), "--config", own)
	track := func(session, props string) int {
		resp, err := http.Post(p.url+"/track", "application/json", strings.NewReader(
			`{"source":{"id":"web"},"session":{"id":"`+session+`"},"events":[{"type":"purchase","properties":`+props+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, props := range []string{`{"revenue": 12.5, "currency": "EUR"}`, `{"revenue": 3, "currency": "USD", "coupon": "X"}`} {
		if status := track("s"+string(rune('a'+i)), props); status != 200 {
			t.Fatalf("purchase answered %d", status)
		}
	}
	out := filepath.Join(dir, "purchase.yaml")
	testenv.Eventually(t, "the catalog to have seen purchases", 20*time.Second, func() bool {
		var stdout, stderr bytes.Buffer
		return run(t.Context(), []string{"plan", "infer", "--url", p.url, "--source", "web", "--type", "purchase", "--format", "yaml", "--out", out},
			os.Getenv, &stdout, &stderr) == nil
	})
	entry, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(entry), "purchase:") || !strings.Contains(string(entry), "required:") {
		t.Fatalf("plan infer wrote\n%s", entry)
	}
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(string(entry)), "\n", "\n    ")
	file := filepath.Join(dir, "plans.yaml")
	os.WriteFile(file, []byte("tracking_plans:\n  - id: purchases\n    mode: block\n    sources: [web]\n"+indented+"\n"), 0o600)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"apply", "--url", p.url, "-f", file}, os.Getenv, &stdout, &stderr); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "+ tracking plan purchases") {
		t.Errorf("apply said\n%s", stdout.String())
	}
	testenv.Eventually(t, "the plan to refuse a purchase without a currency", 20*time.Second, func() bool {
		return track("sc", `{"revenue": 1}`) == 422
	})
	if status := track("sd", `{"revenue": 1, "currency": "EUR"}`); status != 200 {
		t.Fatalf("a good purchase answered %d", status)
	}
	var plan, help bytes.Buffer
	if err := run(t.Context(), []string{"plan", "--help"}, os.Getenv, &help, &plan); err != nil || !strings.Contains(help.String(), "plan infer") {
		t.Errorf("plan --help: %v %q", err, help.String())
	}
	if err := run(t.Context(), []string{"plan", "infer", "--url", p.url, "--source", "web", "--type", "nope"}, os.Getenv, &plan, &plan); err == nil ||
		!strings.Contains(err.Error(), "no \"nope\" events") {
		t.Errorf("infer of an unseen type: %v", err)
	}
}
