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

// fileWriter writes events to one file.
type fileWriter interface {
	Write(e *cdp.Event) error
	// Close finishes the file (not the underlying writer).
	Close() error
}

func newFileWriter(f Format, w io.Writer) fileWriter {
	if f == NDJSON {
		return &ndjsonWriter{w: bufio.NewWriterSize(w, 64<<10)}
	}
	return &parquetWriter{w: parquet.NewGenericWriter[Row](w, parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(rowGroup))}
}

// rowGroup bounds the rows a Parquet writer holds in memory before it
// writes them out (and a reader's unit of work).
const rowGroup = 20_000

type parquetWriter struct {
	w   *parquet.GenericWriter[Row]
	buf []Row
}

func (p *parquetWriter) Write(e *cdp.Event) error {
	p.buf = append(p.buf, FromEvent(e))
	if len(p.buf) < 1000 {
		return nil
	}
	return p.flush()
}

func (p *parquetWriter) flush() error {
	if _, err := p.w.Write(p.buf); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	p.buf = p.buf[:0]
	return nil
}

func (p *parquetWriter) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close parquet: %w", err)
	}
	return nil
}

type ndjsonWriter struct{ w *bufio.Writer }

func (n *ndjsonWriter) Write(e *cdp.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	if _, err := n.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write ndjson: %w", err)
	}
	return nil
}

func (n *ndjsonWriter) Close() error { return n.w.Flush() }

// ReadFile calls fn with each event of a file in format f, in the
// file's order, a row group at a time.
func ReadFile(f Format, r io.ReaderAt, size int64, fn func(*cdp.Event) error) error {
	return readRows(f, r, size, 0, fn)
}

// readRows is ReadFile from row from on (a Parquet file seeks to it).
func readRows(f Format, r io.ReaderAt, size int64, from int, fn func(*cdp.Event) error) error {
	if f == NDJSON {
		sc := bufio.NewScanner(io.NewSectionReader(r, 0, size))
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for i := 0; sc.Scan(); i++ {
			if i < from {
				continue
			}
			var e cdp.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return fmt.Errorf("read ndjson: %w", err)
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	rd := parquet.NewGenericReader[Row](pf)
	defer rd.Close()
	if from > 0 {
		if err := rd.SeekToRow(int64(from)); err != nil {
			return fmt.Errorf("read parquet: %w", err)
		}
	}
	rows := make([]Row, 1000)
	for {
		n, err := rd.Read(rows)
		for _, row := range rows[:n] {
			e, rerr := row.Event()
			if rerr != nil {
				return rerr
			}
			if ferr := fn(e); ferr != nil {
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
