package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// stream follows a server's live tail (GET /admin/v1/tail) for tail and
// listen: it reconnects when the stream breaks, with Last-Event-ID so the
// server resends what was stored meanwhile, and hands each event on once
// (it remembers the ids of the last recentIDs events, which covers what a
// reconnect resends).
type stream struct {
	name     string // the command, in status lines
	endpoint string
	token    string
	status   io.Writer
	last     string
	seen     *recent
}

// recentIDs is how many event ids a stream remembers.
const recentIDs = 10000

// newStream follows the tail at base (a management URL) with the
// source, type and filter given.
func newStream(name, base, token, source, typ, filter string, status io.Writer) *stream {
	q := url.Values{}
	for k, v := range map[string]string{"source": source, "type": typ, "filter": filter} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return &stream{name: name, endpoint: strings.TrimSuffix(base, "/") + "/admin/v1/tail?" + q.Encode(), token: token,
		status: status, seen: newRecent(recentIDs)}
}

// follow calls each with every event until ctx is done, reconnecting with
// a growing pause (up to 10 s). A refused request (bad filter, bad token)
// ends it with the error.
func (s *stream) follow(ctx context.Context, each func(id string, data []byte)) error {
	backoff := time.Second
	for {
		connected, err := s.once(ctx, each)
		var refused *refusedError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &refused):
			return err
		case connected:
			backoff = time.Second
		}
		fmt.Fprintf(s.status, "%s: %v; reconnecting in %s\n", s.name, err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// refusedError is an answer that is not a 2xx from the management API (a
// 4xx ends a stream: retrying cannot help).
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
	return fmt.Sprintf("the server refused (%d): %s", e.status, msg)
}

// once follows one connection until it ends; connected reports whether it
// got as far as receiving the stream.
func (s *stream) once(ctx context.Context, each func(id string, data []byte)) (connected bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint, nil)
	if err != nil {
		return false, &refusedError{0, err.Error()}
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if s.last != "" {
		req.Header.Set("Last-Event-ID", s.last)
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
	fmt.Fprintf(s.status, "%s: connected to %s; waiting for events (Ctrl-C to stop)\n", s.name, strings.TrimSuffix(s.endpoint, "?"))
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	event, id := "", ""
	for lines.Scan() {
		line := lines.Text()
		if line == "" {
			event, id = "", ""
			continue
		}
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
			continue
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		switch {
		case !ok:
		case event == "error" && strings.Contains(data, `"gap"`):
			fmt.Fprintf(s.status, "%s: %s\n", s.name, data) // some events are not resent; the stream goes on
		case event == "error":
			return true, fmt.Errorf("the server ended the stream: %s", data)
		case id == "" || s.seen.add(id):
			if id != "" {
				s.last = id
			}
			each(id, []byte(data))
		}
	}
	if err := lines.Err(); err != nil {
		return true, err
	}
	return true, errors.New("the stream ended")
}

// recent is a set of the last n ids added.
type recent struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent { return &recent{ids: map[string]struct{}{}, ring: make([]string, n)} }

// add records id and reports whether it was new.
func (r *recent) add(id string) bool {
	if _, ok := r.ids[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next], r.ids[id] = id, struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// untilInterrupted is ctx ended by SIGINT or SIGTERM. Asking for SIGINT
// also takes it back when the shell started the process with it ignored
// (a background job of a script), where Go would otherwise keep ignoring
// it and Ctrl-C or kill -INT would do nothing.
func untilInterrupted(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
