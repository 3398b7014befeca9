package relational

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Conditions render in either dialect with their placeholders numbered in
// order, continuing into what follows (a LIMIT).
func TestWhereSQL(t *testing.T) {
	var w Where
	if sql, next := w.SQL(Dollar); sql != "" || next != 1 {
		t.Fatalf("empty: %q %d", sql, next)
	}
	w.Add("a = ?", 1)
	w.Add("b BETWEEN ? AND ?", 2, 3)
	if sql, next := w.SQL(Dollar); sql != " WHERE a = $1 AND b BETWEEN $2 AND $3" || next != 4 {
		t.Fatalf("dollar: %q %d", sql, next)
	}
	if sql, _ := w.SQL(Question); sql != " WHERE a = ? AND b BETWEEN ? AND ?" {
		t.Fatalf("question: %q", sql)
	}
	if args := w.Args(10); !slices.Equal(args, []any{1, 2, 3, 10}) {
		t.Fatalf("args %v", args)
	}
}

// A run filter becomes its conditions; a cursor that is not one is the
// caller's mistake (EINVALID), not a server error.
func TestRuns(t *testing.T) {
	since := time.Unix(100, 0)
	w, err := Runs(cdp.RunFilter{WorkflowID: "wf", Status: cdp.RunFailed, Since: since, Cursor: RunCursor(41)})
	if err != nil {
		t.Fatal(err)
	}
	sql, _ := w.SQL(Question)
	if sql != " WHERE workflow_id = ? AND status = ? AND created_at >= ? AND seq < ?" {
		t.Fatalf("sql %q", sql)
	}
	if args := w.Args(); !slices.Equal(args, []any{"wf", cdp.RunFailed, since.UnixNano(), int64(42)}) {
		t.Fatalf("args %v", args)
	}
	if _, err := Runs(cdp.RunFilter{Cursor: "not a cursor!"}); cdp.ErrorCode(err) != cdp.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -1: DefaultLimit, 1: 1, 1000: 1000, 1001: DefaultLimit} {
		if got := Limit(in); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
}

// rows is a result set in memory: each row is (item, seq).
type rows struct {
	data [][2]int64
	i    int
	err  error
}

func (r *rows) Next() bool { r.i++; return r.i <= len(r.data) }
func (r *rows) Err() error { return r.err }
func (r *rows) Scan(dest ...any) error {
	*dest[0].(*int64), *dest[1].(*int64) = r.data[r.i-1][0], r.data[r.i-1][1]
	return nil
}

func scanPair(r Rows) (int64, int64, error) {
	var item, seq int64
	err := r.Scan(&item, &seq)
	return item, seq, err
}

// A page stops at limit and continues at the extra row's sequence; a
// short page has no cursor; a failing result set fails the page.
func TestPage(t *testing.T) {
	all := &rows{data: [][2]int64{{1, 30}, {2, 20}, {3, 10}}}
	items, cursor, err := Page(all, 2, scanPair, func(seq int64) string { return fmt.Sprint("at-", seq) })
	if err != nil || !slices.Equal(items, []int64{1, 2}) || cursor != "at-10" {
		t.Fatalf("full page: %v %q %v", items, cursor, err)
	}
	items, cursor, err = Page(&rows{data: [][2]int64{{1, 30}}}, 2, scanPair, RunCursor)
	if err != nil || !slices.Equal(items, []int64{1}) || cursor != "" {
		t.Fatalf("short page: %v %q %v", items, cursor, err)
	}
	broken := errors.New("connection lost")
	if _, _, err := Page(&rows{err: broken}, 2, scanPair, RunCursor); !errors.Is(err, broken) {
		t.Fatalf("failing rows: %v", err)
	}
}
