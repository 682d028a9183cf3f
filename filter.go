package latchkey

import (
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/filter"
)

// ParseFilter parses a list endpoint's `filter` parameter and checks it
// against the attributes that endpoint supports (matched case-insensitively,
// as SCIM wants, and rewritten to their canonical spelling). Only string
// comparisons with eq, ne, co, sw, ew and pr are allowed, and gt, ge, lt
// and le on the attributes named ordered (times, which the store checks).
// An empty filter matches everything and yields nil.
func ParseFilter(raw string, attributes []string, ordered ...string) (filter.Expr, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	expr, err := filter.Parse(raw)
	if err != nil {
		return nil, InvalidField("filter", err.Error())
	}
	err = filter.Walk(expr, func(attr string, c *filter.Compare) error {
		canonical := ""
		for _, a := range attributes {
			if strings.EqualFold(a, attr) {
				canonical = a
			}
		}
		if canonical == "" {
			return fmt.Errorf("unsupported attribute %q; supported: %s", attr, strings.Join(attributes, ", "))
		}
		c.Attr = canonical
		switch c.Op {
		case filter.Gt, filter.Ge, filter.Lt, filter.Le:
			if !slices.Contains(ordered, canonical) {
				return fmt.Errorf("unsupported operator %q for %s", c.Op, attr)
			}
			if _, ok := c.Value.(string); !ok {
				return fmt.Errorf("%s %s needs a quoted string", attr, c.Op)
			}
		case filter.Eq, filter.Ne, filter.Co, filter.Sw, filter.Ew:
			s, ok := c.Value.(string)
			if !ok {
				return fmt.Errorf("%s %s needs a quoted string", attr, c.Op)
			}
			if p := TextProblem(s, false); p != "" {
				return fmt.Errorf("the value of %s %s", attr, p)
			}
		case filter.Pr:
		default:
			return fmt.Errorf("unsupported operator %q", c.Op)
		}
		return nil
	})
	if err != nil {
		return nil, InvalidField("filter", err.Error())
	}
	if filter.HasValuePath(expr) {
		return nil, InvalidField("filter", "value paths are not supported here")
	}
	return expr, nil
}
