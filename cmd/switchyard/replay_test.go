package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// switchyard replay counts first (a dry run), then replays page by page
// and says what it did.
func TestReplayCommand(t *testing.T) {
	a := openApp(t)
	addr, _ := serveApp(t, a, "")
	base := "http://" + addr
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	for range 2 {
		resp, err := http.Post(base+"/track", "application/json", strings.NewReader(`{"source":{"id":"web"},"events":[{"type":"order"}]}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("track: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	waitFor(t, "the events", func() bool {
		var out bytes.Buffer
		_ = run(t.Context(), []string{"replay", "--url", base, "--source", "web", "--since", since, "--filter", "event.type == 'order'", "--dry-run"},
			func(string) string { return "" }, &out, &out)
		return strings.Contains(out.String(), "2 events selected, from 2 captured requests; 0 cannot be replayed")
	})
	var out, status bytes.Buffer
	err := run(t.Context(), []string{"replay", "--url", base, "--source", "web", "--since", since, "--filter", "event.type == 'order'"},
		func(string) string { return "" }, &out, &status)
	if err != nil || !strings.Contains(out.String(), "2 requests replayed") || !strings.Contains(status.String(), "replay: 2/2 (100%)") {
		t.Fatalf("replay: %v\n%s\n%s", err, out.String(), status.String())
	}
	err = run(t.Context(), []string{"replay", "--url", base, "--since", since}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--source and --since are required") {
		t.Fatalf("without --source: %v", err)
	}
}
