package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/switchyardhq/switchyard/internal/admin"
)

// runReplay feeds a source's captured requests back through their ingest
// route with the source's current configuration (POST /admin/v1/replays):
// first a dry run that counts them, then page by page with a progress
// line.
func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var r admin.ReplayRequest
	var c adminClient
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	managementFlags(fs, &c.base, &c.token)
	fs.StringVar(&r.Source, "source", "", "the source whose captured requests to replay (required)")
	fs.StringVar(&r.Since, "since", "", "replay the events received since this time (RFC 3339 or Unix seconds; required)")
	fs.StringVar(&r.Until, "until", "", "and before this time")
	fs.StringVar(&r.Filter, "filter", "", "only the events for which this CEL expression over event is true")
	fs.BoolVar(&r.DryRun, "dry-run", false, "count what would be replayed, and what cannot be")
	fs.BoolVar(&r.Force, "force", false, "replay requests replayed before (their events are stored again)")
	fs.BoolVar(&r.FromArchive, "from-archive", false, "read the events from the archive, for events older than the store keeps")
	fs.BoolVar(&r.RerunWorkflows, "rerun-workflows", false, "run again, for the new events, the workflows that ran for the originals (by default they do not run twice)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if r.Source == "" || r.Since == "" {
		return errors.New("replay: --source and --since are required")
	}
	resolveToken(&c.token, getenv)
	dry := r
	dry.DryRun = true
	var count admin.ReplaySummary
	if err := c.call(ctx, "POST", "/admin/v1/replays", dry, &count); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	fmt.Fprintf(stdout, "replay: %d events selected, from %d captured requests; %d cannot be replayed\n", count.Selected, count.Requests, len(count.Missing))
	printProblems(stdout, count.Missing)
	if r.DryRun || count.Selected == 0 {
		return nil
	}
	bar := newProgress(stderr, "replay", count.Selected)
	var total admin.ReplaySummary
	for {
		var page admin.ReplaySummary
		if err := c.call(ctx, "POST", "/admin/v1/replays", r, &page); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		total.Selected += page.Selected
		total.Replayed += page.Replayed
		total.Events += page.Events
		total.Failed = append(total.Failed, page.Failed...)
		bar.show(min(total.Selected, count.Selected))
		if r.Cursor = page.NextCursor; r.Cursor == "" {
			break
		}
	}
	bar.show(count.Selected)
	fmt.Fprintf(stdout, "replay: %d requests replayed, %d events made (a repeat of an earlier replay is not stored again); %d failed\n",
		total.Replayed, total.Events, len(total.Failed))
	printProblems(stdout, total.Failed)
	return nil
}

func printProblems(out io.Writer, list []admin.ReplayProblem) {
	for i, p := range list {
		if i == 10 {
			fmt.Fprintf(out, "  … and %d more\n", len(list)-i)
			return
		}
		fmt.Fprintf(out, "  event %s: %s\n", p.EventID, p.Reason)
	}
}
