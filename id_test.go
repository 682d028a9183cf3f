package latchkey

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// TestIDs: ids taken from one IDs have NewID's form, are all different,
// spread over the first byte like random ids, and after the first byte
// count up, so that ids of one bucket sort in the order they were taken.
func TestIDs(t *testing.T) {
	var g IDs
	seen := map[string]bool{}
	byBucket := map[string][]string{}
	for range 100_000 {
		id := g.Next()
		if _, err := hex.DecodeString(id); err != nil || len(id) != 16 || strings.ToLower(id) != id {
			t.Fatalf("id %q: not 16 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
		byBucket[id[:2]] = append(byBucket[id[:2]], id)
	}
	if len(byBucket) != 256 {
		t.Fatalf("%d of 256 first bytes used", len(byBucket))
	}
	for b, ids := range byBucket {
		if len(ids) < 250 || len(ids) > 550 { // 390 expected; far outside is not random
			t.Errorf("bucket %s holds %d of 100,000 ids", b, len(ids))
		}
		if !slices.IsSorted(ids) {
			t.Errorf("bucket %s: ids not in the order taken", b)
		}
	}
	var other IDs
	if a, b := g.Next(), other.Next(); a[2:] == b[2:] {
		t.Errorf("two IDs started at the same number: %s, %s", a, b)
	}
}
