package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is a server under load; with cmd set, a child process whose CPU
// time and peak RSS are read from /proc.
type target struct {
	name                     string
	url                      string
	cmd                      *exec.Cmd
	siteID, apiKey, writeKey string    // credentials printed in the banner
	hookSource, signingKey   string    // the customerio_webhook source of cio-webhook
	peers                    []*target // further nodes of a cluster, sharing the load
	dataDir, postgresURL     string    // where a spawned switchyard keeps its data
	emptyBytes               int64     // their size before the first measured request
	prefilled                float64   // events stored before it (--prefill)
}

var (
	ingestLine   = regexp.MustCompile(`ingest:\s+(http://\S+)`)
	trackCreds   = regexp.MustCompile(`site_id (\S+), api_key (\S+)`)
	writeKeyLine = regexp.MustCompile(`write key (\S+)`)
)

// spawnTarget starts binary with args and waits for its "ingest: URL"
// line.
func spawnTarget(ctx context.Context, binary, name string, args []string, stderr io.Writer) (*target, error) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{name: name, cmd: cmd}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if m := trackCreds.FindStringSubmatch(line); m != nil {
				t.siteID, t.apiKey = m[1], m[2]
			}
			if m := writeKeyLine.FindStringSubmatch(line); m != nil {
				t.writeKey = m[1]
			}
			// The banner's last line is "Press Ctrl-C to stop."; the no-op
			// server prints only its ingest line.
			if m := ingestLine.FindStringSubmatch(line); m != nil {
				t.url = m[1]
			}
			if t.url != "" && (strings.HasPrefix(line, "Press Ctrl-C") || name == "noop") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
		return t, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start within 60s", name)
	}
}

func (t *target) stop() {
	if t.cmd == nil {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = t.cmd.Process.Kill()
	}
}

// cpu returns the user+system CPU time so far of the child and its peers
// (Linux /proc).
func (t *target) cpu() time.Duration {
	if t.cmd == nil {
		return 0
	}
	var peers time.Duration
	for _, p := range t.peers {
		peers += p.cpu()
	}
	return peers + t.ownCPU()
}

func (t *target) ownCPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, in clock ticks (100 per second on Linux).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rss returns the child's peak resident set size (VmHWM), and its peers'.
func (t *target) rss() string {
	if t.cmd == nil {
		return ""
	}
	if len(t.peers) > 0 {
		all := []string{t.ownRSS()}
		for _, p := range t.peers {
			all = append(all, p.ownRSS())
		}
		return strings.Join(all, " / ")
	}
	return t.ownRSS()
}

func (t *target) ownRSS() string {
	if mb := t.ownRSSMB(); mb > 0 {
		return fmt.Sprintf("%d MB", mb)
	}
	return ""
}

// rssMB is the largest peak RSS of the child and its peers, in MB.
func (t *target) rssMB() int {
	if t.cmd == nil {
		return 0
	}
	mb := t.ownRSSMB()
	for _, p := range t.peers {
		mb = max(mb, p.ownRSSMB())
	}
	return mb
}

func (t *target) ownRSSMB() int { return t.status("VmHWM:") }

// nowRSSMB is the child's resident memory now, in MB.
func (t *target) nowRSSMB() int { return t.status("VmRSS:") }

// sampleRSS samples the child's resident memory every 250 ms from after
// the warm-up until the returned function is called, which returns the
// largest sample in MB. The peak the table shows is the kernel's high-water
// mark, which clear_refs can only reset to the memory resident at that
// moment: after seeding a million runs that is the seeding's aftermath,
// which the load then never reaches again.
func (t *target) sampleRSS(ctx context.Context, warmup time.Duration) func() int {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan int)
	go func() {
		peak := 0
		defer func() { done <- peak }()
		select {
		case <-ctx.Done():
			return
		case <-time.After(warmup):
		}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, t.nowRSSMB())
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() int { cancel(); return <-done }
}

// status reads a memory field (kB) of the child's /proc status, in MB.
func (t *target) status(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb / 1024
		}
	}
	return 0
}

// resetPeakRSS starts the child's peak RSS afresh (Linux: writing 5 to
// clear_refs), so a peak read later is that of what came after: the load
// measured rather than the data seeded before it.
func (t *target) resetPeakRSS() {
	if t.cmd != nil {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.cmd.Process.Pid), []byte("5"), 0)
	}
}

// scrape reads a Prometheus text page into name{labels} → value.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}
