package ingest

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Routes find a captured request's decoder as the server's mux routed
// it: by method and segments, a literal segment before a wildcard, with
// the wildcards' values unescaped.
func TestRoutesMatch(t *testing.T) {
	var rs Routes
	named := func(name string) Decoder {
		return func(*http.Request, []byte, *cdp.Source) (Decoded, error) {
			return Decoded{Events: []*cdp.Event{{Type: name}}}, nil
		}
	}
	rs.Add("POST /api/v1/customers/{identifier}/events", named("track"))
	rs.Add("POST /api/v1/customers/{identifier}/{op}", named("op"))
	rs.Add("POST /api/v1/customers/{identifier}/suppress", named("suppress"))
	rs.Add("POST /collect/{type}/{source}", named("collect"))
	rs.Add("POST /collect/{type}/{source}/{session}", named("collect-session"))
	for _, c := range []struct {
		method, path, want string
		values             map[string]string
	}{
		{"POST", "/api/v1/customers/u%2F1/events", "track", map[string]string{"identifier": "u/1"}},
		{"POST", "/api/v1/customers/a@b.c/suppress", "suppress", map[string]string{"identifier": "a@b.c"}},
		{"POST", "/api/v1/customers/u1/unsuppress", "op", map[string]string{"identifier": "u1", "op": "unsuppress"}},
		{"POST", "/collect/page/web", "collect", map[string]string{"type": "page", "source": "web"}},
		{"POST", "/collect/page/web/s-1", "collect-session", map[string]string{"type": "page", "source": "web", "session": "s-1"}},
		{"GET", "/collect/page/web", "", nil},
		{"POST", "/collect/page", "", nil},
		{"POST", "/collect//web", "", nil},
	} {
		d, values, ok := rs.Match(c.method, c.path)
		if !ok {
			if c.want != "" {
				t.Errorf("%s %s: no match", c.method, c.path)
			}
			continue
		}
		dec, _ := d(nil, nil, nil)
		if got := dec.Events[0].Type; got != c.want || !cmp.Equal(values, c.values) {
			t.Errorf("%s %s: %s %v, want %s %v", c.method, c.path, got, values, c.want, c.values)
		}
	}
}
