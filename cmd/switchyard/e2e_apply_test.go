package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const applyFile = `
sources:
  - id: hooks
    kind: webhook
    verify: { scheme: standard_webhooks, secret: "${HOOK_SECRET}" }
    event_type: body.type
  - { id: cio, kind: customerio_track, site_id: site-1, api_key: "${CIO_KEY}" }
destinations:
  - { id: crm, kind: webhook, url: "https://crm.example.com/in", signing_secret: "${CRM_SECRET}", rate_limit: RATE }
workflows:
  - id: ship
    trigger: { source: hooks, types: [order] }
    steps: [ { id: send, action: webhook.send, destination: crm } ]
alerts:
  channels:
    - { id: ops, kind: webhook, url: "https://ops.example.com/alerts" }
  rules:
RULES
`

// switchyard apply makes a server hold a file's sources, destinations,
// workflows and alerts: --dry-run prints the plan (in dependency order,
// secrets as set/changed/unchanged, never their value) and exits 2; apply
// makes each change through its route (each in the audit trail); a second
// apply has nothing to do; a changed field and a rotated secret show as
// such; --prune removes what the file no longer names; an entry of the
// server's own file cannot be applied over.
func TestApply(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "server.yaml")
	os.WriteFile(own, []byte("log: { level: warn }\nsources: [ { id: web, kind: track } ]\n"+
		"destinations: [ { id: filed, kind: webhook, url: 'https://filed.example.com' } ]\n"), 0o600)
	p := start(t, filepath.Join(dir, "data"), "--config", own)
	file := filepath.Join(dir, "apply.yaml")
	write := func(rate, rules string) {
		doc := strings.ReplaceAll(strings.ReplaceAll(applyFile, "RATE", rate), "RULES", rules)
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secrets := map[string]string{"HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "CRM_SECRET": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
		"CIO_KEY": "cio-key-0123456789abcdef"}
	apply := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := run(t.Context(), append([]string{"apply", "--url", p.url, "-f", file}, args...), func(k string) string { return secrets[k] }, &out, &errs)
		for _, s := range secrets {
			if strings.Contains(out.String()+errs.String(), s) {
				t.Fatalf("apply printed a secret:\n%s%s", out.String(), errs.String())
			}
		}
		return out.String(), err
	}
	write("10", "    - { id: quiet, kind: source_silent, source: hooks, channels: [ops] }")

	out, err := apply("--dry-run")
	var code exitCode
	if !errors.As(err, &code) || code != 2 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	want := "+ destination crm (secrets: signing_secret set)\n+ source hooks (secrets: verify set)\n+ source cio (secrets: api_key set)\n+ workflow ship\n" +
		"+ alert channel ops\n+ alert rule quiet\napply: 6 changes, 0 unchanged\n"
	if out != want {
		t.Fatalf("the dry run printed\n%s\nwant\n%s", out, want)
	}
	if resp, _ := http.Get(p.url + "/admin/v1/destinations/crm"); resp.StatusCode != 404 {
		t.Fatalf("the dry run changed the server: %d", resp.StatusCode)
	}

	if out, err = apply(); err != nil || !strings.HasSuffix(out, "apply: made 6 changes\n") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	var dest struct {
		Origin   string
		Settings map[string]string
	}
	json.Unmarshal(get(t, p.url+"/admin/v1/destinations/crm", ""), &dest)
	if dest.Origin != "api" || dest.Settings["signing_secret"] != "[redacted]" {
		t.Fatalf("crm: %+v", dest)
	}
	var cio struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal(get(t, p.url+"/admin/v1/sources/cio", ""), &cio)
	if cio.APIKey != secrets["CIO_KEY"] {
		t.Fatalf("cio: %+v", cio)
	}

	if out, err = apply(); err != nil || out != "apply: nothing to do: the server holds the 6 items of "+file+" as written\n" {
		t.Fatalf("second apply: %v\n%s", err, out)
	}

	write("5", "    - { id: quiet, kind: source_silent, source: hooks, channels: [ops] }")
	secrets["CRM_SECRET"] = "whsec_dGhpcyBpcyBhIG5ldyBzZWNyZXQgMTIzNDU2"
	out, err = apply("--dry-run")
	if !errors.As(err, &code) || out != "~ destination crm: rate_limit (secrets: signing_secret changed)\napply: 1 change, 5 unchanged\n" {
		t.Fatalf("the changed file's dry run: %v\n%s", err, out)
	}
	if _, err = apply(); err != nil {
		t.Fatal(err)
	}

	write("5", "")
	if out, err = apply(); err != nil || !strings.HasPrefix(out, "apply: nothing to do") {
		t.Fatalf("without --prune a rule the file dropped stays: %v\n%s", err, out)
	}
	if out, err = apply("--prune"); err != nil || out != "- alert rule quiet\napply: 1 change, 5 unchanged\napply: made 1 change\n" {
		t.Fatalf("--prune: %v\n%s", err, out)
	}

	// Each change is in the audit trail (the plans too, as what they are).
	var audit struct {
		Entries []struct{ Action, Target string }
	}
	json.Unmarshal(get(t, p.url+"/admin/v1/audit?limit=1000", ""), &audit)
	changes := map[string]int{}
	for _, e := range audit.Entries {
		if e.Action != "POST /admin/v1/plan" {
			changes[e.Action+" "+e.Target]++
		}
	}
	if fmt.Sprint(changes) != "map[DELETE /admin/v1/alert-rules/{id} alert-rules/quiet:1 POST /admin/v1/alert-channels alert-channels:1 "+
		"POST /admin/v1/alert-rules alert-rules:1 POST /admin/v1/destinations destinations:1 POST /admin/v1/sources sources:2 "+
		"POST /admin/v1/workflows workflows:1 PUT /admin/v1/destinations/{id} destinations/crm:1]" {
		t.Fatalf("the audit trail: %v", changes)
	}

	// The server's own file defines filed: apply cannot change it.
	os.WriteFile(file, []byte("destinations: [ { id: filed, kind: webhook, url: 'https://elsewhere.example.com' } ]\n"), 0o600)
	out, err = apply()
	if err == nil || !strings.Contains(out, "! destination filed: defined in the server's configuration file") {
		t.Fatalf("applying over the server's file: %v\n%s", err, out)
	}
}
