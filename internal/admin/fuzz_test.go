package admin

import (
	"bytes"
	"net/http/httptest"
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
