package admin

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// FuzzDecodeWorkflow: any workflow body, JSON or YAML, is either refused
// as the client's mistake (invalid) or decoded and compiled, with its
// problems listed; nothing panics.
func FuzzDecodeWorkflow(f *testing.F) {
	for _, seed := range []string{
		`{"id":"w","trigger":{"source":"web","types":["x"],"if":"event.type == 'x'"},"steps":[{"id":"s","action":"webhook.send","destination":"hook"}]}`,
		"id: w\ntrigger: {source: web}\nsteps:\n  - id: s\n    action: http.call\n    with: {url: \"'/x'\"}\n",
		"a: &a [*a, *a]\n", "id: [", "{}", "steps: [{id: a, foreach: 'event.x', steps: [{id: b, wait: '1h'}]}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/admin/v1/workflows", bytes.NewReader(body))
		wf, err := decodeWorkflow(httptest.NewRecorder(), r)
		if err != nil {
			if cdp.ErrorCode(err) != cdp.EINVALID && cdp.ErrorCode(err) != cdp.ETOOLARGE {
				t.Fatalf("%q: %v is not the client's error", body, err)
			}
			return
		}
		c, problems := workflow.Compile(wf, workflow.References{Actions: builtin.Registry, Destinations: map[string]string{"hook": "webhook"}})
		if (c == nil) == (problems == nil) {
			t.Fatalf("%q: compiled %v with problems %v", body, c != nil, problems)
		}
	})
}

// FuzzAuditSummary: whatever a change's body (JSON, YAML or neither) and
// query, its summary is valid JSON of at most 8 KiB plus its field names,
// and a value under a secret-looking field, at any depth, never appears
// in it.
func FuzzAuditSummary(f *testing.F) {
	for _, seed := range []struct{ body, query string }{
		{`{"id":"pay","verify":{"secret":"S3CRETVALUE"},"list":[{"token":"S3CRETVALUE"}]}`, "confirm=true"},
		{"id: w\napi_key: S3CRETVALUE\nsteps: [{with: {headers: {Authorization: S3CRETVALUE}}}]\n", "token=S3CRETVALUE"},
		{"not json", ""}, {"", "a=%zz"}, {"[1, 2, {\"password\": \"S3CRETVALUE\"}]", ""},
	} {
		f.Add([]byte(seed.body), seed.query)
	}
	a := &Audit{SecretKeys: builtin.Registry.SecretSettings()}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		for _, ct := range []string{"application/json", "application/yaml"} {
			out := a.summary(ct, query, body)
			if out == nil {
				continue
			}
			if !json.Valid(out) || len(out) > auditSummary+4096 {
				t.Fatalf("summary of %q: %d bytes, valid %v", body, len(out), json.Valid(out))
			}
			if bytes.Contains(out, []byte("S3CRETVALUE")) && secretOnlyUnderSecretKeys(string(body)+"\n"+query) {
				t.Fatalf("the summary of %q shows the secret: %s", body, out)
			}
		}
	})
}

// secretOnlyUnderSecretKeys reports whether every S3CRETVALUE in a body
// and query is the whole value of a field named secret, token, password,
// api_key or Authorization (the seeds' shapes), so that a summary showing
// it leaked it.
func secretOnlyUnderSecretKeys(body string) bool {
	rest := body
	for _, k := range []string{`"secret":"S3CRETVALUE"`, `"token":"S3CRETVALUE"`, `"password": "S3CRETVALUE"`, "api_key: S3CRETVALUE",
		"Authorization: S3CRETVALUE", "token=S3CRETVALUE"} {
		rest = strings.ReplaceAll(rest, k, "")
	}
	return !strings.Contains(rest, "S3CRETVALUE")
}
