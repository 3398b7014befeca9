package archive

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Archiver writes the stored events to the archive continuously, a window
// (Every) at a time, once no event received in the window can still be
// stored: the event log's oldest unprocessed message was appended more
// than Grace after the window ended. Where it stands is kept in the store
// under a lease, so that a restart resumes with the next window, and of
// the nodes of a cluster one writes at a time; a window written twice
// (its writer died before it recorded it) is written with the same files.
type Archiver struct {
	Store  cdp.Store
	Sink   Sink
	Format Format
	Every  time.Duration // a window; default 1h
	// Grace is how long after a window ends an event received in it may
	// still be on its way (nodes' clocks differ): DefaultGrace unless the
	// configuration says.
	Grace time.Duration
	// Backlog is the processor's backlog in the event log.
	Backlog func(ctx context.Context) (cdp.Backlog, error)
	Node    string
	TmpDir  string
	Log     *slog.Logger
	Now     func() time.Time
	// Requests archives the captured requests beside the events.
	Requests bool
	// Written, if set, hears each window written and what it held.
	Written func(from, to time.Time, n Written)
}

// Defaults, and the lease a node holds while it writes.
const (
	DefaultEvery = time.Hour
	DefaultGrace = 2 * time.Minute
	lease        = time.Minute
	maxPoll      = 30 * time.Second
	name         = "events" // the archive's name in the store
)

// poll is how long to wait before looking again when nothing is ready.
func (a *Archiver) poll() time.Duration { return min(maxPoll, a.every()) }

// Run archives until ctx ends.
func (a *Archiver) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(a.Step(ctx))
	}
}

func (a *Archiver) every() time.Duration {
	if a.Every > 0 {
		return a.Every
	}
	return DefaultEvery
}

// Step writes the next window if it is ready and this node holds the
// archive, and says when to look again.
func (a *Archiver) Step(ctx context.Context) time.Duration {
	now := a.Now()
	stood, ok, err := a.Store.ClaimArchive(ctx, name, a.Node, now, now.Add(lease))
	if err != nil {
		a.Log.Warn("archive: claiming the next window", "err", err)
		return a.poll()
	}
	if !ok {
		return a.poll() // another node writes
	}
	from := stood
	if from.IsZero() {
		if from, err = a.first(ctx, now); err != nil {
			a.Log.Warn("archive: finding the first event", "err", err)
			return a.poll()
		}
	}
	to := from.Add(a.every())
	ready := to.Add(a.Grace)
	mark := a.watermark(ctx, now)
	if ready.After(mark) {
		return min(max(ready.Sub(mark), time.Second), a.poll())
	}
	renewed := now
	w := Window{From: from, To: to, Format: a.Format, TmpDir: a.TmpDir, Progress: func(int) {
		if t := a.Now(); t.Sub(renewed) > lease/3 {
			renewed = t
			_, _, _ = a.Store.ClaimArchive(ctx, name, a.Node, t, t.Add(lease))
		}
	}}
	if a.Requests {
		w.Requests = a.Store
	}
	n, err := w.Write(ctx, a.Store, a.Sink)
	if err != nil {
		if ctx.Err() == nil {
			a.Log.Warn("archive: writing a window", "from", from, "to", to, "err", err)
		}
		return a.poll()
	}
	next := to
	if n.Events == 0 { // skip the empty windows up to the next event's, or the watermark's
		next = a.skip(ctx, to, mark)
	}
	if err := a.Store.AdvanceArchive(ctx, name, a.Node, stood, next); err != nil {
		a.Log.Warn("archive: recording a window", "from", from, "err", err)
		return a.poll()
	}
	if n.Events > 0 {
		a.Log.Info("archived", "from", from, "to", to, "events", n.Events, "requests", n.Requests, "sink", a.Sink.String())
	}
	if a.Written != nil {
		a.Written(from, to, n)
	}
	return 0
}

// first is the window of the oldest stored event, or of now.
func (a *Archiver) first(ctx context.Context, now time.Time) (time.Time, error) {
	events, err := a.Store.ScanEvents(ctx, time.Unix(0, 0), now.Add(time.Hour), "", 1)
	if err != nil || len(events) == 0 {
		return now.Truncate(a.every()), err
	}
	t, ok := cdp.IDTime(events[0].ID)
	if !ok {
		t = events[0].ReceivedAt
	}
	return t.Truncate(a.every()), nil
}

// skip is the window of the first event at or after from, if it is
// before the watermark's window; else the watermark's window.
func (a *Archiver) skip(ctx context.Context, from, mark time.Time) time.Time {
	limit := mark.Add(-a.Grace).Truncate(a.every())
	if !limit.After(from) {
		return from
	}
	events, err := a.Store.ScanEvents(ctx, from, limit, "", 1)
	if err != nil || len(events) == 0 {
		return limit
	}
	t, ok := cdp.IDTime(events[0].ID)
	if !ok || t.Before(from) {
		return from
	}
	return t.Truncate(a.every())
}

// watermark is the time before which every event received is stored: now
// when the processor has nothing left, else when its oldest unprocessed
// message was appended (zero when that cannot be told).
func (a *Archiver) watermark(ctx context.Context, now time.Time) time.Time {
	b, err := a.Backlog(ctx)
	switch {
	case err != nil:
		// At start the processor's consumer may not exist yet.
		a.Log.Debug("archive: reading the event log's backlog", "err", err)
		return time.Time{}
	case b.Messages == 0:
		return now
	case b.Oldest.IsZero():
		a.Log.Debug("archive: the event log does not say when its oldest unprocessed message came", "messages", b.Messages)
	}
	return b.Oldest
}
