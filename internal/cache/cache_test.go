package cache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	c := New[string, int](4, 0)
	c.Put("a", 1)
	c.Put("b", 2)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a)=%v,%v", v, ok)
	}
	for i, k := range []string{"c", "d", "e", "f", "g"} {
		c.Put(k, i)
	}
	if _, ok := c.Get("b"); ok {
		t.Fatal("b survived two generations of newer entries")
	}
	if _, ok := c.Get("g"); !ok {
		t.Fatal("newest entry missing")
	}
	c.Delete("g")
	if _, ok := c.Get("g"); ok {
		t.Fatal("deleted entry found")
	}
	c.Clear()
	if _, ok := c.Get("f"); ok {
		t.Fatal("entry survived Clear")
	}
	exp := New[string, int](10, time.Minute)
	clock := time.Now()
	exp.now = func() time.Time { return clock }
	exp.Put("x", 1)
	if clock = clock.Add(44 * time.Second); !has(exp, "x") {
		t.Fatal("an entry expired before three quarters of its ttl")
	}
	if clock = clock.Add(16*time.Second + time.Nanosecond); has(exp, "x") {
		t.Fatal("expired entry found")
	}
}

// Entries put together expire over the last quarter of the ttl, not all
// at once.
func TestExpiriesSpread(t *testing.T) {
	c := New[int, int](10_000, time.Minute)
	before := time.Now()
	for i := range 1000 {
		c.Put(i, i)
	}
	after := time.Now()
	first, last := after.Add(time.Hour), before
	for _, e := range c.cur {
		if e.expires.Before(before.Add(45*time.Second)) || e.expires.After(after.Add(time.Minute)) {
			t.Fatalf("expiry %v outside [45s, 60s] from the put", e.expires.Sub(before))
		}
		if e.expires.Before(first) {
			first = e.expires
		}
		if e.expires.After(last) {
			last = e.expires
		}
	}
	if last.Sub(first) < 10*time.Second {
		t.Fatalf("1000 expiries within %v of each other", last.Sub(first))
	}
}

func has(c *Cache[string, int], key string) bool {
	_, ok := c.Get(key)
	return ok
}
