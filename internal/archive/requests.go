package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// RequestRow is a captured request as the archive's files hold it, beside
// the events it carried (docs/archive.md): what a replay decodes again
// once the store's capture retention has removed it.
type RequestRow struct {
	ID         string    `parquet:"id" json:"id"`
	SourceID   string    `parquet:"source_id,dict" json:"source_id"`
	ReceivedAt time.Time `parquet:"received_at,timestamp(nanosecond)" json:"received_at"`
	Method     string    `parquet:"method,dict" json:"method"`
	Path       string    `parquet:"path" json:"path"`
	RemoteAddr string    `parquet:"remote_addr,optional" json:"remote_addr,omitempty"`
	// Header holds "Name: value" lines, credentials masked as captured.
	Header    string `parquet:"header" json:"header"`
	Body      []byte `parquet:"body" json:"body"` // base64 in NDJSON
	BodySize  int64  `parquet:"body_size" json:"body_size"`
	Truncated bool   `parquet:"truncated" json:"truncated"`
}

// requestRow is the request stored under id, of source, as a row.
func requestRow(id, source string, r *cdp.RawRequest) RequestRow {
	return RequestRow{ID: id, SourceID: source, ReceivedAt: r.ReceivedAt.UTC(), Method: r.Method, Path: r.Path,
		RemoteAddr: r.RemoteAddr, Header: r.Header, Body: r.Body, BodySize: r.BodySize, Truncated: r.Truncated}
}

// Raw is the row as the store's captured request.
func (r RequestRow) Raw() *cdp.RawRequest {
	return &cdp.RawRequest{Method: r.Method, Path: r.Path, RemoteAddr: r.RemoteAddr, Header: r.Header, Body: r.Body,
		BodySize: r.BodySize, Truncated: r.Truncated, ReceivedAt: r.ReceivedAt.UTC()}
}

// newRequestWriter writes requests, in row groups of a thousand: a replay
// reads only the groups whose ids span those it looks for.
func newRequestWriter(f Format, w io.Writer) fileWriter[RequestRow] {
	return newRowWriter(f, w, func(r RequestRow) RequestRow { return r }, 1000)
}

// ReadRequestFile calls fn with each request of a file in format f, in
// the file's order.
func ReadRequestFile(f Format, r io.ReaderAt, size int64, fn func(RequestRow) error) error {
	return readRows(f, r, size, 0, identity, fn)
}

func identity(r RequestRow) (RequestRow, error) { return r, nil }

// RequestPartition is the folder of the file that holds a request of
// source: requests/, then the source, date and hour (UTC) its id was made
// in — the moment it arrived.
func RequestPartition(source, id string) (string, bool) {
	t, ok := cdp.IDTime(id)
	if !ok {
		return "", false
	}
	t = t.UTC()
	return fmt.Sprintf("requests/source=%s/date=%s/hour=%02d", source, t.Format(time.DateOnly), t.Hour()), true
}

// RequestFileName is the name of the file of requests a window starting
// at from writes in each of its partitions.
func RequestFileName(from time.Time, f Format) string {
	return "requests-" + from.UTC().Format("20060102T150405Z") + f.Ext()
}

// RequestFinder looks captured requests up in the store (cdp.ArchiveStore).
type RequestFinder interface {
	FindRawRequests(ctx context.Context, ids []string) (map[string]*cdp.RawRequest, error)
}

// requestPicker picks, from a window's events in id order, the requests
// to archive with them: each request once, in the window of its first
// event. (A request's events get their ids right after the request's,
// in one go, so they may straddle a window's start but never by more
// than the moment that took.)
type requestPicker struct {
	store RequestFinder
	scan  Scanner
	from  time.Time
	seen  map[string]time.Time // requests taken or left, by when their id was made
}

// straddle bounds how long after a request's id its events' ids are made;
// the picker forgets a request that long after its id.
const straddle = 10 * time.Second

// page returns the requests that events (a page of the window, in id
// order) bring, in the order their first events came.
func (p *requestPicker) page(ctx context.Context, events []*cdp.Event) ([]RequestRow, error) {
	var ids []string
	source := map[string]string{}
	for _, e := range events {
		id := e.RequestID
		if id == "" || e.ReplayOf != "" { // a replay points at its original's request
			continue
		}
		if _, seen := p.seen[id]; seen {
			continue
		}
		at, ok := cdp.IDTime(id)
		if !ok {
			continue
		}
		p.seen[id] = at
		if at.Before(p.from) {
			earlier, err := p.takenEarlier(ctx, id, at)
			if err != nil {
				return nil, err
			}
			if earlier {
				continue
			}
		}
		ids, source[id] = append(ids, id), e.SourceID
	}
	if len(events) > 0 {
		if last, ok := cdp.IDTime(events[len(events)-1].ID); ok {
			for id, at := range p.seen {
				if at.Before(last.Add(-straddle)) {
					delete(p.seen, id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := p.store.FindRawRequests(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("archive: captured requests: %w", err)
	}
	rows := make([]RequestRow, 0, len(found))
	for _, id := range ids {
		if r, ok := found[id]; ok { // else retention removed it first
			rows = append(rows, requestRow(id, source[id], r))
		}
	}
	return rows, nil
}

// takenEarlier reports whether an event of request id, made before the
// window, took the request into the window before.
func (p *requestPicker) takenEarlier(ctx context.Context, id string, at time.Time) (bool, error) {
	events, err := p.scan.ScanEvents(ctx, at, p.from, "", page)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		if e.RequestID == id && e.ReplayOf == "" {
			return true, nil
		}
	}
	return false, nil
}

// Requests looks the captured requests of source under ids up in the
// archive, and returns those it holds, by id: each in the files of the
// hour its id was made in.
func (r *Reader) Requests(ctx context.Context, source string, ids []string) (map[string]*cdp.RawRequest, error) {
	byPart := map[string]map[string]bool{}
	for _, id := range ids {
		if part, ok := RequestPartition(source, id); ok {
			if byPart[part] == nil {
				byPart[part] = map[string]bool{}
			}
			byPart[part][id] = true
		}
	}
	out := map[string]*cdp.RawRequest{}
	for _, part := range slices.Sorted(maps.Keys(byPart)) {
		keys, err := r.list(ctx, part+"/")
		if err != nil {
			return nil, err
		}
		want := byPart[part]
		for _, key := range keys {
			if len(want) == 0 {
				break
			}
			if strings.HasPrefix(path.Base(key), "requests-") && strings.HasSuffix(key, r.Format.Ext()) {
				if err := r.findRequests(ctx, key, want, out); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// findRequests moves the requests of want that file key holds to out.
// A Parquet file is read only in the row groups whose ids span one of
// them.
func (r *Reader) findRequests(ctx context.Context, key string, want map[string]bool, out map[string]*cdp.RawRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, size, err := r.fetch(ctx, key)
	if err != nil {
		return err
	}
	take := func(row RequestRow) error {
		if want[row.ID] {
			out[row.ID] = row.Raw()
			delete(want, row.ID)
		}
		if len(want) == 0 {
			return errEnough
		}
		return nil
	}
	if r.Format == NDJSON {
		err = readRows(r.Format, f, size, 0, identity, take)
	} else {
		err = findParquet(f, size, want, func(g parquet.RowGroup) error {
			rd := parquet.NewGenericRowGroupReader[RequestRow](g)
			defer rd.Close()
			return readParquet(rd, identity, take)
		})
	}
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("archive: reading %s: %w", key, err)
	}
	return nil
}

// findParquet calls read with each row group of a file whose id column's
// bounds span an id of want.
func findParquet(f io.ReaderAt, size int64, want map[string]bool, read func(parquet.RowGroup) error) error {
	pf, err := parquet.OpenFile(f, size)
	if err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	col, ok := pf.Schema().Lookup("id")
	if !ok {
		return errors.New("read parquet: no id column")
	}
	for _, g := range pf.RowGroups() {
		if b, isFile := g.ColumnChunks()[col.ColumnIndex].(interface {
			Bounds() (min, max parquet.Value, ok bool)
		}); isFile {
			if min, max, ok := b.Bounds(); ok && !spans(want, string(min.ByteArray()), string(max.ByteArray())) {
				continue
			}
		}
		if err := read(g); err != nil {
			return err
		}
	}
	return nil
}

// spans reports whether an id of want is in [lo, hi].
func spans(want map[string]bool, lo, hi string) bool {
	for id := range want {
		if id >= lo && id <= hi {
			return true
		}
	}
	return false
}
