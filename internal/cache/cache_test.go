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
	exp := New[string, int](10, time.Millisecond)
	exp.Put("x", 1)
	time.Sleep(3 * time.Millisecond)
	if _, ok := exp.Get("x"); ok {
		t.Fatal("expired entry found")
	}
}
