package directory

import (
	"context"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/filter"
)

// SearchFields are the attributes a search box looks in, each by prefix
// and each indexed in its own order (migration 00017), so that a search is
// three index ranges in a realm of any size. When an identity matches in
// several, the earlier field wins a tie of keys.
var SearchFields = []string{"display_name", "traits.username", "traits.primary_email_address"}

// Search is one page of a search across SearchFields.
type Search struct {
	Text string
	// AfterKey and AfterID are the cursor: the search key and id of the
	// last identity of the previous page ("" for the first page).
	AfterKey, AfterID string
	Limit             int
}

// SearchPage is a page of a search: the identities in the order of their
// search keys (ids breaking ties), and the cursor of the next page (NextID
// "" on the last).
type SearchPage struct {
	Items           []Identity
	NextKey, NextID string
}

// fieldValue returns the value of one of SearchFields.
func fieldValue(i Identity, field string) string {
	if field == "display_name" {
		return i.DisplayName
	}
	return *i.Traits.Field(strings.TrimPrefix(field, "traits."))
}

// fieldsOf returns the fields a search for text looks in: all of
// SearchFields, or for no text the name alone, so that an empty search
// lists the realm by name.
func fieldsOf(text string) []string {
	if text == "" {
		return SearchFields[:1]
	}
	return SearchFields
}

// SearchKey is where a search for text lists an identity: the smallest of
// its folded SearchFields values that start with the folded text, and the
// index of that field (the first of equal ones); field -1 when none does.
func SearchKey(i Identity, text string) (key string, field int) {
	prefix := Fold(text)
	field = -1
	for f, name := range fieldsOf(text) {
		v := Fold(fieldValue(i, name))
		if strings.HasPrefix(v, prefix) && (field < 0 || v < key) {
			key, field = v, f
		}
	}
	return key, field
}

// identityLister is the part of the store that a search reads.
type identityLister interface {
	ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]Identity, int, error)
	IdentityIDs(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]string, error)
	CountIdentitiesUpTo(ctx context.Context, realmID string, f filter.Expr, max int) (int, error)
}

// searchScanLimit bounds the rows one page of a search reads, counted in
// pages: rows that a field matches but that an earlier page already showed
// (an identity matched by two fields) are skipped, and a realm built so
// that nearly all are would otherwise read every one for a short page.
const searchScanLimit = 20

// SearchIdentities returns a page of the identities of a realm whose name,
// username or e-mail address starts with s.Text, case-insensitively: the
// union of three prefix ranges, each read in its index's order, merged by
// search key and each identity listed once, at its SearchKey. An empty
// text lists every identity by name. A page may hold fewer than s.Limit identities and
// still have a next one, after reading searchScanLimit pages of rows that
// were all shown before.
func SearchIdentities(ctx context.Context, tx identityLister, realmID string, s Search) (SearchPage, error) {
	type rangeState struct {
		buf               []Identity
		afterKey, afterID string
		done              bool
	}
	fields := fieldsOf(s.Text)
	ranges := make([]rangeState, len(fields))
	for f := range ranges {
		ranges[f].afterKey, ranges[f].afterID = Fold(s.AfterKey), s.AfterID
	}
	var page SearchPage
	for read := 0; ; {
		best := -1
		var bestKey string
		for f := range ranges {
			r := &ranges[f]
			if len(r.buf) == 0 && !r.done {
				opts := prefixRange(fields[f], s.Text, r.afterKey, r.afterID, s.Limit+1)
				var err error
				if r.buf, _, err = tx.ListIdentities(ctx, realmID, opts); err != nil {
					return SearchPage{}, err
				}
				r.done = len(r.buf) <= s.Limit
				read += len(r.buf)
			}
			if len(r.buf) == 0 {
				continue
			}
			k := Fold(fieldValue(r.buf[0], fields[f]))
			if best < 0 || k < bestKey || k == bestKey && r.buf[0].ID < ranges[best].buf[0].ID {
				best, bestKey = f, k
			}
		}
		if best < 0 {
			return page, nil // every range is read to its end
		}
		r := &ranges[best]
		i := r.buf[0]
		r.buf, r.afterKey, r.afterID = r.buf[1:], bestKey, i.ID
		if key, field := SearchKey(i, s.Text); key == bestKey && field == best {
			if len(page.Items) == s.Limit {
				last := page.Items[len(page.Items)-1]
				page.NextKey, _ = SearchKey(last, s.Text)
				page.NextID = last.ID
				return page, nil
			}
			page.Items = append(page.Items, i)
		}
		if read > searchScanLimit*(s.Limit+1) && len(page.Items) < s.Limit {
			// Stop at the row just read; the next page starts after it.
			page.NextKey, page.NextID = bestKey, i.ID
			return page, nil
		}
	}
}

// prefixRange lists, in field's order, identities whose field starts with
// text and whose (field, id) comes after (afterKey, afterID). The first
// test alone bounds the index range; the others only narrow it.
func prefixRange(field, text, afterKey, afterID string, limit int) latchkey.ListOptions {
	cmp := func(attr string, op filter.Op, v string) filter.Expr {
		return &filter.Compare{Attr: attr, Op: op, Value: v}
	}
	var where filter.Expr = cmp(field, filter.Sw, text)
	if afterID != "" {
		later := &filter.Or{Left: cmp(field, filter.Gt, afterKey), Right: cmp("id", filter.Gt, afterID)}
		where = &filter.And{Left: where, Right: &filter.And{Left: cmp(field, filter.Ge, afterKey), Right: later}}
	}
	return latchkey.ListOptions{Filter: where, Sort: field, Limit: limit, SkipTotal: true}
}

// CountMatches counts the identities of a realm that a search for text
// finds, up to max: exact when exact is true, else at least max. Each
// field's range is counted up to max+1 in its index alone; only when
// several fields match, and none beyond max, are their ids read, to count
// an identity that two of them match once.
func CountMatches(ctx context.Context, tx identityLister, realmID, text string, max int) (n int, exact bool, err error) {
	var matching []string
	for _, field := range SearchFields {
		c, err := tx.CountIdentitiesUpTo(ctx, realmID, &filter.Compare{Attr: field, Op: filter.Sw, Value: text}, max)
		if err != nil {
			return 0, false, err
		}
		if c > max {
			return max, false, nil
		}
		if c > 0 {
			matching, n = append(matching, field), c
		}
	}
	if len(matching) <= 1 {
		return n, true, nil
	}
	seen := map[string]bool{}
	for _, field := range matching {
		ids, err := tx.IdentityIDs(ctx, realmID, latchkey.ListOptions{
			Filter: &filter.Compare{Attr: field, Op: filter.Sw, Value: text}, Sort: field, Limit: max + 1, SkipTotal: true})
		if err != nil {
			return 0, false, err
		}
		for _, id := range ids {
			seen[id] = true
		}
	}
	if len(seen) > max {
		return max, false, nil
	}
	return len(seen), true, nil
}

// idPage is how many ids MatchingIDs reads at once.
const idPage = 10_000

// MatchingIDs returns the ids of the identities of a realm that a search
// for text finds (every identity, for no text), by id, up to max: the
// selection of a bulk action on "all that match".
func MatchingIDs(ctx context.Context, tx identityLister, realmID, text string, max int) ([]string, error) {
	var where filter.Expr
	if text != "" {
		for _, field := range SearchFields {
			var f filter.Expr = &filter.Compare{Attr: field, Op: filter.Sw, Value: text}
			if where != nil {
				f = &filter.Or{Left: where, Right: f}
			}
			where = f
		}
	}
	var out []string
	opts := latchkey.ListOptions{Filter: where, Limit: min(idPage, max)}
	for {
		ids, err := tx.IdentityIDs(ctx, realmID, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
		if len(ids) < opts.Limit || len(out) >= max {
			return out[:min(len(out), max)], nil
		}
		opts.After = ids[len(ids)-1]
	}
}
