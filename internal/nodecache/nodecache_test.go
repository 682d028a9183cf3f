package nodecache

import (
	"testing"
	"time"
)

func TestCacheTTL(t *testing.T) {
	var c Cache[string]
	put := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	c.Put("a", "one", put)
	for _, tc := range []struct {
		after time.Duration
		found bool
	}{{0, true}, {TTL, true}, {TTL + time.Microsecond, false}} {
		if v, ok := c.Get("a", put.Add(tc.after)); ok != tc.found || ok && v != "one" {
			t.Errorf("%v after the put: %q, %v; want found %v", tc.after, v, ok, tc.found)
		}
	}
	if _, ok := c.Get("b", put); ok {
		t.Error("a key never put is found")
	}
	c.Clear()
	if _, ok := c.Get("a", put); ok {
		t.Error("found after Clear")
	}
}
