package server

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestCompatibility: expand migrations never stop a node; a contract
// migration to apply, or applied, stops those whose binary predates it,
// and a binary that predates an applied one cannot serve at all.
func TestCompatibility(t *testing.T) {
	old := store.Node{ID: "node-old", Host: "a:8080", Version: "v1.0.0", SchemaVersion: 28}
	cur := store.Node{ID: "node-new", Host: "b:8080", Version: "v1.1.0", SchemaVersion: 31}
	for _, c := range []struct {
		name                  string
		current, known, floor int64
		contracts             []int64
		nodes                 []store.Node
		wantPending           []int64
		wantProblems          []string // one substring per problem
	}{
		{"expand only, old and new nodes", 28, 31, 0, nil, []store.Node{old, cur}, nil, nil},
		{"a contract before the old node's schema", 28, 31, 0, []int64{20}, []store.Node{old}, nil, nil},
		{"a contract to apply, an old node", 28, 31, 0, []int64{30}, []store.Node{old, cur}, []int64{30},
			[]string{"node node-old on a:8080 (Latchkey v1.0.0, schema 28) cannot run on schema 30"}},
		{"a contract to apply, no old node", 29, 31, 0, []int64{30}, []store.Node{cur}, []int64{30}, nil},
		{"a contract applied, an old node still recorded", 31, 31, 30, []int64{30}, []store.Node{old}, nil,
			[]string{"node node-old"}},
		{"this binary older than the applied contract", 31, 29, 30, nil, nil, nil,
			[]string{"knows the schema up to version 29; a newer release contracted it at version 30"}},
		{"this binary older, expand only", 31, 29, 0, nil, []store.Node{cur}, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			pending, problems := compatibility(c.current, c.known, c.floor, c.contracts, c.nodes)
			if len(pending) != len(c.wantPending) || (len(pending) > 0 && pending[0] != c.wantPending[0]) {
				t.Errorf("pending %v, want %v", pending, c.wantPending)
			}
			if len(problems) != len(c.wantProblems) {
				t.Fatalf("problems %q, want %q", problems, c.wantProblems)
			}
			for i, p := range problems {
				if !strings.Contains(p, c.wantProblems[i]) {
					t.Errorf("problem %q, want %q", p, c.wantProblems[i])
				}
			}
		})
	}
}
