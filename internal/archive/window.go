package archive

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Scanner reads stored events a page at a time (cdp.ArchiveStore's
// ScanEvents; export reads them through the management API).
type Scanner interface {
	ScanEvents(ctx context.Context, from, to time.Time, after string, limit int) ([]*cdp.Event, error)
}

// page is how many events a window's scan reads at once.
const page = 5000

// Partition is the folder of an event's file: its source, and the date
// and hour (UTC) it was received — when its id was made, a moment before
// its receipt time was taken, so that a window of ids is whole hours.
func Partition(e *cdp.Event) string {
	t, ok := cdp.IDTime(e.ID)
	if !ok {
		t = e.ReceivedAt
	}
	t = t.UTC()
	return fmt.Sprintf("source=%s/date=%s/hour=%02d", e.SourceID, t.Format(time.DateOnly), t.Hour())
}

// FileName is the name of the file a window starting at from writes in
// each of its partitions.
func FileName(from time.Time, f Format) string {
	return "events-" + from.UTC().Format("20060102T150405Z") + f.Ext()
}

// WriteWindow writes the events received in [from, to) to sink, one file
// per partition named after from, and returns how many it wrote. Files
// are built under tmpDir and put whole, so that writing the window again
// (after a crash, or by another node) replaces them with the same
// content. progress, if set, hears the count after each page.
func WriteWindow(ctx context.Context, src Scanner, sink Sink, f Format, from, to time.Time, tmpDir string, progress func(int)) (int, error) {
	type file struct {
		tmp *os.File
		w   fileWriter
	}
	files := map[string]*file{}
	defer func() {
		for _, fl := range files {
			fl.tmp.Close()
			os.Remove(fl.tmp.Name())
		}
	}()
	n, after := 0, ""
	for {
		events, err := src.ScanEvents(ctx, from, to, after, page)
		if err != nil {
			return n, err
		}
		for _, e := range events {
			part := Partition(e)
			fl := files[part]
			if fl == nil {
				tmp, err := os.CreateTemp(tmpDir, "archive-*"+f.Ext())
				if err != nil {
					return n, fmt.Errorf("archive: %w", err)
				}
				fl = &file{tmp: tmp, w: newFileWriter(f, tmp)}
				files[part] = fl
			}
			if err := fl.w.Write(e); err != nil {
				return n, err
			}
		}
		n += len(events)
		if progress != nil {
			progress(n)
		}
		if len(events) < page {
			break
		}
		after = events[len(events)-1].ID
	}
	parts := make([]string, 0, len(files))
	for part := range files {
		parts = append(parts, part)
	}
	slices.Sort(parts)
	for _, part := range parts {
		fl := files[part]
		if err := fl.w.Close(); err != nil {
			return n, err
		}
		if err := sink.Put(ctx, part+"/"+FileName(from, f), fl.tmp); err != nil {
			return n, err
		}
	}
	return n, nil
}
