package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/version"
)

type listenFlags struct {
	url, token, source, typ, filter, forward, secret string
	allowRemote                                      bool
}

// loopbackURL reports whether raw points at this machine: localhost, a
// *.localhost name or a loopback address.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// deliveryAttempts is how often listen tries to deliver an event to the
// local app, with 1 s, 2 s and 4 s between: enough for the app to
// restart.
const deliveryAttempts = 4

// runListen forwards the events a (possibly remote) server stores to a
// local app, as Standard Webhooks requests signed with the given secret
// or a generated one: the development loop of a webhook receiver. It
// follows the server's tail, resuming where it left off when the server
// restarts, and prints a line per delivery.
func runListen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f listenFlags
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	managementFlags(fs, &f.url, &f.token)
	fs.StringVar(&f.source, "source", "", "the source whose events to forward (required)")
	fs.StringVar(&f.typ, "type", "", "only events of this type")
	fs.StringVar(&f.filter, "filter", "", "only events for which this CEL expression over event is true")
	fs.StringVar(&f.forward, "forward", "", "the local URL each event is POSTed to (required; this machine only unless --allow-remote)")
	fs.StringVar(&f.secret, "secret", "", "the whsec_… secret to sign with (default: a new one, printed)")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "forward to a host that is not this machine (by default only loopback: the events may hold personal data)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.source == "" || f.forward == "" {
		return errors.New("listen: --source and --forward are required")
	}
	if !strings.HasPrefix(f.forward, "http://") && !strings.HasPrefix(f.forward, "https://") {
		return fmt.Errorf("listen: --forward must be an http(s) URL, not %q", f.forward)
	}
	if !f.allowRemote && !loopbackURL(f.forward) {
		return fmt.Errorf("listen: --forward %s is not on this machine: listen is for a local app (localhost, 127.0.0.1, [::1]); pass --allow-remote to send the events elsewhere", f.forward)
	}
	resolveToken(&f.token, getenv)
	ctx, stop := untilInterrupted(ctx)
	defer stop()
	if f.secret == "" {
		key := make([]byte, 24)
		_, _ = rand.Read(key)
		f.secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
		fmt.Fprintf(stdout, "listen: signing with %s (give it to your app; pass --secret to keep one)\n", f.secret)
	} else if !hooks.ValidStandardSecret(f.secret) {
		return errors.New("listen: --secret must be whsec_ followed by the base64 of the key")
	}
	fmt.Fprintf(stdout, "listen: forwarding the events of source %s to %s\n", f.source, f.forward)
	client := &http.Client{Timeout: 10 * time.Second}
	st := newStream("listen", f.url, f.token, f.source, f.typ, f.filter, stderr)
	return st.follow(ctx, func(id string, data []byte) { deliver(ctx, client, f, id, data, stdout) })
}

// deliver POSTs one event to the local app, signed, retrying a failure,
// and prints a line: time, type, status (or error), latency.
func deliver(ctx context.Context, client *http.Client, f listenFlags, id string, data []byte, out io.Writer) {
	var e struct{ Type string }
	_ = json.Unmarshal(data, &e)
	wait := time.Second
	for attempt := 1; ; attempt++ {
		start := time.Now()
		status, err := postSigned(ctx, client, f, id, data)
		took := time.Since(start).Round(time.Millisecond)
		line := fmt.Sprintf("%s  %-28s → %d  %s", start.Format("15:04:05"), e.Type, status, took)
		if err != nil {
			line = fmt.Sprintf("%s  %-28s → %v", start.Format("15:04:05"), e.Type, err)
		}
		if err == nil && status < 300 {
			fmt.Fprintln(out, line)
			return
		}
		if attempt == deliveryAttempts || ctx.Err() != nil {
			fmt.Fprintf(out, "%s; gave up after %d attempts (event %s)\n", line, attempt, id)
			return
		}
		fmt.Fprintf(out, "%s; retrying in %s\n", line, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait *= 2
	}
}

// postSigned sends one attempt; the webhook-id is the event's id, so the app
// can drop a repeated delivery.
func postSigned(ctx context.Context, client *http.Client, f listenFlags, id string, data []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.forward, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", version.UserAgent())
	if err := hooks.SetStandard(req.Header, f.secret, id, time.Now(), data); err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}
