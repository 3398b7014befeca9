package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// serveApp serves a fresh in-process Switchyard on addr ("" = any free
// port) and returns its address and a function that stops the listener.
func serveApp(t *testing.T, a *app.App, addr string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Handler()}
	go srv.Serve(ln)
	stop := func() { srv.Close() }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func openApp(t *testing.T, sources ...config.Source) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Sources = append([]config.Source{{ID: "web", Kind: cdp.SourceTrack}}, sources...)
	a, err := app.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, what, 10*time.Second, cond)
}

func TestTailCommand(t *testing.T) {
	a := openApp(t)
	addr, stop := serveApp(t, a, "")
	url := "http://" + addr
	ctx, cancel := context.WithCancel(t.Context())
	out, errOut := &lockedBuffer{syncWriter{w: &bytes.Buffer{}}}, &lockedBuffer{syncWriter{w: &bytes.Buffer{}}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--url", url, "--filter", "event.type != 'noise'"}, os.Getenv, out, errOut)
	}()
	send := func(typ string) {
		t.Helper()
		if code, err := post(url+"/track", `{"source":{"id":"web"},"session":{"id":"tail-cmd"},"events":[{"type":"noise"},{"type":"`+typ+`","properties":{"n":1}}]}`); err != nil || code != 200 {
			t.Fatalf("track: %d %v", code, err)
		}
	}
	// Events sent before the tail connects are not shown; keep sending
	// until one is.
	waitFor(t, "the first line", func() bool { send("first"); return strings.Contains(out.String(), "first") })
	line := strings.Split(strings.TrimSpace(out.String()), "\n")[0]
	if !strings.Contains(line, "web") || !strings.Contains(line, `{"n":1}`) || strings.Contains(out.String(), " noise ") {
		t.Fatalf("tail printed %q", out.String())
	}
	if !strings.Contains(errOut.String(), "tail: connected to "+url+"/admin/v1/tail?filter=") {
		t.Errorf("no connected line on stderr: %q", errOut.String())
	}
	// The server goes away and comes back on the same address: the tail
	// reconnects by itself.
	stop()
	waitFor(t, "the reconnect notice", func() bool { return strings.Contains(errOut.String(), "reconnecting") })
	serveApp(t, a, addr)
	waitFor(t, "a line after the reconnect", func() bool { send("second"); return strings.Contains(out.String(), "second") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail returned %v", err)
	}

	// A refused tail ends with the server's reason.
	err := run(t.Context(), []string{"tail", "--url", url, "--filter", "event.type < "}, os.Getenv, out, errOut)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "filter: ") || strings.Contains(err.Error(), `\u003c`) ||
		strings.Contains(err.Error(), `{"error"`) {
		t.Fatalf("bad filter: %v", err)
	}
}

func TestEventLine(t *testing.T) {
	long := `{"source_id":"cio","type":"email_opened","profile_id":"p1","received_at":"2026-11-23T10:00:00Z","properties":{"x":"` +
		strings.Repeat("é", 200) + `"}}`
	line := eventLine([]byte(long))
	if !strings.Contains(line, "cio") || !strings.Contains(line, "email_opened") || !strings.Contains(line, "p1") ||
		!strings.HasSuffix(line, "…") || len([]rune(line)) > 200 {
		t.Errorf("line = %q", line)
	}
	if line := eventLine([]byte(`{"source_id":"h","type":"webhook_error","error":"not JSON","properties":{"body":"x"}}`)); !strings.Contains(line, "error: not JSON") || !strings.Contains(line, " - ") {
		t.Errorf("error line = %q", line)
	}
	flagged := `{"source_id":"shop","type":"purchase","properties":{"revenue":"1"},"violations":[{"plan":"orders","kind":"schema","path":"/properties/revenue","message":"got string, want number"}]}`
	if line := eventLine([]byte(flagged)); !strings.Contains(line, `⚠ orders /properties/revenue: got string, want number (1) {"revenue":"1"}`) {
		t.Errorf("flagged line = %q", line)
	}
	if line := eventLine([]byte(`not json`)); line != "not json" {
		t.Errorf("unparsable line = %q", line)
	}
}

// tail and listen started from a script, as background jobs, begin with
// SIGINT ignored; they take it back, and SIGINT or SIGTERM ends them
// cleanly within a second.
func TestTailAndListenStopOnSignals(t *testing.T) {
	a := openApp(t)
	addr, _ := serveApp(t, a, "")
	for _, c := range []struct {
		sig  syscall.Signal
		args string
	}{
		{syscall.SIGINT, "tail --url http://" + addr},
		{syscall.SIGTERM, "tail --url http://" + addr},
		{syscall.SIGINT, "listen --url http://" + addr + " --source web --forward http://127.0.0.1:1/hooks"},
	} {
		// trap '' INT ignores SIGINT, and exec keeps it ignored, as a
		// shell does for a background job.
		cmd := exec.Command("sh", "-c", "trap '' INT; exec "+bin(t)+" "+c.args)
		stderr := &lockedBuffer{syncWriter{w: &bytes.Buffer{}}}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the connected line", func() bool { return strings.Contains(stderr.String(), "connected to") })
		_ = cmd.Process.Signal(c.sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after %v: %v\n%s", c.args, c.sig, err, stderr.String())
			}
		case <-time.After(time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%s still running a second after %v", c.args, c.sig)
		}
	}
}

// listen forwards only to this machine unless told otherwise.
func TestListenRefusesRemoteTargets(t *testing.T) {
	for target, ok := range map[string]bool{
		"http://localhost:3000/h": true, "http://127.0.0.1:3000/h": true, "http://[::1]:3000/h": true, "http://app.localhost/h": true,
		"http://example.com/h": false, "http://10.0.0.5/h": false, "https://hooks.example.org/h": false,
	} {
		if got := loopbackURL(target); got != ok {
			t.Errorf("loopbackURL(%s) = %v", target, got)
		}
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"listen", "--source", "web", "--forward", "http://example.com/hooks"}, os.Getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("listen to a remote target: %v", err)
	}
}

// bench --tails opens as many tails as the server takes (the default cap
// is 100) and closes them when the run ends; none was dropped meanwhile.
func TestBenchOpensTails(t *testing.T) {
	addr, _ := serveApp(t, openApp(t), "")
	opened, stop := openTails(t.Context(), &target{url: "http://" + addr}, 102, "event.type != ''")
	if dropped := stop(); opened != 100 || dropped != 0 {
		t.Fatalf("opened %d of 102 (want the cap, 100), %d dropped", opened, dropped)
	}
}
