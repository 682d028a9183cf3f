// Package nodecache owns the per-node caches of rows that change rarely and
// are read on every sign-in or token (applications, authenticator configs,
// realm policies): what a node read is trusted for TTL, so that a change made
// on another node takes effect here within TTL, and a change made on this
// node at once (the owner clears the cache when it commits one). The owner
// gives the time from its clock, so that a test moves past TTL without sleeping.
//
// It must not import other Latchkey packages.
package nodecache

import (
	"sync"
	"time"
)

// TTL bounds how long a node goes on trusting what it read.
const TTL = 2 * time.Second

// Cache holds values by key for TTL. Its owners put only what exists, one
// entry per row: its memory is bounded by the rows in use, or by Bound for
// keys without such a bound (tokens). The zero Cache is empty and ready.
type Cache[V any] struct {
	// Bound, when set, is the most entries it keeps: a Put that would pass
	// it forgets the expired ones first, and all if that is not enough.
	Bound   int
	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// Get returns the value put under key in the TTL before now.
func (c *Cache[V]) Get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || now.After(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put keeps v under key for TTL from now.
func (c *Cache[V]) Put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]entry[V]{}
	}
	if _, ok := c.entries[key]; !ok && c.Bound > 0 && len(c.entries) >= c.Bound {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.Bound {
			clear(c.entries)
		}
	}
	c.entries[key] = entry[V]{value: v, expires: now.Add(TTL)}
}

// Clear forgets everything (changes are rare, so forgetting all is
// simplest and misses none).
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
