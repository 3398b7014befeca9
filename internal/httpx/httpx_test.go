package httpx

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ReadAll returns exactly what the reader holds whatever size the request
// announced (right, too small, too large, unknown), and allocates ahead of
// the data no more than PresizeCap.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 20_000) // 200 kB, over the cap
	for _, n := range []int{0, 1, 511, 512, 513, 4096, len(body)} {
		want := body[:n]
		for _, size := range []int64{-1, 0, int64(n) / 2, int64(n), int64(n) + 1, 1 << 40} {
			got, err := ReadAll(iotest.HalfReader(strings.NewReader(want)), size)
			if err != nil || string(got) != want {
				t.Fatalf("n=%d size=%d: %d bytes, %v", n, size, len(got), err)
			}
		}
	}
	if got, _ := ReadAll(strings.NewReader("abc"), 3); cap(got) != 4 {
		t.Errorf("a body of its announced size grew: cap %d, want 4", cap(got))
	}
	if got, _ := ReadAll(strings.NewReader(""), 1<<40); cap(got) > PresizeCap {
		t.Errorf("an announced terabyte allocated %d bytes ahead", cap(got))
	}
	boom := errors.New("boom")
	got, err := ReadAll(io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(boom)), 10)
	if !errors.Is(err, boom) || string(got) != "ab" {
		t.Errorf("got %q, %v; want the bytes before the error and the error", got, err)
	}
}
