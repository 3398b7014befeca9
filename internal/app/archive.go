package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/processor"
)

// startArchive starts the archiver when the configuration has an
// archive: every node runs one, and the store's lease lets one write.
func (a *App) startArchive(ctx context.Context) error {
	cfg := a.Config.Archive
	if cfg == nil || cfg.To == "" {
		return nil
	}
	sink, err := archive.Open(cfg.To, cfg.S3)
	if err != nil {
		return err
	}
	// Files are built here before they are put whole; what a crash left
	// is removed.
	tmp := filepath.Join(a.Config.DataDir, "archive-tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	every, grace, format := cfg.Parsed()
	log := a.Log.With("component", "archive")
	ar := &archive.Archiver{Store: a.Store, Sink: sink, Format: format, Every: every, Grace: grace, Node: a.deploy.node,
		Backlog: func(ctx context.Context) (cdp.Backlog, error) { return a.Events.Backlog(ctx, processor.Group) },
		TmpDir:  tmp, Log: log, Now: time.Now,
		Requests: cfg.Requests,
		Written: func(_, to time.Time, n archive.Written) {
			a.Metrics.ArchivedEvents.Add(float64(n.Events))
			a.Metrics.ArchivedRequests.Add(float64(n.Requests))
			a.Metrics.ArchivedUntil.Set(float64(to.Unix()))
		}}
	// Backfills and replays of events older than the store keeps read
	// them back.
	reader := &archive.Reader{Sink: sink, Format: format, TmpDir: tmp}
	a.Backfills.Archive, a.Archive = reader, reader
	a.closeFirst(func() error { reader.Close(); return nil })
	log.Info("archiving stored events", "to", sink.String(), "format", format, "every", every, "requests", cfg.Requests)
	a.work.Go(func() { ar.Run(ctx) })
	return nil
}
