package filter

import (
	"reflect"
	"testing"
)

// FuzzSimple holds the fast path to the PEG parser: whatever simple
// accepts, parse accepts and reads as the same comparison.
func FuzzSimple(f *testing.F) {
	for _, s := range []string{
		`traits.username eq "user0000042"`, `id eq "0123456789abcdef"`, `userName EQ "Jane@Example.com"`,
		`traits.external_id sw "ext-"`, `display_name co "é 名前"`, `a-b_c.d9 ne ""`, `a gt "2026-01-01T00:00:00Z"`,
		`a eq "x" and b eq "y"`, `a  eq "x"`, ` a eq "x"`, `a eq "x" `, `a eq "x\"y"`, `a eq "\u00E9"`, "a eq \"\x7f\"",
		"a eq \"\xff\"", "a eq \"\t\"", `a.b.c eq "x"`, `$ref eq "x"`, `9a eq "x"`, `a. eq "x"`, `.a eq "x"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `a eq x`, `a eq "`, `a eq 1`, `a pr`, `a xx "x"`,
		`emails[type eq "work"]`, `(a eq "x")`, `not (a eq "x")`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fast, ok := simple(in)
		if !ok {
			return
		}
		slow, err := parse(in)
		if err != nil {
			t.Fatalf("simple(%q) = %+v, but parse refuses it: %v", in, fast, err)
		}
		if !reflect.DeepEqual(Expr(fast), slow) {
			t.Fatalf("simple(%q) = %+v, parse = %#v", in, fast, slow)
		}
	})
}

// TestSimpleTakesLookups: the filters of exact lookups take the fast path.
func TestSimpleTakesLookups(t *testing.T) {
	for _, in := range []string{`traits.username eq "user0000042"`, `id eq "0123456789abcdef"`,
		`traits.external_id eq "ext 1"`, `userName eq "jane@example.com"`, `displayName Sw "Jane Q. Public"`} {
		if _, ok := simple(in); !ok {
			t.Errorf("%s: not taken by the fast path", in)
		}
	}
}
