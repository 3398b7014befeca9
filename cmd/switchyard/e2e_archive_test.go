package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// archived counts the events in the archive under dir by id, in format f.
func archived(t *testing.T, dir string, f archive.Format) map[string]int {
	t.Helper()
	sink, err := archive.Open("file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sink.List(t.Context(), "source=")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, k := range keys {
		file, err := os.Open(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := file.Stat()
		if err := archive.ReadFile(f, file, st.Size(), func(e *cdp.Event) error { out[e.ID]++; return nil }); err != nil {
			t.Fatal(err)
		}
		file.Close()
	}
	return out
}

// archivedRequests counts the captured requests in the archive under
// dir, by id.
func archivedRequests(t *testing.T, dir string, f archive.Format) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(filepath.Join(dir, "requests"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		file, err := os.Open(p)
		if err != nil {
			return err
		}
		defer file.Close()
		st, _ := file.Stat()
		return archive.ReadRequestFile(f, file, st.Size(), func(r archive.RequestRow) error { out[r.ID]++; return nil })
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// storedIDs lists the ids of every stored event through the management API.
func storedIDs(t *testing.T, url string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	cursor := ""
	for {
		var page struct {
			Events     []struct{ ID string }
			NextCursor string `json:"next_cursor"`
		}
		json.Unmarshal(get(t, url+"/admin/v1/events?limit=1000&cursor="+cursor, ""), &page)
		for _, e := range page.Events {
			out[e.ID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			return out
		}
	}
}

func postOrders(t *testing.T, url string, n int, tag string) {
	t.Helper()
	var events []string
	for i := range n {
		events = append(events, fmt.Sprintf(`{"type":"order","properties":{"n":"%s-%d"}}`, tag, i))
	}
	if code, err := post(url+"/track", `{"source":{"id":"web"},"events":[`+strings.Join(events, ",")+`]}`); err != nil || code != 200 {
		t.Fatalf("track: %d %v", code, err)
	}
}

// switchyard export writes the events a running server received in a
// range to Parquet files, through the management API: each stored event
// once, and none from outside the range.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, []byte("log: { level: warn }\nsources: [ { id: web, kind: track } ]\n"), 0o600)
	p := start(t, filepath.Join(dir, "data"), "--config", cfg)
	postOrders(t, p.url, 50, "before")
	time.Sleep(50 * time.Millisecond)
	since := time.Now()
	postOrders(t, p.url, 300, "in")
	testenv.Eventually(t, "every order stored", 15*time.Second, func() bool { return len(storedIDs(t, p.url)) >= 350 })
	var before map[string]bool
	for id := range storedIDs(t, p.url) {
		if at, _ := cdp.IDTime(id); at.Before(since.Truncate(time.Millisecond)) {
			if before == nil {
				before = map[string]bool{}
			}
			before[id] = true
		}
	}
	out := filepath.Join(dir, "export")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"export", "--url", p.url, "--since", since.UTC().Format(time.RFC3339Nano), "--to", "file://" + out},
		func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	got := archived(t, out, archive.Parquet)
	stored := storedIDs(t, p.url)
	for id := range stored {
		if want := !before[id]; want != (got[id] == 1) {
			t.Fatalf("event %s exported %d times (before the range: %v)", id, got[id], before[id])
		}
	}
	if len(got) != len(stored)-len(before) || !strings.Contains(stdout.String(), fmt.Sprintf("export: %d events", len(got))) {
		t.Fatalf("%d exported of %d stored (%d before the range); said %q", len(got), len(stored), len(before), stdout.String())
	}
}

// Killed (-9) while it archives, the server resumes the archive where
// the store says it stood: every stored event, and every captured request
// (archive.requests), ends in the archive exactly once.
func TestKillNineWhileArchiving(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "archive")
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("log: { level: warn }\nsources: [ { id: web, kind: track } ]\n"+
		"archive: { to: %q, format: ndjson, every: 1s, grace: 0s, requests: true }\n", "file://"+out)), 0o600)
	data := filepath.Join(dir, "data")
	p := start(t, data, "--config", cfg)
	for i := range 6 {
		postOrders(t, p.url, 100, fmt.Sprint("a", i))
		time.Sleep(250 * time.Millisecond)
	}
	testenv.Eventually(t, "some of the archive written", 15*time.Second, func() bool { return len(archived(t, out, archive.NDJSON)) > 0 })
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()

	p = start(t, data, "--config", cfg)
	for i := range 3 {
		postOrders(t, p.url, 100, fmt.Sprint("b", i))
		time.Sleep(250 * time.Millisecond)
	}
	testenv.Await(t, "every stored event archived once", 30*time.Second, func() (bool, string) {
		stored, got := storedIDs(t, p.url), archived(t, out, archive.NDJSON)
		for id, n := range got {
			if n != 1 {
				t.Fatalf("event %s archived %d times", id, n)
			}
			if !stored[id] {
				t.Fatalf("event %s archived but not stored", id)
			}
		}
		requests := archivedRequests(t, out, archive.NDJSON)
		for id, n := range requests {
			if n != 1 {
				t.Fatalf("request %s archived %d times", id, n)
			}
		}
		return len(stored) >= 900 && len(got) == len(stored) && len(requests) == 9,
			fmt.Sprintf("%d stored, %d archived, %d of 9 requests", len(stored), len(got), len(requests))
	})
}
