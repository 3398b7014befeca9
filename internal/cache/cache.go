// Package cache is a bounded in-memory map with optional expiry, for hot
// lookups whose misses are merely slower (never wrong).
package cache

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Cache keeps up to size entries in two generations: when the current one
// fills up it becomes the old one and the previous old one is dropped.
// That approximates LRU at O(1) cost without per-entry bookkeeping.
// It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	half     int
	ttl      time.Duration
	cur, old map[K]entry[V]
	now      func() time.Time // the clock; tests move it
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a cache of up to size entries that live up to ttl (0: no
// expiry).
func New[K comparable, V any](size int, ttl time.Duration) *Cache[K, V] {
	half := max(size/2, 1)
	return &Cache[K, V]{half: half, ttl: ttl, cur: make(map[K]entry[V]), old: make(map[K]entry[V]), now: time.Now}
}

// Get returns the live value of key.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.old[key]; ok {
			c.putLocked(key, e)
		}
	}
	if !ok || (c.ttl > 0 && c.now().After(e.expires)) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put sets key to value.
func (c *Cache[K, V]) Put(key K, value V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := entry[V]{value: value}
	if c.ttl > 0 {
		// Each entry lives between 3/4 of ttl and ttl, so that entries put
		// together (a burst of new visitors) do not all expire, and cost
		// their misses, in the same moment.
		e.expires = c.now().Add(c.ttl - rand.N(c.ttl/4+1))
	}
	c.putLocked(key, e)
}

func (c *Cache[K, V]) putLocked(key K, e entry[V]) {
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[K]entry[V], c.half)
	}
	c.cur[key] = e
}

// Delete removes key.
func (c *Cache[K, V]) Delete(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, key)
	delete(c.old, key)
}

// Clear removes everything.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = make(map[K]entry[V]), make(map[K]entry[V])
}
