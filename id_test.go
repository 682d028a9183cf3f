package latchkey

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestIDs: ids taken from one IDs have NewID's form, are all different,
// and come in runs of idRun that share a first byte, successive runs the
// next one (past ff, 00), with the rest of the id counting up, so that
// ids of one bucket sort in the order they were taken.
func TestIDs(t *testing.T) {
	var g IDs
	seen := map[string]bool{}
	var last string
	for i := range 3*idRun + 1 {
		id := g.Next()
		if _, err := hex.DecodeString(id); err != nil || len(id) != 16 || strings.ToLower(id) != id {
			t.Fatalf("id %q: not 16 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
		if i%idRun == 0 {
			if last != "" && hexByte(t, id)-hexByte(t, last) != 1 {
				t.Fatalf("run %d starts with %s after %s: not the next first byte", i/idRun, id, last)
			}
		} else if id[:2] != last[:2] || id <= last {
			t.Fatalf("id %d of a run: %s after %s", i, id, last)
		}
		last = id
	}
	var other IDs
	if a, b := g.Next(), other.Next(); a[2:] == b[2:] {
		t.Errorf("two IDs started at the same number: %s, %s", a, b)
	}
	wrapping := IDs{taken: idRun, first: 0xff, started: true}
	if id := wrapping.Next(); id[:2] != "00" {
		t.Errorf("the run after ff starts %s", id)
	}
}

// hexByte is the first byte of id.
func hexByte(t *testing.T, id string) byte {
	b, err := hex.DecodeString(id[:2])
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}
