package scim

import (
	"strings"

	"github.com/latchkey/latchkey/internal/filter"
)

// step is one level of an attribute path: an attribute and, on a
// multi-valued one, the value filter that selects some of its values.
type step struct {
	attr   *Attribute
	filter filter.Expr
}

// parsePath parses an attribute path of RFC 7644 §3.5.2 (which PATCH paths,
// filter attributes and sortBy share):
//
//	[URN ":"] attr ["[" valueFilter "]"] ["." subAttr]
//
// An extension attribute's path starts with the extension's pseudo-attribute
// (named by its URN), so "urn:…:enterprise:2.0:User:manager.value" has three
// steps. Names match case-insensitively. A malformed path or an unknown name
// is invalidPath; a malformed value filter is invalidFilter.
func parsePath(r *Resource, path string) ([]step, *Error) {
	s := strings.TrimSpace(path)
	attrs := r.Schema.Attributes
	var steps []step
	if rest, ext, ok := cutSchema(r, s); ok {
		if ext != nil {
			steps = append(steps, step{attr: ext})
			if rest == "" {
				return steps, nil
			}
			attrs = ext.SubAttributes
		} else if rest == "" {
			return nil, InvalidPath("path %q names a schema, not an attribute", path)
		}
		s = rest
	} else if hasPrefixFold(s, "urn:") {
		return nil, InvalidPath("path %q names no schema of %s", path, r.Name)
	}

	i := strings.IndexAny(s, ".[")
	if i < 0 {
		i = len(s)
	}
	a := find(attrs, s[:i])
	if a == nil {
		return nil, InvalidPath("%s has no attribute %q", r.Name, s[:i])
	}
	st, rest := step{attr: a}, s[i:]
	if strings.HasPrefix(rest, "[") {
		end := closingBracket(rest)
		if end < 0 {
			return nil, InvalidPath("path %q has no closing ]", path)
		}
		if !a.MultiValued || a.Type != typeComplex {
			return nil, InvalidPath("%s is not a multi-valued complex attribute: it takes no value filter", a.Name)
		}
		f, err := valueFilter(a, rest[1:end])
		if err != nil {
			return nil, err
		}
		st.filter, rest = f, rest[end+1:]
	}
	steps = append(steps, st)
	if rest == "" {
		return steps, nil
	}
	subName, ok := strings.CutPrefix(rest, ".")
	if !ok || a.Type != typeComplex {
		return nil, InvalidPath("path %q: %s has no sub-attributes", path, a.Name)
	}
	sub := find(a.SubAttributes, subName)
	if sub == nil {
		return nil, InvalidPath("%s has no sub-attribute %q", a.Name, subName)
	}
	return append(steps, step{attr: sub}), nil
}

// cutSchema removes the URN of one of r's schemas from the start of s. ext is
// the pseudo-attribute of an extension, nil for the core schema.
func cutSchema(r *Resource, s string) (rest string, ext *Attribute, ok bool) {
	if rest, ok := cutURN(s, r.Schema.ID); ok {
		return rest, nil, true
	}
	for i := len(r.Schema.Attributes); i < len(r.top); i++ {
		if rest, ok := cutURN(s, r.top[i].Name); ok {
			return rest, &r.top[i], true
		}
	}
	return "", nil, false
}

// cutURN removes urn and the colon after it from s.
func cutURN(s, urn string) (string, bool) {
	if !hasPrefixFold(s, urn) {
		return "", false
	}
	rest := s[len(urn):]
	if rest == "" {
		return "", true
	}
	return strings.CutPrefix(rest, ":")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// closingBracket returns the index of the ] that closes the [ at s[0],
// skipping brackets inside quoted strings, or -1.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ']' && !quoted:
			return i
		}
	}
	return -1
}

// valueFilter parses the filter of a value path and checks it against the
// sub-attributes of a, so that a bad filter fails even when there is no value
// to test it on.
func valueFilter(a *Attribute, s string) (filter.Expr, *Error) {
	f, err := filter.Parse(s)
	if err != nil {
		return nil, InvalidFilter("%s[%s]: %v", a.Name, s, err)
	}
	if _, err := matches(a, f, map[string]any{}); err != nil {
		return nil, err
	}
	return f, nil
}

// pathName is the canonical name of a path without filters: "name.givenName",
// or "urn:…:User:manager.value" for an extension's attribute.
func pathName(steps []step) string {
	var b strings.Builder
	for i, s := range steps {
		switch {
		case i == 0:
		case i == 1 && strings.HasPrefix(steps[0].attr.Name, "urn:"):
			b.WriteByte(':')
		default:
			b.WriteByte('.')
		}
		b.WriteString(s.attr.Name)
	}
	return b.String()
}
