package archive

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Format is how a file holds events.
type Format string

// The formats.
const (
	Parquet Format = "parquet" // columns as Row says, zstd-compressed
	NDJSON  Format = "ndjson"  // one event per line, as the management API shows it
)

// ParseFormat reads a format's name ("" is Parquet).
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", Parquet:
		return Parquet, nil
	case NDJSON:
		return NDJSON, nil
	}
	return "", fmt.Errorf("format must be parquet or ndjson, not %q", s)
}

// Ext is a file's extension in the format.
func (f Format) Ext() string { return "." + string(f) }

// fileWriter writes values to one file.
type fileWriter[T any] interface {
	Write(v T) error
	// Close finishes the file (not the underlying writer).
	Close() error
}

// rowWriter writes values of T as Parquet rows of R (row makes one) or as
// NDJSON lines of T.
type rowWriter[T, R any] struct {
	pq  *parquet.GenericWriter[R]
	nd  *bufio.Writer
	row func(T) R
	buf []R
}

// newRowWriter writes a file in format f to w, its Parquet row groups of
// at most group rows (how many a writer holds in memory before it writes
// them out, and a reader's unit of work).
func newRowWriter[T, R any](f Format, w io.Writer, row func(T) R, group int64) *rowWriter[T, R] {
	if f == NDJSON {
		return &rowWriter[T, R]{nd: bufio.NewWriterSize(w, 64<<10)}
	}
	return &rowWriter[T, R]{row: row, pq: parquet.NewGenericWriter[R](w, parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(group))}
}

// newEventWriter writes events: Parquet rows as Row says, NDJSON lines as
// the management API shows an event.
func newEventWriter(f Format, w io.Writer) fileWriter[*cdp.Event] {
	return newRowWriter(f, w, FromEvent, 20_000)
}

func (w *rowWriter[T, R]) Write(v T) error {
	if w.nd != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode ndjson: %w", err)
		}
		if _, err := w.nd.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write ndjson: %w", err)
		}
		return nil
	}
	w.buf = append(w.buf, w.row(v))
	if len(w.buf) < 1000 {
		return nil
	}
	return w.flush()
}

func (w *rowWriter[T, R]) flush() error {
	if _, err := w.pq.Write(w.buf); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	w.buf = w.buf[:0]
	return nil
}

func (w *rowWriter[T, R]) Close() error {
	if w.nd != nil {
		return w.nd.Flush()
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.pq.Close(); err != nil {
		return fmt.Errorf("close parquet: %w", err)
	}
	return nil
}

// ReadFile calls fn with each event of a file in format f, in the
// file's order, a row group at a time.
func ReadFile(f Format, r io.ReaderAt, size int64, fn func(*cdp.Event) error) error {
	return readRows(f, r, size, 0, Row.Event, fn)
}

// readRows calls fn with each value of T in a file from row from on (a
// Parquet file seeks to it): NDJSON lines of T, or Parquet rows of R that
// value makes one of.
func readRows[T, R any](f Format, r io.ReaderAt, size int64, from int, value func(R) (T, error), fn func(T) error) error {
	if f == NDJSON {
		sc := bufio.NewScanner(io.NewSectionReader(r, 0, size))
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for i := 0; sc.Scan(); i++ {
			if i < from {
				continue
			}
			var v T
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return fmt.Errorf("read ndjson: %w", err)
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	rd := parquet.NewGenericReader[R](pf)
	defer rd.Close()
	if from > 0 {
		if err := rd.SeekToRow(int64(from)); err != nil {
			return fmt.Errorf("read parquet: %w", err)
		}
	}
	return readParquet(rd, value, fn)
}

// readParquet calls fn with the value of each row rd reads.
func readParquet[T, R any](rd *parquet.GenericReader[R], value func(R) (T, error), fn func(T) error) error {
	rows := make([]R, 1000)
	for {
		n, err := rd.Read(rows)
		for _, row := range rows[:n] {
			v, verr := value(row)
			if verr != nil {
				return verr
			}
			if ferr := fn(v); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read parquet: %w", err)
		}
	}
}
