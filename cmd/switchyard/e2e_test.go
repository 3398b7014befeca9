package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// The switchyard binary the process-level tests run, built on first use
// (stamped with its git revision where the checkout allows, as a user's
// go build is, so that `version` can be checked).
var (
	binaryDir  string
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// bin returns the binary; process-level tests are skipped under -short
// (the quick loop), and .ci/run runs them.
func bin(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("a process-level test: skipped under -short")
	}
	binaryOnce.Do(func() {
		path := filepath.Join(binaryDir, "switchyard")
		if err := exec.Command("go", "build", "-buildvcs=true", "-o", path, ".").Run(); err != nil {
			if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
				binaryErr = fmt.Errorf("build switchyard: %v\n%s", err, out)
				return
			}
		}
		binaryPath = path
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-e2e")
	if err != nil {
		panic(err)
	}
	binaryDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running switchyard process.
type proc struct {
	cmd    *exec.Cmd
	url    string
	banner string
	stderr *strings.Builder
	errw   *syncWriter // writes stderr
}

// logs is what the process wrote to stderr so far (safe while it runs).
func (p *proc) logs() string {
	p.errw.mu.Lock()
	defer p.errw.mu.Unlock()
	return p.stderr.String()
}

var urlLine = regexp.MustCompile(`ingest:\s+(http://\S+)`)

// start runs `switchyard serve` on dataDir and waits for its banner.
func start(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin(t), append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &strings.Builder{}}
	p.errw = &syncWriter{w: p.stderr}
	cmd.Stderr = p.errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				banner <- b.String()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.banner = <-banner:
	case <-time.After(30 * time.Second):
		t.Fatalf("no banner after 30s; stderr:\n%s", p.stderr)
	}
	m := urlLine.FindStringSubmatch(p.banner)
	if m == nil {
		t.Fatalf("no ingest URL in banner:\n%s", p.banner)
	}
	p.url = m[1]
	return p
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func post(url, body string) (int, error) { return postAuth(url, "", body) }

func postAuth(url, auth, body string) (int, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// storedKeys pages through the stored purchase events of every source and
// counts them by properties.key, the test's own id for each request.
func storedKeys(t *testing.T, base string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, typ := range []string{"purchase", "email_opened"} {
		countKeys(t, base, typ, counts)
	}
	return counts
}

func countKeys(t *testing.T, base, typ string, counts map[string]int) {
	t.Helper()
	cursor := ""
	for {
		resp, err := http.Get(base + "/admin/v1/events?type=" + typ + "&limit=1000&cursor=" + cursor)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				Properties struct{ Key string } `json:"properties"`
			} `json:"events"`
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			counts[e.Properties.Key]++
		}
		if cursor = page.NextCursor; cursor == "" {
			return
		}
	}
}

// TestKillNineLosesNothingAcked sends events through every ingest API —
// Tracardi /track without client ids (group-committed envelopes),
// Customer.io Track v1, Data Pipelines, Customer.io reporting webhooks and
// Standard Webhooks with ids (deduplicated) — kills the server with SIGKILL, restarts it on the
// same data dir and requires every acknowledged event stored exactly once.
// "AfterAcks" kills right after the last acknowledgement, as an operator's
// kill would; "MidBurst" kills while requests are in flight, so some are
// cut off before their ack.
func TestKillNineLosesNothingAcked(t *testing.T) {
	t.Run("AfterAcks", func(t *testing.T) { killNine(t, false) })
	t.Run("MidBurst", func(t *testing.T) { killNine(t, true) })
}

func killNine(t *testing.T, midBurst bool) {
	dir := t.TempDir()
	p := start(t, dir)
	if !strings.Contains(p.banner, `source "default" (kind track)`) || !strings.Contains(p.banner, "curl -s "+p.url+"/track") {
		t.Fatalf("banner lacks the default source and its curl line:\n%s", p.banner)
	}
	creds := regexp.MustCompile(`site_id (\S+), api_key (\S+)`).FindStringSubmatch(p.banner)
	wk := regexp.MustCompile(`write key (\S+)`).FindStringSubmatch(p.banner)
	if creds == nil || wk == nil {
		t.Fatalf("banner lacks the Customer.io credentials:\n%s", p.banner)
	}
	trackAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds[1]+":"+creds[2]))
	pipelinesAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(wk[1]+":"))
	sources := []*cdp.Source{{ID: "cio-reports", Kind: cdp.SourceCustomerIOWebhook, SigningKey: "crash-key"},
		{ID: "std-hooks", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	for _, src := range sources {
		body, _ := json.Marshal(map[string]any{"id": src.ID, "kind": src.Kind, "signing_key": src.SigningKey, "verify": src.Verify})
		if code, err := post(p.url+"/admin/v1/sources", string(body)); err != nil || code != 201 {
			t.Fatalf("create source %s: %d %v", src.ID, code, err)
		}
	}
	sendHook := func(src *cdp.Source, id, body string) (int, error) {
		h, err := hooks.Sign(src, []byte(body), time.Now(), id)
		if err != nil {
			return 0, err
		}
		req, _ := http.NewRequest("POST", p.url+"/webhooks/"+src.ID, strings.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	const clients, perClient = 20, 60
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				id := fmt.Sprintf("c%02d-%03d", c, i)
				var code int
				var err error
				switch c % 5 {
				case 0:
					code, err = post(p.url+"/track", fmt.Sprintf(`{"source":{"id":"default"},"session":{"id":"crash-%d"},"events":[{"type":"purchase","properties":{"key":"%s"}}]}`, c%4, id))
				case 1:
					code, err = postAuth(p.url+fmt.Sprintf("/api/v1/customers/u%d/events", c), trackAuth, fmt.Sprintf(`{"name":"purchase","id":"%s","data":{"key":"%s"}}`, id, id))
				case 2:
					code, err = postAuth(p.url+"/v1/track", pipelinesAuth, fmt.Sprintf(`{"userId":"u%d","event":"purchase","messageId":"%s","properties":{"key":"%s"}}`, c, id, id))
				case 3:
					code, err = sendHook(sources[0], "", fmt.Sprintf(`{"event_id":"%s","object_type":"email","metric":"opened","timestamp":1700000000,"data":{"identifiers":{"id":"u%d"},"key":"%s"}}`, id, c, id))
				default:
					code, err = sendHook(sources[1], id, fmt.Sprintf(`{"type":"purchase","key":"%s"}`, id))
				}
				if err != nil {
					return // the server is gone
				}
				if code == 200 {
					mu.Lock()
					acked[id] = true
					n := len(acked)
					mu.Unlock()
					if midBurst && n == clients*perClient/2 {
						_ = p.cmd.Process.Signal(syscall.SIGKILL)
					}
				}
			}
		})
	}
	wg.Wait()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	if !midBurst && len(acked) != clients*perClient {
		t.Fatalf("only %d of %d requests were acknowledged before the kill", len(acked), clients*perClient)
	}
	if len(acked) < clients*perClient/2 {
		t.Fatalf("only %d requests acknowledged", len(acked))
	}

	p = start(t, dir)
	testenv.Await(t, "every acknowledged event stored once after the restart", 60*time.Second, func() (bool, string) {
		missing := testenv.Missing(t, acked, storedKeys(t, p.url))
		return missing == 0, fmt.Sprintf("%d missing; stderr:\n%s", missing, p.logs())
	})
	t.Logf("%d acknowledged events, all stored once after the restart", len(acked))
	// The default source was persisted, not recreated.
	resp, err := http.Get(p.url + "/admin/v1/sources/default")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var src struct{ Origin string }
	_ = json.NewDecoder(resp.Body).Decode(&src)
	if resp.StatusCode != 200 || src.Origin != "api" {
		t.Fatalf("default source after restart: %d %+v", resp.StatusCode, src)
	}
}

// TestGracefulShutdown checks that SIGTERM ends the process cleanly and
// that a second process cannot open the same data dir meanwhile.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	out, err := exec.Command(bin(t), "serve", "--data-dir", dir, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another switchyard process") {
		t.Fatalf("second process on the same data dir: err %v, output %s", err, out)
	}
	for i := range 50 {
		if code, err := post(p.url+"/track", fmt.Sprintf(`{"source":{"id":"default"},"events":[{"type":"purchase","properties":{"key":"g%d"}}]}`, i)); err != nil || code != 200 {
			t.Fatalf("post: %d %v", code, err)
		}
	}
	p.stop(t, syscall.SIGTERM, 30*time.Second)
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Fatalf("stderr lacks the shutdown log:\n%s", p.stderr)
	}
	p = start(t, dir)
	waitStored(t, p.url, 50)
}

// TestShutdownWithLiveTail checks that an open tail stream does not hold
// the shutdown up: SIGINT ends the process within 3 s and every event
// acknowledged before it is stored after a restart.
func TestShutdownWithLiveTail(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	resp, err := http.Get(p.url + "/admin/v1/tail")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatalf("tail stream: %v", err)
	}
	for i := range 20 {
		if code, err := post(p.url+"/track", fmt.Sprintf(`{"source":{"id":"default"},"events":[{"type":"purchase","properties":{"key":"t%d"}}]}`, i)); err != nil || code != 200 {
			t.Fatalf("post: %d %v", code, err)
		}
	}
	signalled := time.Now()
	p.stop(t, os.Interrupt, 10*time.Second)
	if took := time.Since(signalled); took > 3*time.Second || strings.Contains(p.stderr.String(), "listener shutdown") {
		t.Fatalf("shutdown took %v with a tail open; stderr:\n%s", took, p.stderr)
	}
	p = start(t, dir)
	waitStored(t, p.url, 20)
}

// stop sends sig and waits up to within for a clean exit.
func (p *proc) stop(t *testing.T, sig os.Signal, within time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after %v: %v; stderr:\n%s", sig, err, p.stderr)
		}
	case <-time.After(within):
		t.Fatalf("no exit %v after %v", within, sig)
	}
}

// waitStored waits until the server at base has stored n purchase events.
func waitStored(t *testing.T, base string, n int) {
	t.Helper()
	testenv.Await(t, fmt.Sprintf("%d events stored after the restart", n), 30*time.Second, func() (bool, string) {
		got := len(storedKeys(t, base))
		return got == n, fmt.Sprintf("%d stored", got)
	})
}

var adminLine = regexp.MustCompile(`management:\s+(http://\S+)/admin/v1`)

// With a management listener of its own and admin tokens, the banner
// names the console and a management curl that carries the token, and
// `send webhook` reads the source's secret from --admin-url and posts the
// webhook to --url.
func TestSendWithAdminListener(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfg, []byte(`admin:
  listen: "127.0.0.1:0"
  tokens: ["tok-e2e"]
sources:
  - id: web
    kind: track
  - id: reports
    kind: customerio_webhook
    signing_key: "k-e2e"
`), 0o600)
	p := start(t, filepath.Join(dir, "data"), "--config", cfg)
	m := adminLine.FindStringSubmatch(p.banner)
	if m == nil || m[1] == p.url {
		t.Fatalf("no separate management URL in the banner:\n%s", p.banner)
	}
	adminURL := m[1]
	for _, want := range []string{"console:     " + adminURL + "/console/", `curl -s -H "Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN" '` + adminURL + "/admin/v1/events?source=web'"} {
		if !strings.Contains(p.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, p.banner)
		}
	}
	if strings.Contains(p.banner, "tok-e2e") {
		t.Errorf("the banner prints the admin token:\n%s", p.banner)
	}
	body := filepath.Join(dir, "report.json")
	os.WriteFile(body, []byte(`{"event_id":"E-admin","object_type":"email","metric":"opened","timestamp":1700000000,"data":{"identifiers":{"id":"7"}}}`), 0o600)
	send := func(args ...string) (string, error) {
		out, err := exec.Command(bin(t), append([]string{"send", "webhook", "--source", "reports", "--file", body, "--url", p.url}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := send("--token", "tok-e2e"); err == nil || !strings.Contains(out, "404") {
		t.Errorf("without --admin-url the secret is looked up on the ingest listener, which has no management API: %v %s", err, out)
	}
	if out, err := send("--admin-url", adminURL); err == nil || !strings.Contains(out, "401") {
		t.Errorf("without a token: %v %s", err, out)
	}
	if out, err := send("--admin-url", adminURL, "--token", "tok-e2e"); err != nil || !strings.HasPrefix(out, "200 ") {
		t.Fatalf("send with --admin-url: %v %s", err, out)
	}
}

// Every command answers --help with exit 0 and its flags on stdout, and
// serve's help names every flag the README does.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"tail", "-h"}, {"send", "--help"}, {"send", "webhook", "--help"},
		{"bench", "--help"}, {"config", "--help"}, {"config", "validate", "--help"}, {"version", "--help"}, {"listen", "--help"}, {"replay", "--help"}, {"backfill", "--help"}} {
		out, err := exec.Command(bin(t), args...).Output()
		if err != nil || len(out) == 0 {
			t.Errorf("switchyard %s: %v, output %q", strings.Join(args, " "), err, out)
		}
	}
	out, _ := exec.Command(bin(t), "serve", "--help").Output()
	for _, flag := range []string{"-config", "-listen", "-data-dir", "-admin-listen", "-durability", "-postgres-url", "-nats-url", "-nats-prefix"} {
		if !strings.Contains(string(out), "  "+flag+" ") {
			t.Errorf("serve --help lacks %s:\n%s", flag, out)
		}
	}
	out, _ = exec.Command(bin(t), "send", "webhook", "--help").Output()
	for _, flag := range []string{"-url", "-admin-url", "-token", "-source", "-file", "-id"} {
		if !strings.Contains(string(out), "  "+flag+" ") {
			t.Errorf("send webhook --help lacks %s:\n%s", flag, out)
		}
	}
	if out, err := exec.Command(bin(t), "serve", "--no-such-flag").CombinedOutput(); err == nil || !strings.Contains(string(out), "not defined") {
		t.Errorf("a bad flag: %v %s", err, out)
	}
	out, err := exec.Command(bin(t), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "switchyard ") || strings.HasPrefix(string(out), "switchyard dev\n") ||
		!strings.Contains(string(out), "  built ") || !strings.Contains(string(out), "  go ") {
		t.Fatalf("version: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`vcs.revision=(\w+)`).FindSubmatch(info); m != nil && !strings.Contains(string(out), "revision   "+string(m[1])) {
		t.Errorf("version does not name the revision %s:\n%s", m[1], out)
	}
}
