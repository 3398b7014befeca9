package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	managementFlags(fs, &f.url, &f.token)
	fs.StringVar(&f.source, "source", "", "only events of this source")
	fs.StringVar(&f.typ, "type", "", "only events of this type")
	fs.StringVar(&f.filter, "filter", "", "only events for which this CEL expression over event is true")
	fs.BoolVar(&f.json, "json", false, "print each event's JSON")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	resolveToken(&f.token, getenv)
	ctx, stop := untilInterrupted(ctx)
	defer stop()
	st := newStream("tail", f.url, f.token, f.source, f.typ, f.filter, stderr)
	return st.follow(ctx, func(_ string, data []byte) {
		if f.json {
			fmt.Fprintln(stdout, string(data))
		} else {
			fmt.Fprintln(stdout, eventLine(data))
		}
	})
}

// eventLine renders an event as one terminal line: time, source, type,
// profile, and the properties cut to a glance (after the first tracking
// plan violation, if any, and how many there are).
func eventLine(data []byte) string {
	var e struct {
		ReceivedAt time.Time       `json:"received_at"`
		SourceID   string          `json:"source_id"`
		Type       string          `json:"type"`
		ProfileID  string          `json:"profile_id"`
		Properties json.RawMessage `json:"properties"`
		Error      string          `json:"error"`
		Violations []struct {
			Plan, Path, Message string
		} `json:"violations"`
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
	if len(e.Violations) > 0 { // what a tracking plan flagged comes first
		v := e.Violations[0]
		props = fmt.Sprintf("⚠ %s %s: %s (%d) %s", v.Plan, v.Path, v.Message, len(e.Violations), props)
	}
	const width = 100
	if r := []rune(props); len(r) > width {
		props = string(r[:width-1]) + "…"
	}
	return fmt.Sprintf("%s  %-12s %-24s %-36s %s", e.ReceivedAt.Local().Format("15:04:05.000"), e.SourceID, e.Type, profile, props)
}
