// Package packed is the compact form small documents are kept and
// carried in: event bodies and captured requests in both stores, and a
// captured request in an event-log message. It belongs to neither the
// stores nor the log, so both use it without depending on each other.
package packed

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Stored bodies and captured requests are small JSON documents and header
// lines whose keys, shapes and values repeat from one to the next. zstd
// with a dictionary of what they typically hold turns a 400-byte request
// into about 100 bytes, where zstd alone manages 300: the dictionary
// supplies what a small input cannot (measured in docs/benchmarks.md).
//
// Packed data starts with a format byte:
//
//	0x00  the rest is stored as it is (packing would not have saved space)
//	0x01  the rest is a zstd frame made with dictionary 1
//	0x02  the rest is an S2 block made with dictionary 1
//
// Inputs under smallInput (a single event, a request's header and body)
// are packed with S2: for a few hundred bytes the dictionary's matches do
// all the work, and zstd spent most of its time preparing its tables from
// the dictionary for each input (a node's profile: 8 % of its CPU), where
// S2 packs the same request to the same size in a quarter of the time.
// Larger inputs (a batch request) are worth zstd's entropy coding.
//
// A body that starts with '{' or '[' predates packing and is plain JSON.
// A dictionary's content can never change once data was written with it:
// a better one gets the next id, and every known one stays readable.
const (
	formatPlain = 0x00
	formatZstd  = 0x01
	formatS2    = 0x02
)

//go:embed dict-1.txt
var dict1 []byte

// maxUnpacked bounds what unpacking may produce: nothing stored is larger
// than an ingest request's cap, so more means the data is corrupt.
const maxUnpacked = 64 << 20

// smallInput is the size under which packing uses S2 rather than zstd.
const smallInput = 1 << 10

const windowSize = 128 << 10

// s2Dict is dictionary 1 for S2 (which takes it behind the index of a
// repeat offset to start from: none).
var s2Dict = sync.OnceValue(func() *s2.Dict {
	d := s2.NewDict(append([]byte{0}, dict1...))
	if d == nil {
		panic("s2 dictionary 1 is invalid") // only a dictionary over 64 KiB is
	}
	return d
})

var codec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	// A 128 KiB window: what is packed is an event or a request (batches
	// of up to a few hundred KiB repeat themselves within it), and each
	// encoder's history is sized by the window (the default made the
	// encoders hold 8 MiB of heap).
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderDictRaw(1, dict1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true), zstd.WithWindowSize(windowSize), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only bad options fail
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(1, dict1), zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxUnpacked))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
	return enc, dec
})

// Pack returns data compressed, or as it is when that is not smaller,
// behind the format byte.
func Pack(data []byte) []byte {
	var out []byte
	if len(data) < smallInput {
		out = make([]byte, 1+s2.MaxEncodedLen(len(data)))
		out[0] = formatS2
		out = out[:1+len(s2Dict().Encode(out[1:], data))] // encoded in place: out has room
	} else {
		enc, _ := codec()
		out = enc.EncodeAll(data, append(make([]byte, 0, len(data)/2+16), formatZstd))
	}
	if len(out) >= len(data)+1 {
		out = append(append(out[:0], formatPlain), data...)
	}
	return out
}

// Unpack returns what Pack was given. Data without a format byte (a body
// stored before packing, which is JSON) is returned as it is.
func Unpack(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] == '{' || data[0] == '[' {
		return data, nil
	}
	switch data[0] {
	case formatPlain:
		return data[1:], nil
	case formatZstd:
		_, dec := codec()
		out, err := dec.DecodeAll(data[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("unpack: %w", err)
		}
		return out, nil
	case formatS2:
		if n, err := s2.DecodedLen(data[1:]); err != nil || n > maxUnpacked {
			return nil, fmt.Errorf("unpack: corrupt s2 block (%d bytes, %v)", n, err)
		}
		out, err := s2Dict().Decode(nil, data[1:])
		if err != nil {
			return nil, fmt.Errorf("unpack: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unpack: unknown format %#x", data[0])
}

// EncodeRaw packs what no column of a captured request holds: its header
// lines and its body, together so that one dictionary pass covers both.
func EncodeRaw(r *cdp.RawRequest) []byte {
	buf := binary.AppendUvarint(make([]byte, 0, len(r.Header)+len(r.Body)+4), uint64(len(r.Header)))
	buf = append(append(buf, r.Header...), r.Body...)
	return Pack(buf)
}

// DecodeRaw fills r's header and body from EncodeRaw's data.
func DecodeRaw(data []byte, r *cdp.RawRequest) error {
	buf, err := Unpack(data)
	if err != nil {
		return err
	}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)-k) {
		return errors.New("decode raw request: bad header length")
	}
	r.Header = string(buf[k : k+int(n)])
	if rest := buf[k+int(n):]; len(rest) > 0 {
		r.Body = rest
	}
	return nil
}
