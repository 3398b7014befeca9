package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Reader reads events back from an archive, for a backfill of events
// older than the store keeps: file by file in the order of their keys
// (source, date, hour, window), resuming from a cursor.
type Reader struct {
	Sink   Sink
	Format Format
	TmpDir string

	mu     sync.Mutex
	cached string   // the key of the file kept locally
	local  *os.File // its copy
	// listed is the last listing, reused for a minute: a backfill reads
	// a page a second, and an archive of years has many files.
	listed struct {
		prefix string
		at     time.Time
		keys   []string
	}
}

// list lists the keys under prefix, or returns a listing under it of the
// last minute.
func (r *Reader) list(ctx context.Context, prefix string) ([]string, error) {
	r.mu.Lock()
	if r.listed.prefix == prefix && time.Since(r.listed.at) < time.Minute {
		keys := r.listed.keys
		r.mu.Unlock()
		return keys, nil
	}
	r.mu.Unlock()
	keys, err := r.Sink.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.listed.prefix, r.listed.at, r.listed.keys = prefix, time.Now(), keys
	r.mu.Unlock()
	return keys, nil
}

// Events returns up to limit events of source ("" for all) received in
// [since, until), after cursor ("" from the start), and the cursor that
// resumes after them ("" when there was nothing left).
func (r *Reader) Events(ctx context.Context, since, until time.Time, source, cursor string, limit int) ([]*cdp.Event, string, error) {
	prefix := ""
	if source != "" {
		prefix = "source=" + source + "/"
	}
	keys, err := r.list(ctx, prefix)
	if err != nil {
		return nil, "", err
	}
	at, skip, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	var out []*cdp.Event
	next := ""
	for _, key := range keys {
		if key < at || !strings.HasSuffix(key, r.Format.Ext()) || !hourIn(key, since, until) {
			continue
		}
		from := 0
		if key == at {
			from = skip
		}
		events, read, err := r.readFrom(ctx, key, from, limit-len(out), since, until)
		if err != nil {
			return nil, "", err
		}
		out = append(out, events...)
		next = key + "#" + strconv.Itoa(from+read)
		if len(out) >= limit {
			break
		}
	}
	if len(out) == 0 {
		next = ""
	}
	return out, next, nil
}

// readFrom reads the file key from row from on, until it has n events
// received in [since, until), and says how many rows it read.
func (r *Reader) readFrom(ctx context.Context, key string, from, n int, since, until time.Time) ([]*cdp.Event, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached != key {
		if r.local != nil {
			r.local.Close()
			os.Remove(r.local.Name())
			r.local, r.cached = nil, ""
		}
		f, err := os.CreateTemp(r.TmpDir, "archive-read-*")
		if err != nil {
			return nil, 0, fmt.Errorf("archive: %w", err)
		}
		if err := r.Sink.Fetch(ctx, key, f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, 0, err
		}
		r.local, r.cached = f, key
	}
	st, err := r.local.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("archive: %w", err)
	}
	var out []*cdp.Event
	read := 0
	errEnough := errors.New("enough")
	take := func(e *cdp.Event) error {
		read++
		if t, ok := cdp.IDTime(e.ID); ok && !t.Before(since) && t.Before(until) && e.ReceivedAt.Before(until) {
			out = append(out, e)
		}
		if len(out) >= n {
			return errEnough
		}
		return nil
	}
	if err := readRows(r.Format, r.local, st.Size(), from, take); err != nil && !errors.Is(err, errEnough) {
		return nil, 0, fmt.Errorf("archive: reading %s: %w", key, err)
	}
	return out, read, nil
}

// Close removes the local copy of the last file read.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local != nil {
		r.local.Close()
		os.Remove(r.local.Name())
		r.local, r.cached = nil, ""
	}
}

// parseCursor reads "<key>#<rows read>".
func parseCursor(c string) (key string, rows int, err error) {
	if c == "" {
		return "", 0, nil
	}
	i := strings.LastIndexByte(c, '#')
	if i < 0 {
		return "", 0, cdp.Errorf(cdp.EINVALID, "invalid archive cursor %q", c)
	}
	if rows, err = strconv.Atoi(c[i+1:]); err != nil || rows < 0 {
		return "", 0, cdp.Errorf(cdp.EINVALID, "invalid archive cursor %q", c)
	}
	return c[:i], rows, nil
}

// hourIn reports whether the hour partition of key can hold events
// received in [since, until).
func hourIn(key string, since, until time.Time) bool {
	i := strings.Index(key, "date=")
	j := strings.Index(key, "/hour=")
	if i < 0 || j < 0 || j+8 > len(key) {
		return false
	}
	t, err := time.Parse("2006-01-02 15", key[i+5:j]+" "+key[j+6:j+8])
	if err != nil {
		return false
	}
	return t.Add(time.Hour).After(since) && t.Before(until)
}
