package cdp

import (
	"strings"
	"testing"
)

// IDTime reads any string without panicking, and a time it claims is the
// one the id's prefix encodes (the smallest id of that time shares it).
func FuzzIDTime(f *testing.F) {
	f.Add(NewID())
	f.Add("legacy-id")
	f.Add("zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, id string) {
		at, ok := IDTime(id)
		if !ok {
			return
		}
		if min := MinIDAt(at); min[:13] != strings.ToLower(id[:13]) {
			t.Fatalf("IDTime(%q) = %v, whose smallest id is %s", id, at, min)
		}
	})
}

// Headers parses any captured header text; every value it returns is a
// line's text after its "Name: ".
func FuzzRawHeaders(f *testing.F) {
	f.Add("Host: x\nContent-Type: application/json\nX-A: 1\nX-A: 2")
	f.Add(": \n\n::")
	f.Fuzz(func(t *testing.T, text string) {
		r := &RawRequest{Header: text}
		for name, values := range r.Headers() {
			for _, v := range values {
				if !strings.Contains(text, name+": "+v) {
					t.Fatalf("%q: %q not in the text", name, v)
				}
			}
		}
	})
}
