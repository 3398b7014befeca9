package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"
)

// backfillJob is a backfill as GET /admin/v1/backfills/{id} shows it.
type backfillJob struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Selected    int    `json:"selected"`
	Processed   int    `json:"processed"`
	RunsCreated int    `json:"runs_created"`
	Skipped     int    `json:"skipped"`
	Error       string `json:"error"`
}

// runBackfill runs a workflow over stored events: a dry run first (the
// count, and what a sample looks like), then the job, followed with a
// progress line until it ends. Ctrl-C leaves the job running on the
// server (cancel it with POST /admin/v1/backfills/{id}/cancel).
func runBackfill(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c adminClient
	var workflow string
	body := map[string]any{}
	var since, until, filter string
	var limit int
	var dry, includeRan, fromArchive bool
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	managementFlags(fs, &c.base, &c.token)
	fs.StringVar(&workflow, "workflow", "", "the workflow to run (required)")
	fs.StringVar(&since, "since", "", "from the events received at this time (RFC 3339 or Unix seconds; required)")
	fs.StringVar(&until, "until", "", "to the events received before this time (default: now)")
	fs.StringVar(&filter, "filter", "", "only the events for which this CEL expression over event is true")
	fs.IntVar(&limit, "limit", 0, "create at most this many runs")
	fs.BoolVar(&includeRan, "include-ran", false, "also the events that already started a run of the workflow")
	fs.BoolVar(&dry, "dry-run", false, "count the events it would run, and stop")
	fs.BoolVar(&fromArchive, "from-archive", false, "read the events from the server's archive (for events older than the store keeps)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if workflow == "" || since == "" {
		return errors.New("backfill: --workflow and --since are required")
	}
	resolveToken(&c.token, getenv)
	body["since"], body["until"], body["filter"], body["limit"], body["include_ran"] = since, until, filter, limit, includeRan
	body["from_archive"] = fromArchive
	path := "/admin/v1/workflows/" + url.PathEscape(workflow) + "/backfills"
	body["dry_run"] = true
	var count struct{ Selected int }
	if err := c.call(ctx, "POST", path, body, &count); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	fmt.Fprintf(stdout, "backfill: workflow %s would run on %d events\n", workflow, count.Selected)
	if dry || count.Selected == 0 {
		return nil
	}
	body["dry_run"] = false
	var job backfillJob
	if err := c.call(ctx, "POST", path, body, &job); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	fmt.Fprintf(stdout, "backfill: job %s started\n", job.ID)
	bar := newProgress(stderr, "backfill", job.Selected)
	for job.Status == "running" {
		select {
		case <-ctx.Done():
			fmt.Fprintf(stdout, "\nbackfill: job %s goes on on the server\n", job.ID)
			return nil
		case <-time.After(time.Second):
		}
		if err := c.call(ctx, "GET", "/admin/v1/backfills/"+job.ID, nil, &job); err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		bar.show(min(job.Processed, job.Selected))
	}
	bar.show(job.Selected)
	fmt.Fprintf(stdout, "backfill: %s: %d runs created, %d events skipped (they already ran)\n", job.Status, job.RunsCreated, job.Skipped)
	if job.Error != "" {
		return fmt.Errorf("backfill: %s", job.Error)
	}
	return nil
}
