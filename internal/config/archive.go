package config

import (
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/archive"
)

// Archive writes stored events continuously to files (docs/archive.md).
type Archive struct {
	// To is s3://bucket/prefix or file:///dir; empty: no archive.
	To     string `yaml:"to"`
	Format string `yaml:"format"` // parquet (default) | ndjson
	Every  string `yaml:"every"`  // a window, dividing a day; default 1h
	// Grace is how long after a window ends its events may still arrive
	// (nodes' clocks); default 2m.
	Grace string `yaml:"grace"`
	// Requests archives the captured requests beside the events, so that
	// a replay can decode them again after raw_capture.retention.
	Requests bool `yaml:"requests"`
	// S3 reaches the bucket of an s3:// archive: endpoint, region,
	// access_key_id, secret_access_key, path_style (as an s3 destination).
	S3 map[string]string `yaml:"s3"`
}

// s3Settings are the keys Archive.S3 takes.
var s3Settings = []string{"endpoint", "region", "access_key_id", "secret_access_key", "path_style"}

// Parsed returns the archive's window, grace and format; Validate has
// checked them.
func (a *Archive) Parsed() (every, grace time.Duration, f archive.Format) {
	every, grace = archive.DefaultEvery, archive.DefaultGrace
	if d, err := time.ParseDuration(a.Every); err == nil && a.Every != "" {
		every = d
	}
	if d, err := time.ParseDuration(a.Grace); err == nil && a.Grace != "" {
		grace = d
	}
	f, _ = archive.ParseFormat(a.Format)
	return every, grace, f
}

func (c *Config) checkArchive(add func(path, format string, args ...any)) {
	a := c.Archive
	if a == nil {
		return
	}
	switch {
	case a.To == "":
		add("archive.to", "is required: s3://bucket/prefix or file:///dir")
	case strings.HasPrefix(a.To, "s3://") || strings.HasPrefix(a.To, "file://"):
		if _, err := archive.Open(a.To, a.S3); err != nil {
			add("archive.to", "%v", err)
		}
	default:
		add("archive.to", "must be s3://bucket/prefix or file:///dir, not %q", a.To)
	}
	if _, err := archive.ParseFormat(a.Format); err != nil {
		add("archive.format", "%v", err)
	}
	if a.Every != "" {
		if d, err := time.ParseDuration(a.Every); err != nil || d < time.Second || d > 24*time.Hour || (24*time.Hour)%d != 0 {
			add("archive.every", "must be a duration from 1s to 24h that divides a day, such as 1h or 15m, not %q", a.Every)
		}
	}
	if a.Grace != "" {
		if d, err := time.ParseDuration(a.Grace); err != nil || d < 0 || d > time.Hour {
			add("archive.grace", "must be a duration from 0s to 1h, not %q", a.Grace)
		}
	}
	for k := range a.S3 {
		if !slices.Contains(s3Settings, k) {
			add("archive.s3."+k, "is not a setting (they are %s)", strings.Join(s3Settings, ", "))
		}
	}
	if a.Requests && !c.RawCapture.Enabled {
		add("archive.requests", "needs raw_capture.enabled: requests that were not captured cannot be archived")
	}
	if len(a.S3) > 0 && !strings.HasPrefix(a.To, "s3://") {
		add("archive.s3", "is for an s3:// archive, not %q", a.To)
	}
	if (a.S3["access_key_id"] == "") != (a.S3["secret_access_key"] == "") {
		add("archive.s3.access_key_id", "access_key_id and secret_access_key go together")
	}
}
