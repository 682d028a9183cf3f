package scim

import (
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/filter"
)

// Filters are reduced by partial evaluation: attributes whose values are
// known (an element of a PATCH target, the type of an e-mail slot) fold into
// the constants TRUE and FALSE, the others become store comparisons. The
// constants are `id pr` and `not (id pr)`, so stores need no new node; the
// simplifications below keep them from nesting, so only a whole result can
// be one, and identity (==) tells them from a client's own `id pr`.
var (
	trueExpr  filter.Expr = &filter.Compare{Attr: "id", Op: filter.Pr}
	falseExpr filter.Expr = &filter.Not{X: &filter.Compare{Attr: "id", Op: filter.Pr}}
)

func constant(b bool) filter.Expr {
	if b {
		return trueExpr
	}
	return falseExpr
}

func and(l, r filter.Expr) filter.Expr {
	switch {
	case l == falseExpr || r == falseExpr:
		return falseExpr
	case l == trueExpr:
		return r
	case r == trueExpr:
		return l
	}
	return &filter.And{Left: l, Right: r}
}

func or(l, r filter.Expr) filter.Expr {
	switch {
	case l == trueExpr || r == trueExpr:
		return trueExpr
	case l == falseExpr:
		return r
	case r == falseExpr:
		return l
	}
	return &filter.Or{Left: l, Right: r}
}

func not(x filter.Expr) filter.Expr {
	switch x {
	case trueExpr:
		return falseExpr
	case falseExpr:
		return trueExpr
	}
	return &filter.Not{X: x}
}

// materialize returns e with a constant replaced by a fresh node, so that
// callers may change the result without changing the constants.
func materialize(e filter.Expr) filter.Expr {
	switch e {
	case trueExpr:
		return &filter.Compare{Attr: "id", Op: filter.Pr}
	case falseExpr:
		return &filter.Not{X: &filter.Compare{Attr: "id", Op: filter.Pr}}
	}
	return e
}

// reduce rebuilds e, turning each comparison into what leaf makes of it and
// each value path into what valuePath makes of it (nil: value paths are not
// allowed here, as inside another value path).
func reduce(e filter.Expr, leaf func(*filter.Compare) (filter.Expr, *Error),
	valuePath func(*filter.ValuePath) (filter.Expr, *Error)) (filter.Expr, *Error) {
	switch e := e.(type) {
	case *filter.Compare:
		return leaf(e)
	case *filter.And:
		l, r, err := reduce2(e.Left, e.Right, leaf, valuePath)
		if err != nil {
			return nil, err
		}
		return and(l, r), nil
	case *filter.Or:
		l, r, err := reduce2(e.Left, e.Right, leaf, valuePath)
		if err != nil {
			return nil, err
		}
		return or(l, r), nil
	case *filter.Not:
		x, err := reduce(e.X, leaf, valuePath)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	case *filter.ValuePath:
		if valuePath == nil {
			return nil, InvalidFilter("a value path cannot hold another: %s", filter.String(e))
		}
		return valuePath(e)
	}
	return nil, InvalidFilter("unsupported filter expression")
}

func reduce2(l, r filter.Expr, leaf func(*filter.Compare) (filter.Expr, *Error),
	valuePath func(*filter.ValuePath) (filter.Expr, *Error)) (filter.Expr, filter.Expr, *Error) {
	lx, err := reduce(l, leaf, valuePath)
	if err != nil {
		return nil, nil, err
	}
	rx, err := reduce(r, leaf, valuePath)
	return lx, rx, err
}

// operand checks that c's operator applies to attribute a and returns c's
// value in the form a comparison with a takes: a bool for booleans, an RFC
// 3339 UTC string for times, the string otherwise; nil for pr.
func operand(a *Attribute, c *filter.Compare) (any, *Error) {
	if c.Op == filter.Pr {
		return nil, nil
	}
	if c.Value == nil {
		return nil, InvalidFilter("%s %s null: compare with pr to test for a value", c.Attr, c.Op)
	}
	switch a.Type {
	case typeComplex:
		return nil, InvalidFilter("%s is complex: name one of its sub-attributes", c.Attr)
	case typeBoolean:
		if c.Op != filter.Eq && c.Op != filter.Ne {
			return nil, InvalidFilter("%s is a boolean: it compares with eq, ne or pr, not %s", c.Attr, c.Op)
		}
		switch v := c.Value.(type) {
		case bool:
			return v, nil
		case string:
			if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
				return strings.EqualFold(v, "true"), nil
			}
		}
		return nil, InvalidFilter("%s is a boolean: compare it with true or false", c.Attr)
	case typeDateTime:
		switch c.Op {
		case filter.Co, filter.Sw, filter.Ew:
			return nil, InvalidFilter("%s is a time: it compares with eq, ne, gt, ge, lt, le or pr, not %s", c.Attr, c.Op)
		}
		s, _ := c.Value.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, InvalidFilter("%s is a time: compare it with an RFC 3339 string such as \"2024-05-01T12:00:00Z\"", c.Attr)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	s, ok := c.Value.(string)
	if !ok {
		return nil, InvalidFilter("%s is a string: compare it with a quoted string", c.Attr)
	}
	return s, nil
}

// evalConst compares a known value have of attribute a with want (as
// operand returned it). An unassigned value equals nothing, so only ne holds
// for it; an unassigned boolean is false (an e-mail without "primary" is not
// the primary one). Strings compare case-insensitively unless a is caseExact.
func evalConst(a *Attribute, op filter.Op, have, want any) bool {
	if op == filter.Pr {
		return present(have)
	}
	if a.Type == typeBoolean && have == nil {
		have = false
	}
	if !present(have) {
		return op == filter.Ne
	}
	switch h := have.(type) {
	case bool:
		w, _ := want.(bool)
		return (op == filter.Eq) == (h == w)
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		if !a.CaseExact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case filter.Eq:
			return h == w
		case filter.Ne:
			return h != w
		case filter.Co:
			return strings.Contains(h, w)
		case filter.Sw:
			return strings.HasPrefix(h, w)
		case filter.Ew:
			return strings.HasSuffix(h, w)
		case filter.Gt:
			return h > w
		case filter.Ge:
			return h >= w
		case filter.Lt:
			return h < w
		case filter.Le:
			return h <= w
		}
	}
	return false
}

// matches reports whether elem, a value of the multi-valued attribute a,
// satisfies the value filter f.
func matches(a *Attribute, f filter.Expr, elem map[string]any) (bool, *Error) {
	x, err := reduce(f, func(c *filter.Compare) (filter.Expr, *Error) {
		sub := find(a.SubAttributes, c.Attr)
		if sub == nil {
			return nil, InvalidFilter("%s has no sub-attribute %q", a.Name, c.Attr)
		}
		want, err := operand(sub, c)
		if err != nil {
			return nil, err
		}
		return constant(evalConst(sub, c.Op, elem[sub.Name], want)), nil
	}, nil)
	return x == trueExpr, err
}
