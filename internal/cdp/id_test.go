package cdp

import (
	"testing"
	"time"
)

func TestNewIDIsOrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 20000 {
		id := NewID()
		if id <= prev {
			t.Fatalf("NewID()=%s not after %s", id, prev)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		prev = id
		if id[14] != '7' || (id[19] != '8' && id[19] != '9' && id[19] != 'a' && id[19] != 'b') {
			t.Fatalf("%s is not a UUIDv7", id)
		}
	}
}

func TestMinIDAt(t *testing.T) {
	now := time.Now()
	if id, min := NewID(), MinIDAt(now.Add(-time.Millisecond)); id < min {
		t.Fatalf("NewID()=%s sorts before MinIDAt(now-1ms)=%s", id, min)
	}
	if min := MinIDAt(now.Add(time.Second)); NewID() >= min {
		t.Fatalf("NewID() sorts after MinIDAt(now+1s)")
	}
}

func TestIDTime(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	at, ok := IDTime(NewID())
	// NewID may borrow a millisecond ahead when it made many in one.
	if !ok || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("IDTime = %v %v, want about %v", at, ok, before)
	}
	for _, id := range []string{"", "legacy-id", "0190aaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz"} {
		if _, ok := IDTime(id); ok {
			t.Errorf("IDTime(%q) claimed a time", id)
		}
	}
}
