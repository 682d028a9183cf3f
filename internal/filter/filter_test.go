package filter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/filter"
)

func cmp(attr string, op filter.Op, v any) *filter.Compare {
	return &filter.Compare{Attr: attr, Op: op, Value: v}
}

func pr(attr string) *filter.Compare { return cmp(attr, filter.Pr, nil) }

func and(l, r filter.Expr) *filter.And { return &filter.And{Left: l, Right: r} }

func or(l, r filter.Expr) *filter.Or { return &filter.Or{Left: l, Right: r} }

func not(x filter.Expr) *filter.Not { return &filter.Not{X: x} }

func vp(attr string, f filter.Expr) *filter.ValuePath {
	return &filter.ValuePath{Attr: attr, Filter: f}
}

func num(s string) json.Number { return json.Number(s) }

// parseCases are valid filters and the trees they parse to. The round-trip
// test reuses them.
var parseCases = []struct {
	in   string
	want filter.Expr
}{
	// Every operator.
	{`userName eq "bjensen"`, cmp("userName", filter.Eq, "bjensen")},
	{`userName ne "bjensen"`, cmp("userName", filter.Ne, "bjensen")},
	{`name.familyName co "O'Malley"`, cmp("name.familyName", filter.Co, "O'Malley")},
	{`userName sw "J"`, cmp("userName", filter.Sw, "J")},
	{`userName ew "sen"`, cmp("userName", filter.Ew, "sen")},
	{`meta.lastModified gt "2011-05-13T04:42:34Z"`, cmp("meta.lastModified", filter.Gt, "2011-05-13T04:42:34Z")},
	{`meta.lastModified ge "2011-05-13T04:42:34Z"`, cmp("meta.lastModified", filter.Ge, "2011-05-13T04:42:34Z")},
	{`meta.lastModified lt "2011-05-13T04:42:34Z"`, cmp("meta.lastModified", filter.Lt, "2011-05-13T04:42:34Z")},
	{`meta.lastModified le "2011-05-13T04:42:34Z"`, cmp("meta.lastModified", filter.Le, "2011-05-13T04:42:34Z")},
	{`title pr`, pr("title")},

	// Operators and keywords are case-insensitive; attribute names keep their spelling.
	{`userName EQ "x"`, cmp("userName", filter.Eq, "x")},
	{`userName Ne "x"`, cmp("userName", filter.Ne, "x")},
	{`a cO "x"`, cmp("a", filter.Co, "x")},
	{`a SW "x"`, cmp("a", filter.Sw, "x")},
	{`a EW "x"`, cmp("a", filter.Ew, "x")},
	{`a GT 1`, cmp("a", filter.Gt, num("1"))},
	{`a Ge 1`, cmp("a", filter.Ge, num("1"))},
	{`a LT 1`, cmp("a", filter.Lt, num("1"))},
	{`a lE 1`, cmp("a", filter.Le, num("1"))},
	{`Title PR`, pr("Title")},
	{`a pr AND b pr`, and(pr("a"), pr("b"))},
	{`a pr Or b pr`, or(pr("a"), pr("b"))},
	{`NOT (a pr)`, not(pr("a"))},
	{`a eq TRUE`, cmp("a", filter.Eq, true)},
	{`a eq False`, cmp("a", filter.Eq, false)},
	{`a eq NULL`, cmp("a", filter.Eq, nil)},

	// Precedence: and binds tighter than or; both associate to the left.
	{`a pr or b pr and c pr`, or(pr("a"), and(pr("b"), pr("c")))},
	{`a pr and b pr or c pr`, or(and(pr("a"), pr("b")), pr("c"))},
	{`a pr and b pr or c pr and d pr`, or(and(pr("a"), pr("b")), and(pr("c"), pr("d")))},
	{`a pr and b pr and c pr`, and(and(pr("a"), pr("b")), pr("c"))},
	{`a pr or b pr or c pr`, or(or(pr("a"), pr("b")), pr("c"))},

	// Parentheses.
	{`(a pr)`, pr("a")},
	{`((a pr))`, pr("a")},
	{`( a pr )`, pr("a")},
	{`(a pr or b pr) and c pr`, and(or(pr("a"), pr("b")), pr("c"))},
	{`a pr and (b pr or c pr)`, and(pr("a"), or(pr("b"), pr("c")))},
	{`a pr and (b pr and c pr)`, and(pr("a"), and(pr("b"), pr("c")))},
	{`a pr  and  b pr`, and(pr("a"), pr("b"))},
	{`a  eq  "x"`, cmp("a", filter.Eq, "x")},

	// not.
	{`not (a pr)`, not(pr("a"))},
	{`not(a pr)`, not(pr("a"))},
	{`not (not (a pr))`, not(not(pr("a")))},
	{`not (a pr or b pr) and c pr`, and(not(or(pr("a"), pr("b"))), pr("c"))},
	{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		and(cmp("userType", filter.Ne, "Employee"),
			not(or(cmp("emails", filter.Co, "example.com"), cmp("emails.value", filter.Co, "example.org"))))},
	// Keywords are also valid attribute names.
	{`not pr`, pr("not")},
	{`and pr and or pr`, and(pr("and"), pr("or"))},

	// Strings and their JSON escapes.
	{`a eq ""`, cmp("a", filter.Eq, "")},
	{`a eq "x\"y"`, cmp("a", filter.Eq, `x"y`)},
	{`a eq "x\\y"`, cmp("a", filter.Eq, `x\y`)},
	{`a eq "x\/y"`, cmp("a", filter.Eq, "x/y")},
	{`a eq "\b\f\n\r\t"`, cmp("a", filter.Eq, "\b\f\n\r\t")},
	{`a eq "\u00E9t\u00E9"`, cmp("a", filter.Eq, "été")},
	{`a eq "\u0000"`, cmp("a", filter.Eq, "\x00")},
	{`a eq "\uD83D\uDE00"`, cmp("a", filter.Eq, "😀")},
	{`a eq "José 😀 <&>"`, cmp("a", filter.Eq, "José 😀 <&>")},
	{`a eq "and or not ) ( ] ["`, cmp("a", filter.Eq, "and or not ) ( ] [")},
	{`meta.version eq "W/\"990-6468886345120203448\""`, cmp("meta.version", filter.Eq, `W/"990-6468886345120203448"`)},

	// Numbers, as written (normalised exponent marker).
	{`a eq 0`, cmp("a", filter.Eq, num("0"))},
	{`a eq 42`, cmp("a", filter.Eq, num("42"))},
	{`a eq -7`, cmp("a", filter.Eq, num("-7"))},
	{`a eq 1.5`, cmp("a", filter.Eq, num("1.5"))},
	{`a eq 1e3`, cmp("a", filter.Eq, num("1e3"))},
	{`a eq 1E+3`, cmp("a", filter.Eq, num("1e+3"))},
	{`a eq -0.25e-2`, cmp("a", filter.Eq, num("-0.25e-2"))},
	{`a gt 12345678901234567890`, cmp("a", filter.Gt, num("12345678901234567890"))},

	// true, false, null.
	{`active eq true`, cmp("active", filter.Eq, true)},
	{`active ne false`, cmp("active", filter.Ne, false)},
	{`manager eq null`, cmp("manager", filter.Eq, nil)},

	// Attribute paths.
	{`a-b_c1 pr`, pr("a-b_c1")},
	{`$ref pr`, pr("$ref")},
	{`traits.username eq "x"`, cmp("traits.username", filter.Eq, "x")},
	{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		cmp("urn:ietf:params:scim:schemas:core:2.0:User:userName", filter.Sw, "J")},
	{`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O"`,
		cmp("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", filter.Co, "O")},
	{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`,
		cmp("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", filter.Eq, "26118915-6090-4610-87e4-49d8ca9f808d")},
	{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		cmp("schemas", filter.Eq, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")},

	// Value paths.
	{`emails[type eq "work"]`, vp("emails", cmp("type", filter.Eq, "work"))},
	{`emails[ type pr ]`, vp("emails", pr("type"))},
	{`emails[type eq "work" and value co "@example.com"]`,
		vp("emails", and(cmp("type", filter.Eq, "work"), cmp("value", filter.Co, "@example.com")))},
	{`emails[type eq "work" OR primary eq true]`,
		vp("emails", or(cmp("type", filter.Eq, "work"), cmp("primary", filter.Eq, true)))},
	{`emails[not (type eq "work")]`, vp("emails", not(cmp("type", filter.Eq, "work")))},
	{`emails[not (type eq "work" and primary eq false)]`,
		vp("emails", not(and(cmp("type", filter.Eq, "work"), cmp("primary", filter.Eq, false))))},
	{`urn:ietf:params:scim:schemas:core:2.0:User:emails[value sw "a"]`,
		vp("urn:ietf:params:scim:schemas:core:2.0:User:emails", cmp("value", filter.Sw, "a"))},
	{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		and(cmp("userType", filter.Eq, "Employee"),
			vp("emails", and(cmp("type", filter.Eq, "work"), cmp("value", filter.Co, "@example.com"))))},
	{`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		or(vp("emails", and(cmp("type", filter.Eq, "work"), cmp("value", filter.Co, "@example.com"))),
			vp("ims", and(cmp("type", filter.Eq, "xmpp"), cmp("value", filter.Co, "@foo.com"))))},
	{`not (emails[type eq "work"])`, not(vp("emails", cmp("type", filter.Eq, "work")))},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse = %s\nwant    %s", dump(got), dump(tc.want))
			}
		})
	}
}

func TestParseMaxLength(t *testing.T) {
	// `a eq "xxx…"` padded to exactly n bytes.
	padded := func(n int) string { return `a eq "` + strings.Repeat("x", n-len(`a eq ""`)) + `"` }
	if s := padded(filter.MaxLength); len(s) != filter.MaxLength {
		t.Fatalf("helper built %d bytes", len(s))
	}
	if _, err := filter.Parse(padded(filter.MaxLength)); err != nil {
		t.Errorf("Parse of %d bytes: %v", filter.MaxLength, err)
	}
	_, err := filter.Parse(padded(filter.MaxLength + 1))
	var fe *filter.Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "longer than") {
		t.Errorf("Parse of %d bytes: err = %v, want a *filter.Error about the length", filter.MaxLength+1, err)
	}
	// The length is checked before parsing: a long run of garbage is rejected as too long.
	_, err = filter.Parse(strings.Repeat("(", 1<<20))
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "longer than") {
		t.Errorf("Parse of 1 MiB: err = %v, want a *filter.Error about the length", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		// Empty.
		"", " ", "\t\n",
		// Dangling or missing operators and operands.
		`a`, `a eq`, `a eq `, `eq "x"`, `"x"`, `a "x"`,
		`a eq "x" and`, `a eq "x" or`, `a eq "x" and `, `and a pr`, `or a pr`,
		`a pr and and b pr`, `a pr or or b pr`, `a pr and or b pr`, `a pr b pr`,
		`a pr pr`, `a eq "x" "y"`, `a zz "x"`, `a equals "x"`, `a prx`, `a eq"x"`, `a pr andb pr`,
		// not needs parentheses.
		`not`, `not a pr`, `not ()`, `a pr and not`,
		// Parentheses.
		`(a pr`, `a pr)`, `((a pr)`, `(a pr))`, `()`, `(`, `)`, `)a pr(`, `(a pr) (b pr)`,
		// Quotes and escapes.
		`a eq "x`, `a eq x"`, `a eq "x\"`, `a eq 'x'`, `a eq x`, `a eq "a"b"`,
		`a eq "\q"`, `a eq "\u12"`, `a eq "\u12G4"`, `a eq "\x41"`, `a eq "\"`,
		"a eq \"x\x01y\"", "a eq \"x\ny\"", "a eq \"x\x7f\"\x00",
		// Numbers and literals.
		`a eq 01`, `a eq 1.`, `a eq .5`, `a eq +1`, `a eq 1e`, `a eq 1.2.3`, `a eq 0x10`, `a eq -`,
		`a eq tru`, `a eq truex`, `a eq nil`, `a eq none`,
		// Attribute paths.
		`1a pr`, `_a pr`, `-a pr`, `a.b.c pr`, `a..b pr`, `a. pr`, `.a pr`, `a b pr`, `a-b.c_d.e pr`,
		`urn: pr`, `a:b: pr`, `é pr`,
		// Value paths.
		`emails[type eq "work"`, `emails type eq "work"]`, `emails[]`, `emails[ ]`, `[type pr]`,
		`emails[type eq "work"]]`, `emails[[type pr]]`, `a[b[c pr]]`, `emails[(type pr)]`,
		`emails[type pr and value pr and primary pr]`, `emails[not type pr]`,
		// Surrounding whitespace is not part of the grammar.
		` a pr`, `a pr `,
	} {
		t.Run(in, func(t *testing.T) {
			got, err := filter.Parse(in)
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %s, %v; want a *filter.Error", dump(got), err)
			}
			if got != nil {
				t.Errorf("Parse returned %s with its error", dump(got))
			}
			if fe.Reason == "" || !strings.HasPrefix(fe.Error(), "invalid filter: ") {
				t.Errorf("error %q has no reason", fe.Error())
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.in, func(t *testing.T) {
			e, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			s := filter.String(e)
			again, err := filter.Parse(s)
			if err != nil {
				t.Fatalf("Parse(String(e)) of %q: %v", s, err)
			}
			if !reflect.DeepEqual(again, e) {
				t.Errorf("Parse(%q) = %s\nwant %s", s, dump(again), dump(e))
			}
			if s2 := filter.String(again); s2 != s {
				t.Errorf("String changed on the second round: %q, then %q", s, s2)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   filter.Expr
		want string
	}{
		{cmp("a", filter.Eq, "x"), `a eq "x"`},
		{cmp("a", filter.Gt, num("-1.5e+3")), `a gt -1.5e+3`},
		{cmp("a", filter.Eq, true), `a eq true`},
		{cmp("a", filter.Ne, false), `a ne false`},
		{cmp("a", filter.Eq, nil), `a eq null`},
		{cmp("a", filter.Pr, "ignored"), `a pr`},
		{cmp("a", filter.Eq, `x"y\z/`), `a eq "x\"y\\z/"`},
		{cmp("a", filter.Eq, "<&>"), `a eq "<&>"`},
		{cmp("a", filter.Eq, "été 😀"), `a eq "été 😀"`},
		{cmp("a", filter.Eq, "\b\f\n\r\t"), `a eq "\b\f\n\r\t"`},
		{cmp("a", filter.Eq, "\x00\x01\x1a\x1f\x7f"), "a eq \"\\u0000\\u0001\\u001A\\u001F\x7f\""},
		{and(pr("a"), pr("b")), `(a pr and b pr)`},
		{or(pr("a"), and(pr("b"), pr("c"))), `(a pr or (b pr and c pr))`},
		{not(or(pr("a"), pr("b"))), `not ((a pr or b pr))`},
		{vp("emails", cmp("type", filter.Eq, "work")), `emails[type eq "work"]`},
		{vp("emails", and(cmp("type", filter.Eq, "work"), pr("value"))), `emails[type eq "work" and value pr]`},
		{vp("emails", or(pr("type"), pr("value"))), `emails[type pr or value pr]`},
		{vp("emails", not(or(pr("type"), pr("value")))), `emails[not (type pr or value pr)]`},
		{and(vp("x", pr("y")), not(vp("x", pr("z")))), `(x[y pr] and not (x[z pr]))`},
	} {
		got := filter.String(tc.in)
		if got != tc.want {
			t.Errorf("String(%s) = %q, want %q", dump(tc.in), got, tc.want)
		}
		// Every rendering above must also parse back to its tree (pr drops its value).
		want := tc.in
		if c, ok := tc.in.(*filter.Compare); ok && c.Op == filter.Pr {
			want = pr(c.Attr)
		}
		if e, err := filter.Parse(got); err != nil || !reflect.DeepEqual(e, want) {
			t.Errorf("Parse(%q) = %s, %v; want %s", got, dump(e), err, dump(want))
		}
	}
}

func TestWalk(t *testing.T) {
	for _, tc := range []struct {
		in    string
		attrs []string
	}{
		{`a pr`, []string{"a"}},
		{`a pr and b eq "x" or not (c ne "y")`, []string{"a", "b", "c"}},
		{`userName eq "x" and (emails[type eq "work" and value co "@x"] or not (name.givenName pr))`,
			[]string{"userName", "emails.type", "emails.value", "name.givenName"}},
		{`not (emails[not (type eq "work" or primary eq true)])`, []string{"emails.type", "emails.primary"}},
		{`urn:x:emails[value pr] and ims[value pr]`, []string{"urn:x:emails.value", "ims.value"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e, err := filter.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got, rewritten []string
			err = filter.Walk(e, func(attr string, c *filter.Compare) error {
				got = append(got, attr)
				prefix, ok := strings.CutSuffix(attr, c.Attr)
				if !ok {
					t.Errorf("attr %q does not end with the Compare's %q", attr, c.Attr)
				}
				// fn gets the tree's own node: callers rewrite attributes through it.
				c.Attr = strings.ToUpper(c.Attr)
				rewritten = append(rewritten, prefix+c.Attr)
				return nil
			})
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if !reflect.DeepEqual(got, tc.attrs) {
				t.Errorf("Walk visited %q, want %q", got, tc.attrs)
			}
			var again []string
			filter.Walk(e, func(attr string, _ *filter.Compare) error { again = append(again, attr); return nil })
			if !reflect.DeepEqual(again, rewritten) {
				t.Errorf("after rewriting, Walk visited %q, want %q", again, rewritten)
			}
		})
	}
}

func TestWalkStopsAtFirstError(t *testing.T) {
	e, err := filter.Parse(`a pr and (b pr or emails[c pr and d pr])`)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	for n := 1; n <= 4; n++ {
		calls := 0
		err := filter.Walk(e, func(string, *filter.Compare) error {
			calls++
			if calls == n {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("error on call %d: Walk returned %v, want exactly the callback's error", n, err)
		}
		if calls != n {
			t.Errorf("error on call %d: Walk went on to %d calls", n, calls)
		}
	}
	if err := filter.Walk(nil, func(string, *filter.Compare) error { return stop }); err != nil {
		t.Errorf("Walk(nil) = %v, want nil and no calls", err)
	}
}

func dump(e filter.Expr) string {
	switch e := e.(type) {
	case nil:
		return "<nil>"
	case *filter.Compare:
		b, _ := json.Marshal(e)
		return fmt.Sprintf("%s(%T)", b, e.Value)
	case *filter.And:
		return "And{" + dump(e.Left) + ", " + dump(e.Right) + "}"
	case *filter.Or:
		return "Or{" + dump(e.Left) + ", " + dump(e.Right) + "}"
	case *filter.Not:
		return "Not{" + dump(e.X) + "}"
	case *filter.ValuePath:
		return "ValuePath{" + e.Attr + ", " + dump(e.Filter) + "}"
	}
	return fmt.Sprintf("%T", e)
}

// FuzzParse checks that Parse never panics, fails only with a *filter.Error,
// and that whatever it accepts String renders to a filter that parses to the
// same tree and renders identically.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"", `a eq "x`, `(a pr`, `a pr and`, `emails[(type pr)]`, `a eq "\u00e9"`,
		"a eq \"\xff\xfe\"", `a eq "\uD800"`, strings.Repeat("(", 100) + "a pr" + strings.Repeat(")", 100),
		strings.Repeat("not (", 50) + "a pr" + strings.Repeat(")", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := filter.Parse(in)
		if err != nil {
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) failed with %T %v, want *filter.Error", in, err, err)
			}
			if e != nil {
				t.Fatalf("Parse(%q) returned %s with its error", in, dump(e))
			}
			return
		}
		if e == nil {
			t.Fatalf("Parse(%q) returned neither a tree nor an error", in)
		}
		s := filter.String(e)
		if len(s) > filter.MaxLength {
			// String adds parentheses, so a filter near the limit can render
			// beyond it; such a rendering is not Parse's to accept.
			return
		}
		again, err := filter.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, but its rendering %q does not parse: %v", in, dump(e), s, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("Parse(%q) = %s, but Parse(%q) = %s", in, dump(e), s, dump(again))
		}
		if s2 := filter.String(again); s2 != s {
			t.Fatalf("rendering of %q is not stable: %q, then %q", in, s, s2)
		}
	})
}
