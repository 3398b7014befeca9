package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

const listenSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver starts testdata/receiver.mjs, an app's webhook endpoint that
// verifies with npm's standardwebhooks, and returns its URL.
func receiver(t *testing.T) string {
	t.Helper()
	modules := os.Getenv("SWITCHYARD_TEST_NODE_MODULES")
	if _, err := os.Stat(filepath.Join(modules, "standardwebhooks")); modules == "" || err != nil {
		t.Skip("SWITCHYARD_TEST_NODE_MODULES has no standardwebhooks (.ci/run installs it)")
	}
	cmd := exec.Command("node", filepath.Join("testdata", "receiver.mjs"), listenSecret)
	cmd.Env = append(os.Environ(), "NODE_MODULES_DIR="+modules)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("receiver: %q %v", line, err)
	}
	return "http://127.0.0.1:" + port
}

type delivery struct {
	ID       string `json:"id"`
	Verified bool   `json:"verified"`
	Type     string `json:"type"`
	Error    string `json:"error"`
}

func seenBy(t *testing.T, recv string) []delivery {
	var out []delivery
	_ = json.Unmarshal(get(t, recv+"/seen", ""), &out)
	return out
}

// count is how many deliveries of the types the receiver saw.
func count(t *testing.T, recv string, types ...string) int {
	n := 0
	for _, d := range seenBy(t, recv) {
		for _, typ := range types {
			if d.Type == typ {
				n++
			}
		}
	}
	return n
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestListenForwardsVerifiedEvents runs `switchyard listen` against the
// real server and a receiving app that verifies with npm's
// standardwebhooks: every event of the source arrives verified, once; a
// delivery the app refuses is retried; after the server is killed and
// restarted, listen resumes and delivers what was stored meanwhile, with
// nothing missed or twice. forward_to deliveries verify with the same
// library, and a tampered request does not.
func TestListenForwardsVerifiedEvents(t *testing.T) {
	recv := receiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
log: { level: warn }
sources: [ { id: web, kind: track }, { id: fwd, kind: track, forward_to: [app] } ]
destinations: [ { id: app, kind: webhook, url: %q, signing_secret: %q, allow_private_network: true } ]
`, recv+"/forwarded", listenSecret), 0o600)
	addr, data := freePort(t), filepath.Join(dir, "data")
	p := start(t, data, "--config", cfg, "--listen", addr)

	// The tracker's own events (profile-created, …) are left out by the
	// filter; forward_to sends them too.
	listen := exec.Command(bin(t), "listen", "--url", p.url, "--source", "web", "--forward", recv+"/hooks", "--secret", listenSecret,
		"--filter", "event.type in ['before', 'retried', 'after']")
	out := &lockedBuffer{syncWriter{w: &bytes.Buffer{}}}
	listen.Stdout = out
	stderr, _ := listen.StderrPipe()
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listen.Process.Kill(); listen.Wait() })
	connected := make(chan bool, 8)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if strings.Contains(lines.Text(), "connected to") {
				connected <- true
			}
		}
	}()
	<-connected
	send := func(source, typ string, n int) {
		t.Helper()
		var events []string
		for i := range n {
			events = append(events, fmt.Sprintf(`{"type":%q,"properties":{"n":%d}}`, typ, i))
		}
		if code, err := post(p.url+"/track", `{"source":{"id":"`+source+`"},"events":[`+strings.Join(events, ",")+`]}`); err != nil || code != 200 {
			t.Fatalf("track: %d %v", code, err)
		}
	}
	send("web", "before", 5)
	send("fwd", "forwarded", 2)
	testenv.Eventually(t, "5 listened and 2 forwarded", 15*time.Second, func() bool { return count(t, recv, "before", "forwarded") == 7 })

	get(t, recv+"/stop?n=2", "") // the app is down for two requests
	send("web", "retried", 1)
	testenv.Eventually(t, "the retried delivery", 15*time.Second, func() bool { return count(t, recv, "retried") == 1 })

	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p = start(t, data, "--config", cfg, "--listen", addr)
	send("web", "after", 5) // stored before listen reconnects
	<-connected
	testenv.Eventually(t, "the 5 sent after the restart", 20*time.Second, func() bool { return count(t, recv, "after") == 5 })
	testenv.Never(t, "a delivery repeated", time.Second, func() bool { return count(t, recv, "after") > 5 || count(t, recv, "retried") > 1 })

	seen := seenBy(t, recv)
	ids := map[string]int{}
	types := map[string]int{}
	for _, d := range seen {
		if !d.Verified {
			t.Fatalf("a delivery failed verification: %+v", d)
		}
		ids[d.ID]++
		types[d.Type]++
	}
	if len(ids) != len(seen) || types["before"] != 5 || types["after"] != 5 || types["retried"] != 1 || types["forwarded"] != 2 {
		t.Fatalf("deliveries by type %v, %d distinct of %d:\n%s", types, len(ids), len(seen), out.String())
	}
	if !strings.Contains(out.String(), "retrying in") || !strings.Contains(out.String(), "→ 204") {
		t.Errorf("listen printed:\n%s", out.String())
	}

	// A tampered delivery: the signature of another body.
	req, _ := http.NewRequest("POST", recv+"/hooks", strings.NewReader(`{"type":"tampered"}`))
	req.Header.Set("webhook-id", "msg_tampered")
	req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
	req.Header.Set("webhook-signature", "v1,"+strings.Repeat("A", 43)+"=")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("tampered delivery answered %v %v", resp, err)
	}
	resp.Body.Close()
	if last := seenBy(t, recv); last[len(last)-1].Verified {
		t.Fatal("the tampered delivery verified")
	}
}
