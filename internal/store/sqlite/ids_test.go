package sqlite

import "testing"

func TestPackID(t *testing.T) {
	for _, c := range []struct {
		id     string
		packed bool
	}{
		{"01a235f8-1272-7064-8a0b-1d6b14782c27", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"01A235F8-1272-7064-8A0B-1D6B14782C27", false}, // uppercase reads back as given
		{"01a235f8x1272-7064-8a0b-1d6b14782c27", false},
		{"01a235f8-1272-7064-8a0b-1d6b14782c2g", false},
		{"my-profile", false},
		{"", false},
	} {
		v := packID(c.id)
		if b, ok := v.([]byte); ok != c.packed || (ok && len(b) != 16) {
			t.Errorf("packID(%q) = %#v, want packed=%v", c.id, v, c.packed)
		}
		if got, err := unpackID(v); err != nil || got != c.id {
			t.Errorf("unpackID(packID(%q)) = %q, %v", c.id, got, err)
		}
	}
}
