package server_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the server does now")

// golden is one golden case: a request, the response expected, and the
// events it must store (projected onto the fields that do not vary).
type golden struct {
	Comment  string           `json:"comment,omitempty"`
	Method   string           `json:"method"`
	Path     string           `json:"path"`
	Body     json.RawMessage  `json:"body"`
	Status   int              `json:"status"`
	Response json.RawMessage  `json:"response"`
	Events   []map[string]any `json:"events"`
}

// stable are the stored event fields a golden file compares; ids and
// receive times differ on every run.
var stable = []string{"type", "message_id", "user_id", "anonymous_id", "op", "identifiers", "properties", "traits"}

// TestGoldenCustomerIO runs testdata/customerio/*.json, each on a fresh
// server, against the Customer.io source.
func TestGoldenCustomerIO(t *testing.T) {
	files, _ := filepath.Glob("testdata/customerio/*.json")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			s, _ := newCIOStack(t)
			r := s.do(t, g.Method, g.Path, "application/json", string(g.Body), "Authorization", "Basic "+basic(cioSite, cioKey))
			s.settle(t)
			var list struct {
				Events []map[string]any `json:"events"`
			}
			_ = json.Unmarshal(s.do(t, "GET", "/admin/v1/events?source=cio&limit=1000", "", "").body, &list)
			slices.Reverse(list.Events) // oldest first: the order of the request
			var got []map[string]any
			for _, e := range list.Events {
				p := map[string]any{}
				for _, k := range stable {
					if v, ok := e[k]; ok {
						p[k] = v
					}
				}
				got = append(got, p)
			}
			var resp any
			_ = json.Unmarshal(r.body, &resp)
			if *update {
				g.Status, g.Response, g.Events = r.status, r.body, got
				out, _ := json.MarshalIndent(g, "", "  ")
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var want any
			_ = json.Unmarshal(g.Response, &want)
			if r.status != g.Status || !cmp.Equal(resp, want) {
				t.Fatalf("response %d %s, want %d %s", r.status, r.body, g.Status, g.Response)
			}
			wantEvents := g.Events
			if wantEvents == nil {
				wantEvents = []map[string]any{}
			}
			if got == nil {
				got = []map[string]any{}
			}
			if diff := cmp.Diff(wantEvents, got); diff != "" {
				t.Fatalf("stored events (-want +got):\n%s", diff)
			}
		})
	}
}
