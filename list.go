package latchkey

import "github.com/latchkey/latchkey/internal/filter"

// ListOptions selects one page of a list. Items are ordered by id; After is
// the last id of the previous page ("" for the first page), and Skip items
// are passed over after it. With Sort, items are ordered by that filter
// attribute (ties by id) and After must be empty: such lists page by Skip.
type ListOptions struct {
	Filter     filter.Expr // nil matches everything
	After      string
	Skip       int
	Limit      int
	Sort       string
	Descending bool
	// SkipTotal spares counting the matches (the total returned is 0), for
	// callers that walk a whole list, such as exports.
	SkipTotal bool
}
