package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type tailFlags struct {
	url, token, source, typ, filter string
	json                            bool
}

// runTail prints the live event stream of a running server, one line per
// event (or its JSON with --json), reconnecting when the stream breaks.
// A refused request (bad filter, bad token) ends it with the error.
func runTail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f tailFlags
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8686", "the server's management URL")
	fs.StringVar(&f.token, "token", "", "admin token (default $SWITCHYARD_ADMIN_TOKEN)") // not the value: help would print it
	fs.StringVar(&f.source, "source", "", "only events of this source")
	fs.StringVar(&f.typ, "type", "", "only events of this type")
	fs.StringVar(&f.filter, "filter", "", "only events for which this CEL expression over event is true")
	fs.BoolVar(&f.json, "json", false, "print each event's JSON")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.token == "" {
		f.token = getenv("SWITCHYARD_ADMIN_TOKEN")
	}
	q := url.Values{}
	for k, v := range map[string]string{"source": f.source, "type": f.typ, "filter": f.filter} {
		if v != "" {
			q.Set(k, v)
		}
	}
	endpoint := strings.TrimSuffix(f.url, "/") + "/admin/v1/tail?" + q.Encode()
	backoff := time.Second
	for {
		connected, err := tailOnce(ctx, endpoint, f, stdout, stderr)
		var refused *refusedError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &refused):
			return err
		case connected:
			backoff = time.Second
		}
		fmt.Fprintf(stderr, "tail: %v; reconnecting in %s\n", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// refusedError is a 4xx answer: retrying cannot help.
type refusedError struct {
	status int
	body   string
}

func (e *refusedError) Error() string {
	// The management API's errors are {"error":{"code","message"}}: the
	// message is what a person reads (a CEL error, say, with its < and >).
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	msg := strings.TrimSpace(e.body)
	if json.Unmarshal([]byte(e.body), &body) == nil && body.Error.Message != "" {
		msg = body.Error.Message
	}
	return fmt.Sprintf("the server refused the tail (%d): %s", e.status, msg)
}

// tailOnce follows one stream until it ends; connected reports whether it
// got as far as receiving the stream.
func tailOnce(ctx context.Context, endpoint string, f tailFlags, out, status io.Writer) (connected bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return false, &refusedError{0, err.Error()}
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return false, &refusedError{resp.StatusCode, string(body)}
		}
		return false, fmt.Errorf("the server answered %d", resp.StatusCode)
	}
	fmt.Fprintf(status, "tail: connected to %s; waiting for events (Ctrl-C to stop)\n", strings.TrimSuffix(endpoint, "?"))
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for lines.Scan() {
		line := lines.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			event = name
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			if line == "" {
				event = ""
			}
			continue
		}
		if event == "error" {
			return true, fmt.Errorf("the server ended the stream: %s", data)
		}
		if f.json {
			fmt.Fprintln(out, data)
		} else {
			fmt.Fprintln(out, eventLine([]byte(data)))
		}
	}
	if err := lines.Err(); err != nil {
		return true, err
	}
	return true, errors.New("the stream ended")
}

// eventLine renders an event as one terminal line: time, source, type,
// profile, and the properties cut to a glance.
func eventLine(data []byte) string {
	var e struct {
		ReceivedAt time.Time       `json:"received_at"`
		SourceID   string          `json:"source_id"`
		Type       string          `json:"type"`
		ProfileID  string          `json:"profile_id"`
		Properties json.RawMessage `json:"properties"`
		Error      string          `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return string(data)
	}
	profile := e.ProfileID
	if profile == "" {
		profile = "-"
	}
	props := string(e.Properties)
	if e.Error != "" {
		props = "error: " + e.Error
	}
	const width = 100
	if r := []rune(props); len(r) > width {
		props = string(r[:width-1]) + "…"
	}
	return fmt.Sprintf("%s  %-12s %-24s %-36s %s", e.ReceivedAt.Local().Format("15:04:05.000"), e.SourceID, e.Type, profile, props)
}
