package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Reader reads events back from an archive, for a backfill or a replay
// of events older than the store keeps: file by file in the order of
// their keys (source, date, hour, window), resuming from a cursor; and
// the captured requests a replay decodes again.
type Reader struct {
	Sink   Sink
	Format Format
	TmpDir string

	mu sync.Mutex
	// local holds copies of the files read last: the events file a page
	// came from, and the requests file of its hour.
	local []localFile
	// listed are the listings of the last minute: a backfill reads a page
	// a second, and an archive of years has many files.
	listed map[string]listing
}

type localFile struct {
	key string
	f   *os.File
}

type listing struct {
	at   time.Time
	keys []string
}

// Bounds of what a Reader keeps.
const (
	localFiles   = 2
	listings     = 64
	listingCache = time.Minute
)

// list lists the keys under prefix, or returns a listing under it of the
// last minute.
func (r *Reader) list(ctx context.Context, prefix string) ([]string, error) {
	r.mu.Lock()
	l, ok := r.listed[prefix]
	r.mu.Unlock()
	if ok && time.Since(l.at) < listingCache {
		return l.keys, nil
	}
	keys, err := r.Sink.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.listed == nil || len(r.listed) >= listings {
		r.listed = map[string]listing{}
	}
	r.listed[prefix] = listing{time.Now(), keys}
	r.mu.Unlock()
	return keys, nil
}

// Events returns up to limit events of source ("" for all) received in
// [since, until), after cursor ("" from the start), and the cursor that
// resumes after them ("" when there was nothing left).
func (r *Reader) Events(ctx context.Context, since, until time.Time, source, cursor string, limit int) ([]*cdp.Event, string, error) {
	prefix := "source="
	if source != "" {
		prefix += source + "/"
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
		if key < at || !strings.HasPrefix(path.Base(key), "events-") || !strings.HasSuffix(key, r.Format.Ext()) || !hourIn(key, since, until) {
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
	f, size, err := r.fetch(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var out []*cdp.Event
	read := 0
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
	if err := readRows(r.Format, f, size, from, Row.Event, take); err != nil && !errors.Is(err, errEnough) {
		return nil, 0, fmt.Errorf("archive: reading %s: %w", key, err)
	}
	return out, read, nil
}

// fetch returns a local copy of key and its size, fetching it unless it
// is one of the last read. r.mu is held.
func (r *Reader) fetch(ctx context.Context, key string) (*os.File, int64, error) {
	i := slices.IndexFunc(r.local, func(l localFile) bool { return l.key == key })
	if i < 0 {
		f, err := os.CreateTemp(r.TmpDir, "archive-read-*")
		if err != nil {
			return nil, 0, fmt.Errorf("archive: %w", err)
		}
		if err := r.Sink.Fetch(ctx, key, f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, 0, err
		}
		if len(r.local) == localFiles {
			r.local[0].remove()
			r.local = r.local[1:]
		}
		r.local = append(r.local, localFile{key, f})
		i = len(r.local) - 1
	}
	st, err := r.local[i].f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("archive: %w", err)
	}
	return r.local[i].f, st.Size(), nil
}

func (l localFile) remove() {
	l.f.Close()
	os.Remove(l.f.Name())
}

// Close removes the local copies of the files read last.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.local {
		l.remove()
	}
	r.local = nil
}

// errEnough stops a read that found what it looked for.
var errEnough = errors.New("enough")

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
