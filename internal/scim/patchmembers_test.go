package scim

import (
	"slices"
	"testing"
)

func TestNamedMembers(t *testing.T) {
	members := func(ids ...string) []any {
		var out []any
		for _, id := range ids {
			out = append(out, map[string]any{"value": id, "display": "D"})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ops  []PatchOperation
		want []string // nil with ok false: every member is needed
		ok   bool
	}{
		{"add", []PatchOperation{{Op: "add", Path: "members", Value: members("a", "b")}}, []string{"a", "b"}, true},
		{"Entra remove by value", []PatchOperation{{Op: "Remove", Path: "members", Value: members("a")}}, []string{"a"}, true},
		{"remove by filter", []PatchOperation{{Op: "remove", Path: `members[value eq "a" or VALUE eq "b"]`}}, []string{"a", "b"}, true},
		{"Okta no-path replace of the name", []PatchOperation{{Op: "replace", Value: map[string]any{"id": "g", "displayName": "N", "schemas": []any{}}}}, nil, true},
		{"no-path add of members", []PatchOperation{{Op: "add", Value: map[string]any{"members": members("c")}}}, []string{"c"}, true},
		{"name and members", []PatchOperation{{Op: "replace", Path: "displayName", Value: "N"}, {Op: "add", Path: "members", Value: members("a")}}, []string{"a"}, true},
		{"replace members", []PatchOperation{{Op: "replace", Path: "members", Value: members("a")}}, nil, false},
		{"remove all members", []PatchOperation{{Op: "remove", Path: "members"}}, nil, false},
		{"filter on display", []PatchOperation{{Op: "remove", Path: `members[display eq "D"]`}}, nil, false},
		{"filter with and", []PatchOperation{{Op: "remove", Path: `members[value eq "a" and display eq "D"]`}}, nil, false},
		{"member without value", []PatchOperation{{Op: "add", Path: "members", Value: []any{map[string]any{"display": "D"}}}}, nil, false},
		{"members.value", []PatchOperation{{Op: "remove", Path: "members.value"}}, nil, false},
		{"bad path", []PatchOperation{{Op: "add", Path: "owners", Value: "x"}}, nil, false},
	} {
		got, ok := namedMembers(PatchOp{Operations: tc.ops})
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
