package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/store"
)

// lister is one list method reduced to ids.
type lister func(latchkey.ListOptions) ([]string, int, error)

// under adapts a list method of a parent (tenant, realm, group, identity).
func under[T any](t *testing.T, list func(ctx context.Context, parent string, opts latchkey.ListOptions) ([]T, int, error),
	parent string, id func(T) string) lister {
	return func(o latchkey.ListOptions) ([]string, int, error) {
		items, total, err := list(t.Context(), parent, o)
		return ids(items, id), total, err
	}
}

// checkPaging checks the pages of a list whose items are, in list order,
// want (at least five).
func checkPaging(t *testing.T, list lister, want []string) {
	t.Helper()
	n := len(want)
	cases := []struct {
		name string
		opts latchkey.ListOptions
		want []string
	}{
		{"everything", latchkey.ListOptions{Limit: n + 10}, want},
		{"limit", latchkey.ListOptions{Limit: 2}, want[:2]},
		{"skip", latchkey.ListOptions{Skip: 1, Limit: 2}, want[1:3]},
		{"after", latchkey.ListOptions{After: want[1], Limit: n}, want[2:]},
		{"after and skip", latchkey.ListOptions{After: want[0], Skip: 2, Limit: 2}, want[3:5]},
		{"after the last", latchkey.ListOptions{After: want[n-1], Limit: n}, nil},
		{"skip past the end", latchkey.ListOptions{Skip: n, Limit: n}, nil},
	}
	for _, c := range cases {
		got, total, err := list(c.opts)
		must(t, err)
		sameIDs(t, c.name, got, c.want)
		wantTotal(t, c.name, total, n)
	}
	// Following After page by page visits every item once.
	var walked []string
	for after := ""; len(walked) <= n; {
		page, _, err := list(latchkey.ListOptions{After: after, Limit: 2})
		must(t, err)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		after = page[len(page)-1]
	}
	sameIDs(t, "walked with After", walked, want)
}

// testDeepSkip: a skip deep into a realm's identities, which the store
// answers from its per-bucket counts, gives the rows an offset gives, before
// and after deletes, to the last row and past it.
func testDeepSkip(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	addIdentities(t, s, other, "other", 50)
	all := addIdentities(t, s, r, "user", 2600)
	check := func(what string) {
		t.Helper()
		for _, skip := range []int{0, 999, 1000, 1001, 1500, len(all) - 3, len(all) - 1, len(all), len(all) + 500} {
			page, total, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Limit: 5, Skip: skip})
			must(t, err)
			want := all[min(skip, len(all)):min(skip+5, len(all))]
			equal(t, fmt.Sprintf("%s: ids at skip %d", what, skip), ids(page, identityID), want)
			wantTotal(t, what, total, len(all))
		}
		// A skip to the first row of the last bucket seeks to it with no
		// rest: the short page that follows is still not the whole list.
		last := len(all) - 1
		for last > 0 && all[last-1][:2] == all[last][:2] {
			last--
		}
		page, total, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Limit: len(all) - last + 1, Skip: last})
		must(t, err)
		equal(t, what+": ids from the last bucket", ids(page, identityID), all[last:])
		wantTotal(t, what+": from the last bucket", total, len(all))
	}
	check("after creates")
	var gone []string
	for i := 0; i < len(all); i += 7 {
		gone = append(gone, all[i])
	}
	n, err := s.DeleteIdentities(ctx, r.ID, append(gone, "missing"))
	must(t, err)
	equal(t, "deleted", n, len(gone))
	all = slices.DeleteFunc(all, func(id string) bool { return slices.Contains(gone, id) })
	check("after deletes")
}

func testPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	for range 3 {
		addRealm(t, s, r.TenantID, "Realm "+latchkey.NewID())
	}
	// The rows of a second realm and the members of a second group must not
	// show up in the lists below.
	other := addRealm(t, s, r.TenantID, "Other")
	addIdentities(t, s, other, "other", 3)
	noise := addGroup(t, s, r, "Noise")

	people := addIdentities(t, s, r, "user", 7)
	var groups []string
	for i := range 6 {
		g := addGroup(t, s, r, fmt.Sprintf("Group %d", i))
		must(t, s.AddMembers(ctx, g.ID, people[:1]))
		groups = append(groups, g.ID)
	}
	must(t, s.AddMembers(ctx, noise.ID, people[5:]))
	must(t, s.AddMembers(ctx, groups[0], people[1:6]))
	realms, _, err := s.ListRealms(ctx, r.TenantID, all(nil))
	must(t, err)

	t.Run("realms", func(t *testing.T) {
		checkPaging(t, under(t, s.ListRealms, r.TenantID, realmID), slices.Sorted(slices.Values(ids(realms, realmID))))
	})
	t.Run("identities", func(t *testing.T) {
		checkPaging(t, under(t, s.ListIdentities, r.ID, identityID), people)
	})
	t.Run("groups", func(t *testing.T) {
		checkPaging(t, under(t, s.ListGroups, r.ID, groupID), slices.Sorted(slices.Values(slices.Concat(groups, []string{noise.ID}))))
	})
	t.Run("members", func(t *testing.T) {
		checkPaging(t, under(t, s.ListMembers, groups[0], identityID), people[:6])
	})
	t.Run("groups of identity", func(t *testing.T) {
		checkPaging(t, under(t, s.ListGroupsOfIdentity, people[0], groupID), slices.Sorted(slices.Values(groups)))
	})
}
