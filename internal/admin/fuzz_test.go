package admin

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
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

// FuzzAuditSummary: whatever a change's body and query, its summary is
// valid JSON of bounded size; and a secret under secret-looking fields (at
// any depth, beside anything the fuzzer makes) and in a secret-looking
// query parameter leaves no trace in it: the summary is the same whatever
// the secret, in JSON and YAML.
func FuzzAuditSummary(f *testing.F) {
	for _, seed := range []struct{ body, query, secret string }{
		{`{"id":"pay","verify":{"header":"X-Sig"},"list":[1,2]}`, "confirm=true", "S3CRETVALUE"},
		{"id: w\nsteps: [{with: {headers: {X: y}}}]\n", "a=b", "whsec_abcdefgh"},
		{"not json", "", "0123456789"}, {"", "a=%zz", "p@ss:w0rd!"}, {`[1, 2, {"x": "y"}]`, "", "Bearer abc.def"},
	} {
		f.Add([]byte(seed.body), seed.query, seed.secret)
	}
	a := &Audit{SecretKeys: builtin.Registry.SecretSettings()}
	f.Fuzz(func(t *testing.T, body []byte, query, secret string) {
		for _, ct := range []string{"application/json", "application/yaml", "text/plain"} {
			if out := a.summary(ct, query, body); out != nil && (!json.Valid(out) || len(out) > auditSummary+4096) {
				t.Fatalf("summary of %q: %d bytes, valid %v", body, len(out), json.Valid(out))
			}
		}
		var inner any = string(body)
		if json.Valid(body) {
			_ = json.Unmarshal(body, &inner)
		}
		doc := func(s string) []byte {
			b, _ := json.Marshal(map[string]any{"x": inner, "api_key": s, "nested": []any{map[string]any{"password": s, "y": inner}}})
			return b
		}
		if secret == "" || secret == "zzzzzzzz" {
			return
		}
		// Under secret fields only, the secret leaves no trace: the summary
		// is the one another secret would give.
		for _, ct := range []string{"application/json", "application/yaml"} {
			out := a.summary(ct, query+"&token="+url.QueryEscape(secret), doc(secret))
			other := a.summary(ct, query+"&token="+url.QueryEscape("zzzzzzzz"), doc("zzzzzzzz"))
			if !bytes.Equal(out, other) {
				t.Fatalf("the summary depends on the secret %q:\n%s\n%s", secret, out, other)
			}
		}
	})
}
