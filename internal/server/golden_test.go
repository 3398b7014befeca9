package server_test

import (
	"bytes"
	"compress/gzip"
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
	Comment string `json:"comment,omitempty"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	// Headers replace the default credentials; ContentType defaults to
	// application/json; Gzip sends the body gzip-compressed.
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type,omitempty"`
	Gzip        bool              `json:"gzip,omitempty"`
	Body        json.RawMessage   `json:"body"`
	Status      int               `json:"status"`
	Response    json.RawMessage   `json:"response"`
	Events      []map[string]any  `json:"events"`
}

// stable are the stored event fields a golden file compares; ids and
// receive times differ on every run.
var stable = []string{"type", "message_id", "user_id", "anonymous_id", "op", "identifiers", "properties", "traits", "context"}

// TestGoldenCustomerIO runs testdata/customerio/*.json (Track API, as the
// customerio_track source) and testdata/pipelines/*.json (Data Pipelines,
// as the customerio_pipelines source), each on a fresh server.
func TestGoldenCustomerIO(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"customerio", "pipelines"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if len(files) == 0 {
			t.Fatalf("no golden files in testdata/%s", dir)
		}
		for _, file := range files {
			t.Run(dir+"/"+filepath.Base(file), func(t *testing.T) { runGolden(t, dir, file) })
		}
	}
}

func runGolden(t *testing.T, dir, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var s *stack
	source, auth := "cio", "Basic "+basic(cioSite, cioKey)
	if dir == "pipelines" {
		s, source, auth = newPipelinesStack(t), "cdp", "Basic "+basic(writeKey, "")
	} else {
		s, _ = newCIOStack(t)
	}
	headers := []string{"Authorization", auth}
	if g.Headers != nil {
		headers = nil
		for k, v := range g.Headers {
			headers = append(headers, k, v)
		}
	}
	body := string(g.Body)
	if g.Gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(g.Body)
		_ = zw.Close()
		body = zb.String()
		headers = append(headers, "Content-Encoding", "gzip")
	}
	ct := g.ContentType
	if ct == "" {
		ct = "application/json"
	}
	r := s.do(t, g.Method, g.Path, ct, body, headers...)
	s.settle(t)
	var list struct {
		Events []map[string]any `json:"events"`
	}
	_ = json.Unmarshal(s.do(t, "GET", "/admin/v1/events?limit=1000&source="+source, "", "").body, &list)
	slices.Reverse(list.Events) // oldest first: the order of the request
	got := []map[string]any{}
	for _, e := range list.Events {
		p := map[string]any{}
		for _, k := range stable {
			if v, ok := e[k]; ok {
				p[k] = v
			}
		}
		got = append(got, p)
	}
	if *update {
		g.Status, g.Response, g.Events = r.status, r.body, got
		out, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var resp, want any
	_ = json.Unmarshal(r.body, &resp)
	_ = json.Unmarshal(g.Response, &want)
	if r.status != g.Status || !cmp.Equal(resp, want) {
		t.Fatalf("response %d %s, want %d %s", r.status, r.body, g.Status, g.Response)
	}
	if g.Events == nil {
		g.Events = []map[string]any{}
	}
	if diff := cmp.Diff(g.Events, got); diff != "" {
		t.Fatalf("stored events (-want +got):\n%s", diff)
	}
}
