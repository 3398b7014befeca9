package archive

import (
	"context"
	"fmt"
	"io"
	"maps"
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

// Window is a window of the archive to write: the events received in
// [From, To) and, with Requests, the requests that carried them.
type Window struct {
	From, To time.Time
	Format   Format
	// TmpDir is where files are built before they are put whole.
	TmpDir string
	// Requests, if set, finds the captured requests of the window's
	// events, archived beside them.
	Requests RequestFinder
	// Progress, if set, hears the count of events after each page.
	Progress func(events int)
}

// Written is what a window wrote.
type Written struct{ Events, Requests int }

// Write writes the window to sink from src, one file per partition named
// after From, and says how many events and requests it wrote. Files are
// put whole, so that writing the window again (after a crash, or by
// another node) replaces them with the same content.
func (w Window) Write(ctx context.Context, src Scanner, sink Sink) (Written, error) {
	events := newFileSet(w.TmpDir, FileName(w.From, w.Format), w.Format, newEventWriter)
	defer events.remove()
	requests := newFileSet(w.TmpDir, RequestFileName(w.From, w.Format), w.Format, newRequestWriter)
	defer requests.remove()
	picker := &requestPicker{store: w.Requests, scan: src, from: w.From, seen: map[string]time.Time{}}
	var n Written
	after := ""
	for {
		scanned, err := src.ScanEvents(ctx, w.From, w.To, after, page)
		if err != nil {
			return n, err
		}
		for _, e := range scanned {
			if err := events.write(Partition(e), e); err != nil {
				return n, err
			}
		}
		if w.Requests != nil {
			rows, err := picker.page(ctx, scanned)
			if err != nil {
				return n, err
			}
			for _, r := range rows {
				part, _ := RequestPartition(r.SourceID, r.ID)
				if err := requests.write(part, r); err != nil {
					return n, err
				}
			}
			n.Requests += len(rows)
		}
		n.Events += len(scanned)
		if w.Progress != nil {
			w.Progress(n.Events)
		}
		if len(scanned) < page {
			break
		}
		after = scanned[len(scanned)-1].ID
	}
	if err := requests.put(ctx, sink); err != nil {
		return n, err
	}
	return n, events.put(ctx, sink)
}

// fileSet is a window's files of one kind, one per partition, built in a
// directory and put whole.
type fileSet[T any] struct {
	dir, name string
	format    Format
	open      func(Format, io.Writer) fileWriter[T]
	files     map[string]*partFile[T]
}

type partFile[T any] struct {
	tmp *os.File
	w   fileWriter[T]
}

func newFileSet[T any](dir, name string, f Format, open func(Format, io.Writer) fileWriter[T]) *fileSet[T] {
	return &fileSet[T]{dir: dir, name: name, format: f, open: open, files: map[string]*partFile[T]{}}
}

// write adds v to the file of partition part.
func (s *fileSet[T]) write(part string, v T) error {
	fl := s.files[part]
	if fl == nil {
		tmp, err := os.CreateTemp(s.dir, "archive-*"+s.format.Ext())
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		fl = &partFile[T]{tmp: tmp, w: s.open(s.format, tmp)}
		s.files[part] = fl
	}
	return fl.w.Write(v)
}

// put finishes each file and puts it as part/name, in the partitions'
// order.
func (s *fileSet[T]) put(ctx context.Context, sink Sink) error {
	for _, part := range slices.Sorted(maps.Keys(s.files)) {
		fl := s.files[part]
		if err := fl.w.Close(); err != nil {
			return err
		}
		if err := sink.Put(ctx, part+"/"+s.name, fl.tmp); err != nil {
			return err
		}
	}
	return nil
}

// remove removes the files built.
func (s *fileSet[T]) remove() {
	for _, fl := range s.files {
		fl.tmp.Close()
		os.Remove(fl.tmp.Name())
	}
}
