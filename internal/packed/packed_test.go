package packed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// TestDictionaryUnchanged: data packed with dictionary 1 is only readable
// with exactly these bytes. A better dictionary must get the next id.
func TestDictionaryUnchanged(t *testing.T) {
	sum := sha256.Sum256(dict1)
	if got := hex.EncodeToString(sum[:]); got != "f23beff784d5641bf665e66a871f50905b9d9b8367f551e171100bd62c7ef4d6" {
		t.Fatalf("dict-1.txt changed (sha256 %s): stored data would no longer unpack; add dict-2.txt instead", got)
	}
}

func TestPack(t *testing.T) {
	track := []byte(`{"type":"track","messageId":"m-101","userId":"u101","event":"Order Completed","timestamp":"2026-11-23T10:00:00Z",` +
		`"properties":{"total":101.99,"currency":"EUR","items":3},"context":{"library":{"name":"analytics-node","version":"2.1.0"}}}`)
	for _, c := range []struct {
		name  string
		in    []byte
		under int // packed size at most
	}{
		{"track request", track, len(track) / 2},
		{"empty", nil, 1},
		{"incompressible", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xff}, 6},
		{"large", bytes.Repeat(track, 100), len(track)},
	} {
		p := Pack(c.in)
		if len(p) > c.under {
			t.Errorf("%s: packed %d bytes into %d, want at most %d", c.name, len(c.in), len(p), c.under)
		}
		out, err := Unpack(p)
		if err != nil || !bytes.Equal(out, c.in) {
			t.Errorf("%s: Unpack(Pack(x)) = %q, %v; want x", c.name, out, err)
		}
	}
	// Bodies stored before packing are JSON and read as they are.
	if out, err := Unpack([]byte(`{"p":{}}`)); err != nil || string(out) != `{"p":{}}` {
		t.Errorf("legacy JSON: %q, %v", out, err)
	}
	// A request is packed with S2, a batch with zstd; small data packed
	// with zstd before S2 was used for it still reads.
	if p := Pack(track); p[0] != formatS2 {
		t.Errorf("a request packed with format %#x, want S2", p[0])
	}
	if p := Pack(bytes.Repeat(track, 100)); p[0] != formatZstd {
		t.Errorf("a batch packed with format %#x, want zstd", p[0])
	}
	enc, _ := codec()
	if out, err := Unpack(enc.EncodeAll(track, []byte{formatZstd})); err != nil || !bytes.Equal(out, track) {
		t.Errorf("zstd-packed request: %q, %v", out, err)
	}
	for _, bad := range [][]byte{{0x7f, 1, 2}, {formatZstd, 1, 2, 3}, {formatS2, 1, 2, 3},
		{formatS2, 0xff, 0xff, 0xff, 0xff, 0x0f}} { // claims 4 GiB
		if _, err := Unpack(bad); err == nil {
			t.Errorf("Unpack(%x) succeeded, want an error", bad)
		}
	}
}

func TestRawRoundTrip(t *testing.T) {
	for _, r := range []cdp.RawRequest{
		{Header: "Host: x\nContent-Type: application/json", Body: []byte(`{"a":1}`)},
		{Header: "", Body: nil},
		{Header: "Content-Length: 0", Body: nil},
		{Header: strings.Repeat("X-A: b\n", 100), Body: []byte{0, 1, 2, 0xff}},
	} {
		var got cdp.RawRequest
		if err := DecodeRaw(EncodeRaw(&r), &got); err != nil || got.Header != r.Header || !bytes.Equal(got.Body, r.Body) {
			t.Errorf("round trip of %q/%q: %q/%q, %v", r.Header, r.Body, got.Header, got.Body, err)
		}
	}
}

// FuzzUnpack: stored data is read back exactly, and nothing, however
// corrupt, makes the decoders panic or return more than their cap.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte(`{"p":{}}`))
	f.Add(Pack([]byte(`{"type":"track"}`)))
	f.Add(EncodeRaw(&cdp.RawRequest{Header: "Host: x", Body: []byte("body")}))
	f.Add(Pack(bytes.Repeat([]byte(`{"type":"track"}`), 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if out, err := Unpack(Pack(data)); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("Unpack(Pack(%x)) = %x, %v", data, out, err)
		}
		if out, err := Unpack(data); err == nil && len(out) > maxUnpacked {
			t.Fatalf("unpacked %d bytes, over the cap", len(out))
		}
		var r cdp.RawRequest
		_ = DecodeRaw(data, &r)
	})
}
