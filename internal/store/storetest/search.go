package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store"
)

// testIdentitySearch checks the console's search box (directory.SearchIdentities):
// a prefix of the name, the username or the e-mail address finds an
// identity, each identity once, in search-key order, page after page; the
// capped count; IdentityIDs and IdentitiesByID, which they and bulk jobs read.
func testIdentitySearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	must(t, s.CreateIdentities(ctx, []directory.Identity{
		person(r, "id-1", "scully", "Dana Scully", directory.StatusActive, "dana.scully@fbi.gov", ""),
		person(r, "id-2", "dana", "Danny Valentine", directory.StatusActive, "dv@example.com", ""),
		person(r, "id-3", "fmulder", "Fox Mulder", directory.StatusActive, "fox@fbi.gov", ""),
		person(r, "id-4", "dana2", "Dana", directory.StatusActive, "dana2@x.org", ""),
		person(r, "id-5", "ad.skinner", "Walter Skinner", directory.StatusActive, "ad.skinner@fbi.gov", ""),
	}))
	other := addRealm(t, s, r.TenantID, "Other")
	must(t, s.CreateIdentities(ctx, []directory.Identity{person(other, "id-9", "dana", "Dana Other", directory.StatusActive, "dana@o.org", "")}))

	search := func(text string, limit int) []string {
		t.Helper()
		var got []string
		cur := directory.Search{Text: text, Limit: limit}
		for pages := 0; ; pages++ {
			p, err := directory.SearchIdentities(ctx, s, r.ID, cur)
			must(t, err)
			if len(p.Items) > limit {
				t.Fatalf("search %q: a page of %d, limit %d", text, len(p.Items), limit)
			}
			got = append(got, ids(p.Items, username)...)
			if p.NextID == "" || pages > 20 {
				return got
			}
			cur.AfterKey, cur.AfterID = p.NextKey, p.NextID
		}
	}
	cases := []struct {
		text string
		want []string // usernames, in search-key order
	}{
		// Keys: "dana" (id-2's username, id-4's name), "dana scully" (id-1,
		// whose e-mail "dana.scully@…" and id-4's "dana2" come later: each
		// identity is listed once, at its smallest key).
		{"DAN", []string{"dana", "dana2", "scully"}},
		{"Scully", []string{"scully"}},  // the username
		{"fox", []string{"fmulder"}},    // name and e-mail: once
		{"ad.", []string{"ad.skinner"}}, // username and e-mail keys equal up to the domain
		{"fbi", nil},
		{"", []string{"dana2", "scully", "dana", "fmulder", "ad.skinner"}}, // everyone, by name                               // no infix
		{"walter s", []string{"ad.skinner"}},                               // the name, with its space
		{"d", []string{"dana", "dana2", "scully"}},                         // not ad.skinner
	}
	for _, c := range cases {
		for _, limit := range []int{1, 2, 50} {
			if got := search(c.text, limit); !slices.Equal(got, c.want) {
				t.Errorf("search %q by pages of %d: %q, want %q", c.text, limit, got, c.want)
			}
		}
	}
	// Ties on one key are broken by id: id-2's username and id-4's name are both "dana".
	p, err := directory.SearchIdentities(ctx, s, r.ID, directory.Search{Text: "dana", Limit: 2})
	must(t, err)
	sameIDs(t, "first page of dana", ids(p.Items, identityID), []string{"id-2", "id-4"})

	for _, c := range []struct {
		text  string
		max   int
		n     int
		exact bool
	}{{"dan", 10, 3, true}, {"dan", 3, 3, true}, {"dan", 2, 2, false}, {"zz", 5, 0, true}} {
		n, exact, err := directory.CountMatches(ctx, s, r.ID, c.text, c.max)
		must(t, err)
		if n != c.n || exact != c.exact {
			t.Errorf("CountMatches(%q, %d) = %d, %v; want %d, %v", c.text, c.max, n, exact, c.n, c.exact)
		}
	}

	for text, want := range map[string][]string{"dan": {"id-1", "id-2", "id-4"}, "": {"id-1", "id-2", "id-3", "id-4", "id-5"}, "zz": nil} {
		for _, max := range []int{2, 100} {
			got, err := directory.MatchingIDs(ctx, s, r.ID, text, max)
			must(t, err)
			sameIDs(t, fmt.Sprintf("MatchingIDs(%q, %d)", text, max), got, want[:min(len(want), max)])
		}
	}

	got, err := s.IdentitiesByID(ctx, r.ID, []string{"id-3", "id-9", "nope", "id-1"})
	must(t, err)
	sameIDs(t, "IdentitiesByID", ids(sortedBy(got, identityID), identityID), []string{"id-1", "id-3"})
}

// testCountMembers checks the capped count of a group's members that the
// groups page shows.
func testCountMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	var people []directory.Identity
	var ids []string
	for k := range 5 {
		p := newIdentity(r, fmt.Sprintf("m%d", k))
		people, ids = append(people, p), append(ids, p.ID)
	}
	must(t, s.CreateIdentities(ctx, people))
	g, empty := newGroup(r, "Five"), newGroup(r, "None")
	must(t, s.CreateGroup(ctx, g))
	must(t, s.CreateGroup(ctx, empty))
	must(t, s.AddMembers(ctx, g.ID, ids))
	for _, c := range []struct {
		group     string
		max, want int
	}{{g.ID, 10, 5}, {g.ID, 5, 5}, {g.ID, 3, 4}, {empty.ID, 3, 0}} {
		n, err := s.CountMembers(ctx, c.group, c.max)
		must(t, err)
		if n != c.want {
			t.Errorf("CountMembers(max %d) = %d, want %d", c.max, n, c.want)
		}
	}
}
