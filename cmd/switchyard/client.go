package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// adminClient calls a server's management API for the CLI's commands.
type adminClient struct {
	base, token string
}

// managementFlags declares --url and --token, which every command that
// talks to a server's management API takes; resolveToken fills the token
// from $SWITCHYARD_ADMIN_TOKEN when the flag is not given (the help names
// the variable, never its value).
func managementFlags(fs *flag.FlagSet, url, token *string) {
	fs.StringVar(url, "url", "http://127.0.0.1:8686", "the server's management URL")
	fs.StringVar(token, "token", "", "admin token (default $SWITCHYARD_ADMIN_TOKEN)")
}

func resolveToken(token *string, getenv func(string) string) {
	if *token == "" {
		*token = getenv("SWITCHYARD_ADMIN_TOKEN")
	}
}

// call sends body (JSON, if not nil) and decodes a 2xx answer into out;
// another answer is an error carrying the server's message.
func (a adminClient) call(ctx context.Context, method, path string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return a.send(ctx, method, path, "application/json", data, out)
}

// send sends a body already encoded in contentType and decodes a 2xx
// answer into out; another answer is an error carrying the server's
// message.
func (a adminClient) send(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	status, data, err := do(req)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return &refusedError{status, string(data)}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// progress shows how far a long command is: on a terminal one line
// rewritten in place (done/total, percentage, rate, ETA), elsewhere a
// line every ten seconds.
type progress struct {
	out      io.Writer
	what     string
	total    int
	start    time.Time
	last     time.Time
	terminal bool
}

func newProgress(out io.Writer, what string, total int) *progress {
	terminal := false
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			terminal = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{out: out, what: what, total: total, start: time.Now(), terminal: terminal}
}

// show reports done of total.
func (p *progress) show(done int) {
	now := time.Now()
	if !p.terminal && now.Sub(p.last) < 10*time.Second && done < p.total {
		return
	}
	p.last = now
	line := fmt.Sprintf("%s: %d/%d", p.what, done, p.total)
	if p.total > 0 {
		line += fmt.Sprintf(" (%.0f%%)", 100*float64(done)/float64(p.total))
	}
	if secs := now.Sub(p.start).Seconds(); secs > 0 && done > 0 {
		rate := float64(done) / secs
		line += fmt.Sprintf(", %.0f/s", rate)
		if left := p.total - done; left > 0 {
			line += ", ETA " + (time.Duration(float64(left)/rate) * time.Second).Round(time.Second).String()
		}
	}
	if p.terminal {
		fmt.Fprintf(p.out, "\r\033[K%s", line)
		if done >= p.total {
			fmt.Fprintln(p.out)
		}
		return
	}
	fmt.Fprintln(p.out, line)
}
