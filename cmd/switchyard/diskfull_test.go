//go:build linux

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// A full disk under the embedded engines: once the data directory's
// filesystem (a 64 MB tmpfs here) is filled by someone else, the node
// says it is not ready and refuses new events at once; once the space is
// freed it takes events again by itself, and every event it acknowledged,
// before, during and after, is stored, none as poison. Reloading an
// event log whose own writes failed is natsbus's TestRepairAfterDiskFull.
// Mounting needs root: the test skips without it.
func TestDiskFullRecovers(t *testing.T) {
	mnt := testenv.Tmpfs(t, "64m")
	cfg := filepath.Join(t.TempDir(), "switchyard.yaml")
	os.WriteFile(cfg, []byte("sources:\n  - {id: p, kind: customerio_pipelines, write_key: wk1}\n"), 0o600)
	p := start(t, filepath.Join(mnt, "data"), "--config", cfg)

	client := &http.Client{Timeout: 20 * time.Second}
	pad := strings.Repeat("a", 2000)
	acked := map[string]bool{}
	send := func(i int) int {
		req, _ := http.NewRequest("POST", p.url+"/v1/track", strings.NewReader(fmt.Sprintf(
			`{"messageId":"m%d","userId":"u%d","event":"x","properties":{"key":"k%d","pad":%q}}`, i, i%50, i, pad)))
		req.SetBasicAuth("wk1", "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			acked[fmt.Sprintf("k%d", i)] = true
		}
		return resp.StatusCode
	}
	ready := func() int {
		resp, err := client.Get(p.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 100 {
		if c := send(i); c != 200 {
			t.Fatalf("event %d before the disk filled: %d", i, c)
		}
	}

	// Someone else fills the disk while events arrive: first to within
	// 2 MB (under the reserve, a tenth of the filesystem), which the node
	// notices, then to the last byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	var fs syscall.Statfs_t
	for i := 100; syscall.Statfs(mnt, &fs) == nil && fs.Bavail*uint64(fs.Bsize) > 2<<20; i++ {
		if _, err := f.Write(block); err != nil {
			break
		}
		if i%8 == 0 {
			send(i)
		}
	}
	i := 500
	testenv.Eventually(t, "not ready with the disk nearly full", 10*time.Second, func() bool {
		if ready() == http.StatusServiceUnavailable {
			return true
		}
		send(i)
		i++
		time.Sleep(100 * time.Millisecond) // an event every tenth of a second, as before the disk filled
		return false
	})
	for _, err := f.Write(block); err == nil; _, err = f.Write(block) {
	}
	f.Close()
	for i := 1000; i < 1020; i++ {
		started := time.Now()
		if c := send(i); c != http.StatusTooManyRequests && c != http.StatusServiceUnavailable {
			t.Fatalf("event %d with the disk full: %d", i, c)
		}
		if took := time.Since(started); took > 5*time.Second {
			t.Fatalf("a refusal took %v: it should come before the request is read", took)
		}
	}

	// The space comes back: ready again without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testenv.Await(t, "ready again once the space was freed", 30*time.Second, func() (bool, string) {
		resp, err := client.Get(p.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s\n%s", resp.StatusCode, body, p.logs())
	})
	for i := 2000; i < 2020; i++ {
		if c := send(i); c != 200 {
			t.Fatalf("event %d after the space was freed: %d\n%s", i, c, p.stderr)
		}
	}

	// Every acknowledged event is stored once, none as poison.
	testenv.Await(t, "every acknowledged event stored", 60*time.Second, func() (bool, string) {
		stored := map[string]int{}
		countKeys(t, p.url, "x", stored)
		missing, twice := 0, 0
		for k := range acked {
			switch stored[k] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		if twice > 0 {
			t.Fatalf("%d acknowledged events stored twice", twice)
		}
		return missing == 0, fmt.Sprintf("%d of %d not stored\n%s", missing, len(acked), p.logs())
	})
	poison := map[string]int{}
	if countKeys(t, p.url, "poison", poison); len(poison) != 0 {
		t.Fatalf("poison events: %v", poison)
	}
}
