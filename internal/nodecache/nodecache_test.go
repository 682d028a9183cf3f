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

// TestCacheBound: a bounded cache keeps at most Bound entries, forgetting
// the expired ones first and then all; a key already there is replaced
// without that.
func TestCacheBound(t *testing.T) {
	c := Cache[int]{Bound: 3}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c.Put("old", 0, at)
	later := at.Add(TTL + time.Second) // "old" has expired
	c.Put("a", 1, later)
	c.Put("b", 2, later)
	c.Put("a", 10, later) // replaced: still three entries
	c.Put("c", 3, later)  // the fourth: "old" goes
	if len(c.entries) != 3 {
		t.Fatalf("%d entries, want 3", len(c.entries))
	}
	for k, want := range map[string]int{"a": 10, "b": 2, "c": 3} {
		if v, ok := c.Get(k, later); !ok || v != want {
			t.Errorf("%s: %d, %v; want %d", k, v, ok, want)
		}
	}
	c.Put("d", 4, later) // none expired: all go but the new one
	if len(c.entries) != 1 {
		t.Fatalf("%d entries after a put past the bound with none expired, want 1", len(c.entries))
	}
	if v, ok := c.Get("d", later); !ok || v != 4 {
		t.Errorf("d: %d, %v", v, ok)
	}
}
