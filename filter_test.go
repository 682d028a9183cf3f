package latchkey_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

func TestParseFilterAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // filter.String of the result, attributes in canonical spelling
	}{
		{`id eq "x"`, `id eq "x"`},
		{`ID eq "x"`, `id eq "x"`},
		{`Display_Name co "Ann"`, `display_name co "Ann"`},
		{`STATUS eq "active"`, `status eq "active"`},
		{`Traits.UserName sw "a"`, `traits.username sw "a"`},
		{`traits.Primary_Email_Address ew "@example.com"`, `traits.primary_email_address ew "@example.com"`},
		{`TRAITS.EXTERNAL_ID pr`, `traits.external_id pr`},
		{`id ne "x"`, `id ne "x"`},
		{`id EQ "x"`, `id eq "x"`},
		{`display_name eq "O\"Brien"`, `display_name eq "O\"Brien"`},
		{`display_name eq ""`, `display_name eq ""`},
		{`id eq "a" or Id eq "b" and not (iD pr)`, `(id eq "a" or (id eq "b" and not (id pr)))`},
		{`(status eq "active") and (traits.username co "x" or display_name co "x")`,
			`(status eq "active" and (traits.username co "x" or display_name co "x"))`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e, err := latchkey.ParseFilter(tc.in, directory.IdentityFilterAttributes)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			if got := filter.String(e); got != tc.want {
				t.Errorf("ParseFilter = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseFilterEmpty(t *testing.T) {
	for _, in := range []string{"", " ", "\t \n"} {
		e, err := latchkey.ParseFilter(in, directory.IdentityFilterAttributes)
		if e != nil || err != nil {
			t.Errorf("ParseFilter(%q) = %v, %v; want nil, nil", in, e, err)
		}
	}
}

func TestParseFilterRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // in the violation's description
	}{
		// Attributes outside the allowlist.
		{`name eq "x"`, `unsupported attribute "name"`},
		{`traits.family_name eq "x"`, `unsupported attribute "traits.family_name"`},
		{`traits pr`, `unsupported attribute "traits"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:id eq "x"`, "unsupported attribute"},
		{`id pr and nope pr`, `unsupported attribute "nope"`},
		{`id pr or not (display_name pr and nope pr)`, `unsupported attribute "nope"`},
		// Ordering operators.
		{`id gt "x"`, `unsupported operator "gt"`},
		{`id GE "x"`, `unsupported operator "ge"`},
		{`id lt "x"`, `unsupported operator "lt"`},
		{`id le "x"`, `unsupported operator "le"`},
		{`display_name pr and display_name gt "m"`, `unsupported operator "gt"`},
		// Values that are not strings.
		{`id eq 1`, "needs a quoted string"},
		{`id eq 1.5e3`, "needs a quoted string"},
		{`status eq true`, "needs a quoted string"},
		{`status ne false`, "needs a quoted string"},
		{`traits.username eq null`, "needs a quoted string"},
		{`display_name co 0`, "needs a quoted string"},
		{`display_name sw null`, "needs a quoted string"},
		{`display_name ew true`, "needs a quoted string"},
		// Value paths, even over allowed attributes.
		{`traits[username eq "x"]`, "value paths"},
		{`id pr and traits[username pr]`, "value paths"},
		{`emails[type eq "work"]`, "unsupported attribute"},
		// Malformed syntax.
		{`id eq`, "syntax error"},
		{`id eq "x`, "syntax error"},
		{`(id pr`, "syntax error"},
		{`id pr)`, "syntax error"},
		{`id eq "x" and`, "syntax error"},
		{`id eq 'x'`, "syntax error"},
		{`not id pr`, "syntax error"},
		{`id == "x"`, "syntax error"},
		{strings.Repeat("x", filter.MaxLength+1), "longer than"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e, err := latchkey.ParseFilter(tc.in, directory.IdentityFilterAttributes)
			if e != nil {
				t.Errorf("ParseFilter returned %s with its error", filter.String(e))
			}
			desc := filterViolation(t, err)
			if !strings.Contains(desc, tc.want) {
				t.Errorf("description %q does not contain %q", desc, tc.want)
			}
		})
	}
}

// Each endpoint has its own allowlist: what one accepts another may not.
func TestParseFilterAllowlists(t *testing.T) {
	in := `Status eq "active"`
	if _, err := latchkey.ParseFilter(in, directory.IdentityFilterAttributes); err != nil {
		t.Errorf("identities: %v", err)
	}
	for _, attrs := range [][]string{directory.GroupFilterAttributes, directory.RealmFilterAttributes} {
		_, err := latchkey.ParseFilter(in, attrs)
		if desc := filterViolation(t, err); !strings.Contains(desc, `unsupported attribute "Status"`) {
			t.Errorf("allowlist %q: description %q", attrs, desc)
		}
	}
}

// filterViolation checks that err is the 400 of ParseFilter and returns the
// description of its one violation.
func filterViolation(t *testing.T, err error) string {
	t.Helper()
	var e *latchkey.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *latchkey.Error", err, err)
	}
	if e.Code != latchkey.CodeBadRequest {
		t.Errorf("code = %q, want %q", e.Code, latchkey.CodeBadRequest)
	}
	if len(e.Details) != 1 || len(e.Details[0].FieldViolations) != 1 {
		t.Fatalf("details = %+v, want one field violation", e.Details)
	}
	fv := e.Details[0].FieldViolations[0]
	if fv.Field != "filter" || fv.Description == "" {
		t.Errorf("violation = %+v, want field \"filter\" with a description", fv)
	}
	return fv.Description
}

// FuzzParseFilter checks that ParseFilter never panics, that its errors are
// always a 400 on field "filter", and that what it accepts uses only allowed
// attributes (in canonical spelling), operators and values.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", `id eq "x"`, `ID eq "x"`, `Traits.UserName sw "a" and not (status eq "suspended")`,
		`display_name co "O\"Brien" or traits.external_id pr`, `id gt "x"`, `id eq 1`,
		`traits[username eq "x"]`, `emails[type eq "work" and value co "@x"]`, `nope pr`,
		`(id pr`, `id eq "x`, "id eq \"\xff\"", `status eq true or id eq null`,
		`id eq "\u0000"`, "id eq \"\x00\"", `display_name co "a\u001fb"`, `display_name co "a\u0085"`,
	} {
		f.Add(s)
	}
	attrs := directory.IdentityFilterAttributes
	f.Fuzz(func(t *testing.T, in string) {
		e, err := latchkey.ParseFilter(in, attrs)
		if err != nil {
			var le *latchkey.Error
			if !errors.As(err, &le) || le.Code != latchkey.CodeBadRequest {
				t.Fatalf("ParseFilter(%q) failed with %T %v, want a *latchkey.Error %s", in, err, err, latchkey.CodeBadRequest)
			}
			if len(le.Details) != 1 || len(le.Details[0].FieldViolations) != 1 || le.Details[0].FieldViolations[0].Field != "filter" {
				t.Fatalf("ParseFilter(%q) error details %+v, want one violation of field \"filter\"", in, le.Details)
			}
			if e != nil {
				t.Fatalf("ParseFilter(%q) returned a filter with its error", in)
			}
			return
		}
		if e == nil {
			if strings.TrimSpace(in) != "" {
				t.Fatalf("ParseFilter(%q) accepted a non-empty filter as nil", in)
			}
			return
		}
		err = filter.Walk(e, func(attr string, c *filter.Compare) error {
			if !slices.Contains(attrs, attr) {
				t.Errorf("ParseFilter(%q) let attribute %q through", in, attr)
			}
			switch c.Op {
			case filter.Pr:
			case filter.Eq, filter.Ne, filter.Co, filter.Sw, filter.Ew:
				if v, ok := c.Value.(string); !ok || latchkey.TextProblem(v, false) != "" {
					t.Errorf("ParseFilter(%q) let %s %s %q through", in, attr, c.Op, c.Value)
				}
			default:
				t.Errorf("ParseFilter(%q) let operator %q through", in, c.Op)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if filter.HasValuePath(e) {
			t.Errorf("ParseFilter(%q) let a value path through: %s", in, filter.String(e))
		}
	})
}

// TestParseFilterOrdered: gt, ge, lt and le pass on the attributes named
// ordered, with a quoted value, and only there.
func TestParseFilterOrdered(t *testing.T) {
	attrs := []string{"action", "create_time"}
	if _, err := latchkey.ParseFilter(`create_time ge "2026-12-01T00:00:00Z" and CREATE_TIME lt "2026-12-02T00:00:00Z"`, attrs, "create_time"); err != nil {
		t.Errorf("ordered attribute refused: %v", err)
	}
	for _, raw := range []string{`action gt "a"`, `create_time ge 5`, `create_time le "x"`} {
		ordered := []string{"create_time"}
		if raw == `create_time le "x"` {
			ordered = nil
		}
		if _, err := latchkey.ParseFilter(raw, attrs, ordered...); err == nil {
			t.Errorf("ParseFilter(%q) accepted", raw)
		}
	}
}
