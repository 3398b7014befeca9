package archive_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// capture is a store holding requests and the events they carried, and
// what the archive should make of them.
type capture struct {
	store cdp.Store
	// requests are the captured requests the archive should hold, by id,
	// with the source that sent them.
	requests map[string]*cdp.RawRequest
	sources  map[string]string
	events   []*cdp.Event
}

// storeWithRequests is a store holding n captured requests received over
// the three hours before now, each carrying one to three events, plus the
// cases at a window's edge: a request whose events straddle the start of
// an hour (archived once, by the window of its first event), one whose
// events all come in the next hour, a replayed event pointing at an
// older request (not archived again), and an event whose request the
// capture's retention removed (nothing to archive).
func storeWithRequests(t *testing.T, n int, now time.Time) *capture {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &capture{store: s, requests: map[string]*cdp.RawRequest{}, sources: map[string]string{}}
	raws := map[string]*cdp.RawRequest{}
	request := func(at time.Time, seq int, source string) string {
		id := storetest.IDAt(at, seq)
		body := fmt.Sprintf(`{"batch":[{"type":"track","event":"order","n":%d}]}`, seq)
		raws[id] = &cdp.RawRequest{Method: "POST", Path: "/v1/batch?x=" + fmt.Sprint(seq), RemoteAddr: "203.0.113.7:5000",
			Header: "Host: sy.example\nContent-Type: application/json\nAuthorization: ***", Body: []byte(body),
			BodySize: int64(len(body)), ReceivedAt: at.Add(time.Microsecond)}
		c.requests[id], c.sources[id] = raws[id], source
		return id
	}
	event := func(at time.Time, seq int, source, req string) *cdp.Event {
		e := &cdp.Event{ID: storetest.IDAt(at, seq), SourceID: source, Type: "order", RequestID: req,
			Timestamp: at, ReceivedAt: at.Add(time.Microsecond), Properties: json.RawMessage(`{}`), Context: json.RawMessage(`{}`)}
		c.events = append(c.events, e)
		return e
	}
	start := now.Truncate(time.Hour).Add(-3 * time.Hour)
	for i := range n {
		at := start.Add(time.Duration(i) * 3 * time.Hour / time.Duration(n)).Truncate(time.Millisecond)
		source := fmt.Sprintf("src-%d", i%2)
		req := request(at, 0, source)
		for k := range 1 + i%3 {
			event(at, 1+k, source, req)
		}
	}
	edge := start.Add(time.Hour)
	straddles := request(edge.Add(-time.Millisecond), 100, "src-0")
	event(edge.Add(-time.Millisecond), 101, "src-0", straddles)
	event(edge, 102, "src-0", straddles)
	next := request(edge.Add(-time.Millisecond), 110, "src-1")
	event(edge, 111, "src-1", next)
	replayed := request(edge.Add(5*time.Millisecond), 115, "src-0")
	original := event(edge.Add(5*time.Millisecond), 116, "src-0", replayed)
	replay := event(edge.Add(59*time.Minute), 120, "src-0", replayed) // in a later page of the window
	replay.ReplayOf = original.ID
	event(edge.Add(2*time.Minute), 130, "src-1", storetest.IDAt(edge.Add(2*time.Minute), 129)) // its capture is gone
	if err := s.Update(t.Context(), func(tx cdp.Tx) error {
		if err := tx.InsertRawRequests(t.Context(), raws); err != nil {
			return err
		}
		for _, e := range c.events {
			if _, err := tx.InsertEvent(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// With archive.requests, each captured request is archived once, beside
// its events, in the file of its source and the hour it arrived; it reads
// back as the store held it, and a replay finds it by id (in a Parquet
// file, in the row groups whose ids span it). The events files are as
// without it.
func TestArchiveRequests(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	for _, f := range []archive.Format{archive.Parquet, archive.NDJSON} {
		t.Run(string(f), func(t *testing.T) {
			n := 9000 // two pages an hour
			if v := os.Getenv("SWITCHYARD_TEST_ARCHIVE_REQUESTS"); v != "" {
				n, _ = strconv.Atoi(v)
			}
			c := storeWithRequests(t, n, now)
			dir := t.TempDir()
			sink, _ := archive.Open("file://"+dir, nil)
			a := archiver(c.store, sink, f, "n1", now)
			a.Requests = true
			var written archive.Written
			a.Written = func(_, _ time.Time, n archive.Written) {
				written.Events, written.Requests = written.Events+n.Events, written.Requests+n.Requests
			}
			began := time.Now()
			drain(t, a)
			took := time.Since(began)
			var size int64
			filepath.WalkDir(filepath.Join(dir, "requests"), func(_ string, d os.DirEntry, err error) error {
				if info, ierr := d.Info(); err == nil && ierr == nil && !d.IsDir() {
					size += info.Size()
				}
				return nil
			})
			t.Logf("%d requests (%d events) archived in %v: %.0f requests/s, %.1f bytes/request on disk",
				written.Requests, written.Events, took.Round(time.Millisecond), float64(written.Requests)/took.Seconds(), float64(size)/float64(written.Requests))
			if written.Events != len(c.events) || written.Requests != len(c.requests) {
				t.Fatalf("wrote %+v, want %d events and %d requests", written, len(c.events), len(c.requests))
			}
			if got := readAll(t, sink, f); len(got) != len(c.events) {
				t.Fatalf("the events files hold %d events, want %d", len(got), len(c.events))
			}

			keys, err := sink.List(t.Context(), "requests/")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, k := range keys {
				tmp, _ := os.CreateTemp(t.TempDir(), "read-*")
				if err := sink.Fetch(t.Context(), k, tmp); err != nil {
					t.Fatal(err)
				}
				st, _ := tmp.Stat()
				if err := archive.ReadRequestFile(f, tmp, st.Size(), func(r archive.RequestRow) error {
					seen[r.ID]++
					if part, _ := archive.RequestPartition(r.SourceID, r.ID); !strings.HasPrefix(k, part+"/requests-") {
						t.Fatalf("request %s is in %s, not under %s", r.ID, k, part)
					}
					want := c.requests[r.ID]
					if want == nil || c.sources[r.ID] != r.SourceID || fmt.Sprint(r.Raw()) != fmt.Sprint(want) {
						t.Fatalf("request %s reads back as %+v, want %+v of %s", r.ID, r.Raw(), want, c.sources[r.ID])
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				tmp.Close()
			}
			for id := range c.requests {
				if seen[id] != 1 {
					t.Fatalf("request %s archived %d times", id, seen[id])
				}
			}
			if len(seen) != len(c.requests) {
				t.Fatalf("%d requests archived, %d captured", len(seen), len(c.requests))
			}

			r := &archive.Reader{Sink: sink, Format: f, TmpDir: t.TempDir()}
			defer r.Close()
			for _, source := range []string{"src-0", "src-1"} {
				var ids []string
				for id, s := range c.sources {
					if s == source {
						ids = append(ids, id)
					}
				}
				ids = append(ids, storetest.IDAt(now.Add(-time.Hour), 4000)) // never captured
				found, err := r.Requests(t.Context(), source, ids)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != len(ids)-1 {
					t.Fatalf("%s: the reader found %d of %d requests", source, len(found), len(ids)-1)
				}
				for id, got := range found {
					if fmt.Sprint(got) != fmt.Sprint(c.requests[id]) {
						t.Fatalf("request %s found as %+v", id, got)
					}
				}
			}
			// The events reader does not take request files for events.
			page, _, err := r.Events(t.Context(), time.Unix(0, 0), now, "", "", len(c.events)+1)
			if err != nil || len(page) != len(c.events) {
				t.Fatalf("the reader read %d events, want %d: %v", len(page), len(c.events), err)
			}
		})
	}
}
