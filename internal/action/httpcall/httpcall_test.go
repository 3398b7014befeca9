package httpcall

import (
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
)

// A step's url stays under its destination's base URL: the destination,
// not the workflow, decides which host is reached (and whether a private
// one may be).
func TestStaysUnderBase(t *testing.T) {
	d := &action.Destination{ID: "api", Kind: "http", Settings: map[string]string{"url": "https://api.example.com/v1/?tenant=7"}}
	for ref, want := range map[string]string{
		"/users?x=1": "https://api.example.com/v1/users?tenant=7&x=1",
		"users/42":   "https://api.example.com/v1/users/42?tenant=7",
		"":           "https://api.example.com/v1/?tenant=7",
	} {
		call, err := build(d, map[string]any{"url": ref}, "k", time.Now())
		if err != nil || call.Request.URL != want {
			t.Errorf("%q: %v %q, want %q", ref, err, call.Request.URL, want)
		}
	}
	for _, ref := range []string{"http://169.254.169.254/latest/meta-data", "https://evil.example/x", "//evil.example/x",
		"../admin", "/v2/../../etc", "https://user@api.example.com/v1/x"} {
		if call, err := build(d, map[string]any{"url": ref}, "k", time.Now()); err == nil {
			t.Errorf("%q was allowed: %s", ref, call.Request.URL)
		}
	}
}
