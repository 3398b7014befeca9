package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// runExport writes the events a server received in a range to files, as
// the archive does (docs/archive.md): read page by page through the
// management API, written here, an hour's window at a time, with a
// progress line. S3 credentials come from the environment, never flags.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c adminClient
	var since, until, format, to, endpoint, region string
	var pathStyle bool
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	managementFlags(fs, &c.base, &c.token)
	fs.StringVar(&since, "since", "", "export the events received since this time (RFC 3339 or Unix seconds; required)")
	fs.StringVar(&until, "until", "", "and before this time (default: now)")
	fs.StringVar(&format, "format", "parquet", "parquet or ndjson")
	fs.StringVar(&to, "to", "", "file:///dir or s3://bucket/prefix (required); credentials from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&endpoint, "s3-endpoint", "https://s3.amazonaws.com", "with s3://: the store's URL")
	fs.StringVar(&region, "s3-region", "", "with s3://: the bucket's region (default us-east-1)")
	fs.BoolVar(&pathStyle, "s3-path-style", false, "with s3://: address the bucket in the path, as most self-hosted stores want")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if since == "" || to == "" {
		return errors.New("export: --since and --to are required")
	}
	from, err := admin.ParseTime("since", since)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	end := time.Now()
	if until != "" {
		if end, err = admin.ParseTime("until", until); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if !end.After(from) {
		return errors.New("export: --until must be after --since")
	}
	f, err := archive.ParseFormat(format)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	store := archive.S3{"endpoint": endpoint, "region": region, "access_key_id": getenv("AWS_ACCESS_KEY_ID"),
		"secret_access_key": getenv("AWS_SECRET_ACCESS_KEY")}
	if pathStyle {
		store["path_style"] = "true"
	}
	sink, err := archive.Open(to, store)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	resolveToken(&c.token, getenv)
	src := exportScanner{c}
	first, err := src.page(ctx, from, end, "", 1)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	bar := newProgress(stderr, "export", first.Total)
	done, windows := 0, 0
	for h := from.Truncate(time.Hour); h.Before(end); h = h.Add(time.Hour) {
		wFrom, wTo := maxTime(h, from), minTime(h.Add(time.Hour), end)
		w := archive.Window{From: wFrom, To: wTo, Format: f, TmpDir: os.TempDir(), Progress: func(k int) {
			bar.total = max(bar.total, done+k) // the per-minute counts may lag the store
			bar.show(done + k)
		}}
		written, err := w.Write(ctx, src, sink)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		n := written.Events
		done += n
		if n > 0 {
			windows++
		}
	}
	bar.total = done
	bar.show(done)
	fmt.Fprintf(stdout, "export: %d events received from %s to %s, in the files of %d hours under %s\n",
		done, from.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), windows, sink)
	return nil
}

// exportScanner reads the events through GET /admin/v1/export/events.
type exportScanner struct{ c adminClient }

func (s exportScanner) page(ctx context.Context, from, to time.Time, after string, limit int) (admin.ExportPage, error) {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)},
		"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	var p admin.ExportPage
	err := s.c.call(ctx, "GET", "/admin/v1/export/events?"+q.Encode(), nil, &p)
	return p, err
}

func (s exportScanner) ScanEvents(ctx context.Context, from, to time.Time, after string, limit int) ([]*cdp.Event, error) {
	p, err := s.page(ctx, from, to, after, limit)
	return p.Events, err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
