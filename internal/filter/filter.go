// Package filter parses the SCIM filter grammar (RFC 7644 §3.4.2.2) that the
// management API's `filter` parameter and SCIM share, into a small expression
// tree of its own. It knows no attribute names: callers check the attributes
// against their allowlists, and stores turn the tree into parameterised SQL.
//
// It is the only package that imports github.com/scim2/filter-parser. It
// must not import other Latchkey packages.
package filter

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	scim "github.com/scim2/filter-parser/v2"
)

// Op is a comparison operator.
type Op string

// The comparison operators of RFC 7644.
const (
	Eq Op = "eq"
	Ne Op = "ne"
	Co Op = "co"
	Sw Op = "sw"
	Ew Op = "ew"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
	Pr Op = "pr"
)

// Expr is a node of a parsed filter: *Compare, *And, *Or, *Not or *ValuePath.
type Expr interface{ node() }

// Compare is `attr op value`. Attr is the attribute path as written, e.g.
// "traits.username" or "urn:…:User:userName". Value is a string, bool,
// json.Number or nil (for null, and for pr).
type Compare struct {
	Attr  string
	Op    Op
	Value any
}

// And is `left and right`.
type And struct{ Left, Right Expr }

// Or is `left or right`.
type Or struct{ Left, Right Expr }

// Not is `not (x)`.
type Not struct{ X Expr }

// ValuePath is `attr[filter]`: the filter applies to the elements of a
// multi-valued attribute, and its attribute paths are relative to them.
type ValuePath struct {
	Attr   string
	Filter Expr
}

func (*Compare) node()   {}
func (*And) node()       {}
func (*Or) node()        {}
func (*Not) node()       {}
func (*ValuePath) node() {}

// MaxLength bounds the filters Parse accepts, so that a request cannot make
// the parser (or the query built from its result) arbitrarily large.
const MaxLength = 4096

// Error says why a filter could not be parsed.
type Error struct{ Reason string }

func (e *Error) Error() string { return "invalid filter: " + e.Reason }

// Parse parses a filter. An empty or blank string is an error: callers treat
// an absent filter as "match everything" before calling Parse.
func Parse(s string) (expr Expr, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, &Error{"empty filter"}
	}
	if len(s) > MaxLength {
		return nil, &Error{fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	if c, ok := simple(s); ok {
		return c, nil
	}
	return parse(s)
}

// parse parses a filter with the PEG parser.
func parse(s string) (expr Expr, err error) {
	defer func() {
		// The parser is a third-party PEG parser; a panic on odd input must
		// become a 400, never a crashed request.
		if r := recover(); r != nil {
			expr, err = nil, &Error{"syntax error"}
		}
	}()
	parsed, err := scim.ParseFilterNumber([]byte(s))
	if err != nil {
		return nil, &Error{"syntax error"}
	}
	return convert(parsed)
}

// simple parses the commonest filter, one attribute compared with a plain
// string (`traits.username eq "jane"`, every exact lookup), as the PEG
// parser would, at a hundredth of its cost (its 120 µs were a third of a
// lookup's server CPU). It reports false for anything else, even what the
// grammar allows (a URI, escapes, other values, extra spaces): parse
// decides those. FuzzSimple holds it to parse's result.
func simple(s string) (*Compare, bool) {
	attr, rest, _ := strings.Cut(s, " ")
	op, value, _ := strings.Cut(rest, " ")
	if !plainPath(attr) || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil, false
	}
	switch Op(strings.ToLower(op)) {
	case Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le:
	default:
		return nil, false
	}
	v := value[1 : len(value)-1]
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
	}
	if !utf8.ValidString(v) {
		return nil, false
	}
	return &Compare{Attr: attr, Op: Op(strings.ToLower(op)), Value: v}, true
}

// plainPath reports whether p is an attribute name with at most one
// sub-attribute, no URI and no "$": ALPHA *(ALPHA / DIGIT / "-" / "_"),
// optionally "." and another.
func plainPath(p string) bool {
	name, sub, dotted := strings.Cut(p, ".")
	return attrName(name) && (!dotted || attrName(sub))
}

func attrName(s string) bool {
	alpha := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	if s == "" || !alpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func convert(e scim.Expression) (Expr, error) {
	switch e := e.(type) {
	case *scim.AttributeExpression:
		return compare(e)
	case *scim.LogicalExpression:
		l, err := convert(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := convert(e.Right)
		if err != nil {
			return nil, err
		}
		if e.Operator == scim.OR {
			return &Or{l, r}, nil
		}
		return &And{l, r}, nil
	case *scim.NotExpression:
		x, err := convert(e.Expression)
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	case *scim.ValuePath:
		f, err := convert(e.ValueFilter)
		if err != nil {
			return nil, err
		}
		return &ValuePath{Attr: e.AttributePath.String(), Filter: f}, nil
	}
	return nil, &Error{"syntax error"}
}

func compare(e *scim.AttributeExpression) (*Compare, error) {
	op := Op(strings.ToLower(string(e.Operator)))
	c := &Compare{Attr: e.AttributePath.String(), Op: op, Value: e.CompareValue}
	switch v := e.CompareValue.(type) {
	case string:
		// The parser keeps a string as written between its quotes; the
		// escapes are JSON's, so let encoding/json decode them.
		var s string
		if err := json.Unmarshal([]byte(`"`+v+`"`), &s); err != nil {
			return nil, &Error{"syntax error"}
		}
		c.Value = s
	case nil, bool, json.Number:
	default:
		return nil, &Error{fmt.Sprintf("unsupported value %v", v)}
	}
	if op == Pr {
		c.Value = nil
	}
	return c, nil
}

// Walk calls fn for every Compare of e, including those inside value paths,
// with the attribute path prefixed by the value path's ("emails.type"). It
// stops at the first error fn returns.
func Walk(e Expr, fn func(attr string, c *Compare) error) error {
	return walk(e, "", fn)
}

func walk(e Expr, prefix string, fn func(string, *Compare) error) error {
	switch e := e.(type) {
	case *Compare:
		return fn(prefix+e.Attr, e)
	case *And:
		if err := walk(e.Left, prefix, fn); err != nil {
			return err
		}
		return walk(e.Right, prefix, fn)
	case *Or:
		if err := walk(e.Left, prefix, fn); err != nil {
			return err
		}
		return walk(e.Right, prefix, fn)
	case *Not:
		return walk(e.X, prefix, fn)
	case *ValuePath:
		return walk(e.Filter, prefix+e.Attr+".", fn)
	}
	return nil
}

// HasValuePath reports whether e holds a value path anywhere.
func HasValuePath(e Expr) bool {
	switch e := e.(type) {
	case *And:
		return HasValuePath(e.Left) || HasValuePath(e.Right)
	case *Or:
		return HasValuePath(e.Left) || HasValuePath(e.Right)
	case *Not:
		return HasValuePath(e.X)
	case *ValuePath:
		return true
	}
	return false
}

// String renders e in the filter grammar; Parse(String(e)) yields e again.
func String(e Expr) string {
	switch e := e.(type) {
	case *Compare:
		if e.Op == Pr {
			return e.Attr + " pr"
		}
		return e.Attr + " " + string(e.Op) + " " + literal(e.Value)
	case *And:
		return "(" + String(e.Left) + " and " + String(e.Right) + ")"
	case *Or:
		return "(" + String(e.Left) + " or " + String(e.Right) + ")"
	case *Not:
		return "not (" + String(e.X) + ")"
	case *ValuePath:
		return e.Attr + "[" + valueFilter(e.Filter) + "]"
	}
	return ""
}

// valueFilter renders the filter of a value path, whose grammar allows no
// parentheses but those of not: `emails[type eq "work" and value pr]`.
func valueFilter(e Expr) string {
	switch e := e.(type) {
	case *And:
		return String(e.Left) + " and " + String(e.Right)
	case *Or:
		return String(e.Left) + " or " + String(e.Right)
	case *Not:
		return "not (" + valueFilter(e.X) + ")"
	}
	return String(e)
}

func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	case json.Number:
		return v.String()
	}
	return fmt.Sprint(v)
}

// quote renders s as a string the parser accepts: JSON's escapes, but only
// where needed, and with upper-case hex digits (the parser rejects \u00e9;
// encoding/json would also write < > & as \u003c…).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
