package archive_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/parquet-go/parquet-go"

	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// storeWith is a SQLite store holding n events received over the hours
// before now (spread over three sources), every tenth with traits, tags
// and an original timestamp; it returns them in id order.
func storeWith(t *testing.T, n int, span time.Duration, now time.Time) (cdp.Store, []*cdp.Event) {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	start := now.Add(-span)
	var events []*cdp.Event
	for i := range n {
		at := start.Add(time.Duration(i) * span / time.Duration(n)).Truncate(time.Millisecond)
		e := &cdp.Event{ID: storetest.IDAt(at, i%4096), SourceID: fmt.Sprintf("src-%d", i%3), Type: "order", MessageID: "m" + strconv.Itoa(i),
			ProfileID: "p" + strconv.Itoa(i%50), Timestamp: at.Add(-time.Second).Truncate(time.Microsecond), ReceivedAt: at.Add(time.Millisecond),
			Properties: json.RawMessage(fmt.Sprintf(`{"n":%d,"total":%d.5,"items":["a","b"],"note":"caf\u00e9 \"quoted\""}`, i, i)),
			Context:    json.RawMessage(`{"ip":"203.0.113.9"}`)}
		if i%10 == 0 {
			ot := at.Add(-time.Minute).Truncate(time.Microsecond)
			e.OriginalTimestamp, e.Traits, e.Tags, e.UserID = &ot, json.RawMessage(`{"plan":"pro"}`), []string{"vip", "eu"}, "u"+strconv.Itoa(i)
		}
		if i%7 == 0 {
			e.Violations = []cdp.Violation{{Plan: "orders", Kind: cdp.ViolationSchema, Path: "/properties/total", Message: "got number, want string"}}
		}
		events = append(events, e)
	}
	for chunk := range slices.Chunk(events, 500) {
		if err := s.Update(t.Context(), func(tx cdp.Tx) error {
			for _, e := range chunk {
				if _, err := tx.InsertEvent(t.Context(), e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(events, func(a, b *cdp.Event) int { return strings.Compare(a.ID, b.ID) })
	return s, events
}

func archiver(s cdp.Store, sink archive.Sink, f archive.Format, node string, now time.Time) *archive.Archiver {
	return &archive.Archiver{Store: s, Sink: sink, Format: f, Every: time.Hour, Grace: 2 * time.Minute, Node: node,
		Backlog: func(context.Context) (cdp.Backlog, error) { return cdp.Backlog{}, nil }, // the processor is idle
		TmpDir:  os.TempDir(), Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
}

// drain steps the archiver until it has nothing ready.
func drain(t *testing.T, a *archive.Archiver) {
	for range 1000 {
		if a.Step(t.Context()) > 0 {
			return
		}
	}
	t.Fatal("the archiver never stopped")
}

// readAll reads every events file of a sink back, in id order.
func readAll(t *testing.T, sink archive.Sink, f archive.Format) []*cdp.Event {
	keys, err := sink.List(t.Context(), "source=")
	if err != nil {
		t.Fatal(err)
	}
	var out []*cdp.Event
	for _, k := range keys {
		tmp, err := os.CreateTemp(t.TempDir(), "read-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Fetch(t.Context(), k, tmp); err != nil {
			t.Fatal(err)
		}
		st, _ := tmp.Stat()
		if err := archive.ReadFile(f, tmp, st.Size(), func(e *cdp.Event) error {
			if want := archive.Partition(e) + "/"; !strings.HasPrefix(k, want) {
				t.Fatalf("event %s is in %s, not under %s", e.ID, k, want)
			}
			out = append(out, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		tmp.Close()
	}
	slices.SortFunc(out, func(a, b *cdp.Event) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func equal(t *testing.T, got, want []*cdp.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("the archive holds %d events, the store %d", len(got), len(want))
	}
	for i := range want {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if !bytes.Equal(g, w) {
			t.Fatalf("event %d reads back as\n%s\nwant\n%s", i, g, w)
		}
	}
}

// Every stored event is archived once, in the file of its source and
// hour, and reads back equal, in both formats; the current hour (not
// closed yet) waits.
func TestArchiveReadsBackEqual(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	for _, f := range []archive.Format{archive.Parquet, archive.NDJSON} {
		t.Run(string(f), func(t *testing.T) {
			s, events := storeWith(t, 3000, 5*time.Hour, now)
			var closed []*cdp.Event
			for _, e := range events {
				if at, _ := cdp.IDTime(e.ID); at.Before(now.Truncate(time.Hour)) {
					closed = append(closed, e)
				}
			}
			dir := t.TempDir()
			sink, err := archive.Open("file://"+dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, archiver(s, sink, f, "n1", now))
			equal(t, readAll(t, sink, f), closed)
			keys, _ := sink.List(t.Context(), "source=src-1/")
			if len(keys) != 5 || !strings.HasPrefix(keys[0], "source=src-1/date=2026-12-07/hour=10/events-20261207T100000Z") {
				t.Fatalf("files of src-1: %v", keys)
			}
		})
	}
}

// A restart resumes with the next window (nothing written twice, nothing
// skipped), and of two nodes stepping together each window is written by
// one.
func TestArchiveResumesAndOneNodeWrites(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	s, events := storeWith(t, 2000, 6*time.Hour, now)
	sink, err := archive.Open("file://"+t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	windows := map[time.Time]int{}
	count := func(a *archive.Archiver) *archive.Archiver {
		a.Written = func(from, _ time.Time, _ archive.Written) {
			mu.Lock()
			windows[from]++
			mu.Unlock()
		}
		return a
	}
	// The first node writes two windows, then "restarts".
	first := count(archiver(s, sink, archive.Parquet, "n1", now))
	first.Step(t.Context())
	first.Step(t.Context())
	// Two nodes, the first again and a second, step together: the lease
	// lets one write; once it lapses the other may.
	var wg sync.WaitGroup
	for _, node := range []string{"n1", "n2"} {
		a := count(archiver(s, sink, archive.Parquet, node, now))
		wg.Go(func() { drain(t, a) })
	}
	wg.Wait()
	later := count(archiver(s, sink, archive.Parquet, "n2", now.Add(2*time.Minute))) // n1's lease lapsed
	drain(t, later)
	for from, n := range windows {
		if n != 1 {
			t.Fatalf("window %v written %d times", from, n)
		}
	}
	var closed []*cdp.Event
	for _, e := range events {
		if at, _ := cdp.IDTime(e.ID); at.Before(now.Truncate(time.Hour)) {
			closed = append(closed, e)
		}
	}
	equal(t, readAll(t, sink, archive.Parquet), closed)
}

// A window is not written while the processor still has an event that
// may belong to it: its oldest unprocessed message decides.
func TestArchiveWaitsForTheProcessor(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	s, _ := storeWith(t, 100, 2*time.Hour, now)
	sink, _ := archive.Open("file://"+t.TempDir(), nil)
	a := archiver(s, sink, archive.Parquet, "n1", now)
	oldest := now.Truncate(time.Hour).Add(-30 * time.Minute) // mid-way through the last closed hour
	a.Backlog = func(context.Context) (cdp.Backlog, error) { return cdp.Backlog{Messages: 7, Oldest: oldest}, nil }
	drain(t, a)
	keys, _ := sink.List(t.Context(), "")
	for _, k := range keys {
		if strings.Contains(k, "hour=14") {
			t.Fatalf("hour 14 was written while the processor had a message of 14:30: %v", keys)
		}
	}
	if len(keys) == 0 {
		t.Fatal("hour 13 was not written")
	}
}

// DuckDB, an independent Parquet reader, reads the archive's files (with
// their source/date/hour partitions) as the store holds the events, each
// compared. SWITCHYARD_TEST_ARCHIVE_EVENTS sets how many (5,000 by
// default; docs/benchmarks.md records a million).
func TestArchiveReadByDuckDB(t *testing.T) {
	modules := os.Getenv("SWITCHYARD_TEST_NODE_MODULES")
	if _, err := os.Stat(filepath.Join(modules, "@duckdb", "node-api")); modules == "" || err != nil {
		t.Skip("set SWITCHYARD_TEST_NODE_MODULES to a node_modules with @duckdb/node-api (.ci/run does)")
	}
	n := 5000
	if s := os.Getenv("SWITCHYARD_TEST_ARCHIVE_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	began := time.Now()
	s, events := storeWith(t, n, 4*time.Hour, now)
	stored := time.Since(began)
	dir := t.TempDir()
	sink, _ := archive.Open("file://"+dir, nil)
	began = time.Now()
	drain(t, archiver(s, sink, archive.Parquet, "n1", now.Add(time.Hour))) // every hour closed
	wrote := time.Since(began)
	script, _ := filepath.Abs("testdata/duckdb.cjs")
	cmd := exec.Command("node", script, filepath.Join(dir, "**", "*.parquet"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	i := 0
	for ; lines.Scan(); i++ {
		if i >= len(events) {
			t.Fatalf("DuckDB read more events than the store holds (%d)", len(events))
		}
		var row map[string]any
		if err := json.Unmarshal(lines.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		e := events[i]
		at, _ := cdp.IDTime(e.ID)
		want := map[string]any{"id": e.ID, "source_id": e.SourceID, "type": e.Type, "message_id": e.MessageID, "profile_id": e.ProfileID,
			"timestamp_us": strconv.FormatInt(e.Timestamp.UnixMicro(), 10), "received_ns": strconv.FormatInt(e.ReceivedAt.UnixNano(), 10),
			"partition_source": e.SourceID, "partition_date": at.Format(time.DateOnly), "partition_hour": fmt.Sprintf("%02d", at.Hour())}
		for k, v := range want {
			if fmt.Sprint(row[k]) != fmt.Sprint(v) {
				t.Fatalf("event %s: DuckDB reads %s as %v, want %v (row %s)", e.ID, k, row[k], v, lines.Bytes())
			}
		}
		for k, raw := range map[string]json.RawMessage{"properties": e.Properties, "context": e.Context, "traits": e.Traits} {
			if !sameJSON(row[k], raw) {
				t.Fatalf("event %s: DuckDB reads %s as %v, want %s", e.ID, k, row[k], raw)
			}
		}
		if tags, _ := row["tags"].([]any); fmt.Sprint(tags) != fmt.Sprint(anySlice(e.Tags)) {
			t.Fatalf("event %s: tags %v, want %v", e.ID, row["tags"], e.Tags)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	if i != len(events) {
		t.Fatalf("DuckDB read %d events, the store holds %d", i, len(events))
	}
	var size int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	t.Logf("%d events: stored in %v, archived in %v (%.0f events/s, %.1f bytes/event on disk), read back by DuckDB and compared in %v",
		n, stored.Round(time.Millisecond), wrote.Round(time.Millisecond), float64(n)/wrote.Seconds(), float64(size)/float64(n), time.Since(began).Round(time.Millisecond))
}

// sameJSON reports whether DuckDB's text of a JSON column (nil for NULL)
// holds the same JSON as raw (nil for none).
func sameJSON(got any, raw json.RawMessage) bool {
	if got == nil {
		return len(raw) == 0
	}
	var a, b any
	if json.Unmarshal([]byte(got.(string)), &a) != nil || json.Unmarshal(raw, &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func anySlice(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

// The archive in a bucket (an S3-compatible store) holds the same files,
// and reads back equal.
func TestArchiveToS3(t *testing.T) {
	endpoint, bucket := testenv.S3(t)
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	s, events := storeWith(t, 2000, 3*time.Hour, now.Add(-time.Hour))
	sink, err := archive.Open("s3://"+bucket+"/events/v1", archive.S3{"endpoint": endpoint, "path_style": "true"})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, archiver(s, sink, archive.Parquet, "n1", now))
	equal(t, readAll(t, sink, archive.Parquet), events)
	objects := 0
	for obj := range testenv.S3Client(t, endpoint).ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: "events/v1/source=", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		objects++
	}
	if objects != 12 { // 3 sources × 4 hours (11:30 to 14:30)
		t.Fatalf("%d objects under events/v1/", objects)
	}
}

// The reader walks the archive a page at a time, resuming from its
// cursor, and returns each event of the range once (of one source, or
// all), in both formats.
func TestReaderPages(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC)
	for _, f := range []archive.Format{archive.Parquet, archive.NDJSON} {
		t.Run(string(f), func(t *testing.T) {
			s, events := storeWith(t, 900, 4*time.Hour, now)
			sink, _ := archive.Open("file://"+t.TempDir(), nil)
			drain(t, archiver(s, sink, f, "n1", now.Add(time.Hour)))
			since, until := now.Add(-3*time.Hour-10*time.Minute), now.Add(-time.Hour+5*time.Minute)
			r := &archive.Reader{Sink: sink, Format: f, TmpDir: t.TempDir()}
			defer r.Close()
			for _, source := range []string{"", "src-2"} {
				want := map[string]bool{}
				for _, e := range events {
					if at, _ := cdp.IDTime(e.ID); !at.Before(since) && at.Before(until) && (source == "" || e.SourceID == source) {
						want[e.ID] = true
					}
				}
				got, cursor := map[string]int{}, ""
				for pages := 0; ; pages++ {
					page, next, err := r.Events(t.Context(), since, until, source, cursor, 7)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					for _, e := range page {
						got[e.ID]++
					}
					cursor = next
					if pages > 1000 {
						t.Fatal("the walk does not end")
					}
				}
				if len(got) != len(want) {
					t.Fatalf("source %q: %d events read, %d in the range", source, len(got), len(want))
				}
				for id, n := range got {
					if n != 1 || !want[id] {
						t.Fatalf("source %q: event %s read %d times (in the range: %v)", source, id, n, want[id])
					}
				}
			}
			if _, _, err := r.Events(t.Context(), since, until, "", "no-cursor", 7); cdp.ErrorCode(err) != cdp.EINVALID {
				t.Fatalf("a bad cursor: %v", err)
			}
		})
	}
}

// A Parquet file written before events carried violations (no such
// column) reads back as events without them.
func TestArchiveReadsFilesWithoutViolations(t *testing.T) {
	type before struct { // Row as it was, up to replay_of
		ID         string    `parquet:"id"`
		SourceID   string    `parquet:"source_id,dict"`
		Type       string    `parquet:"type,dict"`
		Timestamp  time.Time `parquet:"timestamp,timestamp(microsecond)"`
		ReceivedAt time.Time `parquet:"received_at,timestamp(nanosecond)"`
		Properties string    `parquet:"properties,json"`
		Context    string    `parquet:"context,json"`
		Tags       []string  `parquet:"tags,list"`
		ReplayOf   string    `parquet:"replay_of,optional"`
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "old.parquet")
	if err := parquet.WriteFile(path, []before{{ID: storetest.IDAt(at, 1), SourceID: "web", Type: "order", Timestamp: at, ReceivedAt: at,
		Properties: `{"n":1}`, Context: `{}`}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	var got []*cdp.Event
	if err := archive.ReadFile(archive.Parquet, f, st.Size(), func(e *cdp.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Type != "order" || string(got[0].Properties) != `{"n":1}` || got[0].Violations != nil {
		t.Fatalf("read %+v", got)
	}
}
