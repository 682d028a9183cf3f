package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/store"
)

// person is an identity of testIdentityFilters.
func person(r directory.Realm, id, username, displayName, status, email, externalID string) directory.Identity {
	v := newIdentity(r, username)
	v.ID, v.DisplayName, v.Status = id, displayName, status
	v.Traits.PrimaryEmailAddress, v.Traits.ExternalID = email, externalID
	return v
}

func testIdentityFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	active, suspended := directory.StatusActive, directory.StatusSuspended
	// Ids sort as the usernames do, so results read in list order.
	must(t, s.CreateIdentities(ctx, []directory.Identity{
		person(r, "id-alice", "Alice", "Alice Liddell", active, "Alice@Example.COM", "EXT-1"),
		person(r, "id-bob", "bob", "Bob Builder", suspended, "bob@example.org", "ext-1"),
		person(r, "id-carol", "carol", "Carol", active, "carol@EXAMPLE.net", "Ext-2"),
		person(r, "id-dave", "dave", "Dave", suspended, "", ""),
	}))
	// Another realm holds a match for every filter: no result may come from it.
	other := addRealm(t, s, r.TenantID, "Other")
	must(t, s.CreateIdentities(ctx, []directory.Identity{
		person(other, "id-alice-2", "Alice", "Alice Liddell", active, "Alice@Example.COM", "EXT-1"),
		person(other, "id-dave-2", "dave", "Dave", suspended, "", ""),
	}))

	cases := []struct {
		filter string
		want   []string // usernames
	}{
		{`id eq "id-bob"`, []string{"bob"}},
		{`id eq "ID-BOB"`, nil}, // ids are compared exactly
		{`id ne "id-bob"`, []string{"Alice", "carol", "dave"}},
		{`id co "aro"`, []string{"carol"}},
		{`id sw "id-d"`, []string{"dave"}},
		{`id ew "ice"`, []string{"Alice"}},
		{`id pr`, []string{"Alice", "bob", "carol", "dave"}},

		{`display_name eq "alice liddell"`, []string{"Alice"}},
		{`display_name ne "ALICE LIDDELL"`, []string{"bob", "carol", "dave"}},
		{`display_name co "BUILD"`, []string{"bob"}},
		{`display_name sw "CAR"`, []string{"carol"}},
		{`display_name ew "liDDell"`, []string{"Alice"}},
		{`display_name pr`, []string{"Alice", "bob", "carol", "dave"}},

		{`status eq "suspended"`, []string{"bob", "dave"}},
		{`status ne "suspended"`, []string{"Alice", "carol"}},
		{`status co "spend"`, []string{"bob", "dave"}},
		{`status sw "act"`, []string{"Alice", "carol"}},
		{`status ew "ded"`, []string{"bob", "dave"}},
		{`status pr`, []string{"Alice", "bob", "carol", "dave"}},

		{`traits.username eq "ALICE"`, []string{"Alice"}},
		{`traits.username ne "BOB"`, []string{"Alice", "carol", "dave"}},
		{`traits.username co "AR"`, []string{"carol"}},
		{`traits.username sw "D"`, []string{"dave"}},
		{`traits.username ew "cE"`, []string{"Alice"}},
		{`traits.username pr`, []string{"Alice", "bob", "carol", "dave"}},

		{`traits.primary_email_address eq "alice@example.com"`, []string{"Alice"}},
		{`traits.primary_email_address ne "BOB@EXAMPLE.ORG"`, []string{"Alice", "carol", "dave"}},
		{`traits.primary_email_address co "@example."`, []string{"Alice", "bob", "carol"}},
		{`traits.primary_email_address sw "CAROL@"`, []string{"carol"}},
		{`traits.primary_email_address ew ".ORG"`, []string{"bob"}},
		{`traits.primary_email_address pr`, []string{"Alice", "bob", "carol"}},

		{`traits.external_id eq "EXT-1"`, []string{"Alice"}},
		{`traits.external_id eq "ext-1"`, []string{"bob"}},
		{`traits.external_id eq "Ext-1"`, nil},
		{`traits.external_id ne "EXT-1"`, []string{"bob", "carol", "dave"}},
		{`traits.external_id co "xt-"`, []string{"bob", "carol"}},
		{`traits.external_id sw "EXT"`, []string{"Alice"}},
		{`traits.external_id ew "t-2"`, []string{"carol"}},
		{`traits.external_id ew "T-2"`, nil},
		{`traits.external_id pr`, []string{"Alice", "bob", "carol"}},

		{`status eq "active" and traits.username sw "a"`, []string{"Alice"}},
		{`traits.username eq "bob" or traits.external_id eq "Ext-2"`, []string{"bob", "carol"}},
		{`not (status eq "active")`, []string{"bob", "dave"}},
		{`not (traits.primary_email_address pr)`, []string{"dave"}},
		{`(status eq "active" or traits.username eq "dave") and not (display_name co "liddell")`, []string{"carol", "dave"}},
		{`DISPLAY_NAME eq "carol" OR Traits.Username eq "DAVE"`, []string{"carol", "dave"}},
		{`traits.username eq "zed"`, nil},
	}
	for _, c := range cases {
		list, total, err := s.ListIdentities(ctx, r.ID, all(parse(t, c.filter, directory.IdentityFilterAttributes)))
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		sameIDs(t, c.filter, ids(list, username), c.want)
		wantTotal(t, c.filter, total, len(c.want))
	}

	// The total counts every match, whatever the page.
	list, total, err := s.ListIdentities(ctx, r.ID,
		latchkey.ListOptions{Filter: parse(t, `status eq "active"`, directory.IdentityFilterAttributes), Limit: 1})
	must(t, err)
	sameIDs(t, "first page of the active", ids(list, username), []string{"Alice"})
	wantTotal(t, "first page of the active", total, 2)
}

// testPrefixSearch checks the prefix test of indexed names (a byte range):
// any character may follow the prefix, including ones beyond the BMP and
// ones that a locale's collation orders oddly, and a search sorted by the
// name pages by it.
func testPrefixSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	names := []string{"ab", "ab-c", "ab c", "abé", "ab\U0001F600", "abz", "aB.x", "ab\uFFFD", "aa", "ac", "a", "b"}
	var people []directory.Identity
	for i, n := range names {
		people = append(people, person(r, fmt.Sprintf("id-%02d", i), n, n, directory.StatusActive, "x"+n+"@example.com", ""))
	}
	must(t, s.CreateIdentities(ctx, people))
	want := []string{"ab", "ab c", "ab-c", "aB.x", "abz", "abé", "ab\uFFFD", "ab\U0001F600"} // in byte order of the folded names
	for _, attr := range []string{"traits.username", "display_name"} {
		f := parse(t, attr+` sw "AB"`, directory.IdentityFilterAttributes)
		list, _, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Filter: f, Sort: attr, Limit: 100})
		must(t, err)
		if got := ids(list, username); !slices.Equal(got, want) {
			t.Errorf("%s sw AB, sorted: %q, want %q", attr, got, want)
		}
	}
	f := parse(t, `traits.primary_email_address sw "XAB"`, directory.IdentityFilterAttributes)
	list, _, err := s.ListIdentities(ctx, r.ID, all(f))
	must(t, err)
	sameIDs(t, "e-mail sw XAB, by id", ids(list, username), []string{"ab", "ab-c", "ab c", "abé", "ab\U0001F600", "abz", "aB.x", "ab\uFFFD"})
}

// testFilterLiterals checks that SQL metacharacters in filter values are
// matched as themselves. Next to each value is a decoy that the value would
// match as a LIKE pattern.
func testFilterLiterals(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	values := []struct{ value, special, decoy string }{
		{"o'hara", "'", "ohara"},
		{"50%off", "%", "50xoff"},
		{"a_b", "_", "axb"},
		{`back\slash`, `\`, "backslash"},
		{"semi;colon", ";", "semicolon"},
	}
	var people []directory.Identity
	for _, v := range values {
		for _, s := range []string{v.value, v.decoy} {
			p := newIdentity(r, s)
			p.DisplayName, p.Traits.ExternalID = s, s
			people = append(people, p)
		}
	}
	must(t, s.CreateIdentities(ctx, people))

	for _, attr := range []string{"display_name", "traits.username", "traits.external_id"} {
		for _, v := range values {
			i := strings.Index(v.value, v.special)
			operands := map[string]string{
				"eq": v.value,
				"co": v.value[i-1 : i+2],
				"sw": v.value[:i+1],
				"ew": v.value[i:],
			}
			for op, operand := range operands {
				literal, _ := json.Marshal(operand)
				raw := attr + " " + op + " " + string(literal)
				list, total, err := s.ListIdentities(ctx, r.ID, all(parse(t, raw, directory.IdentityFilterAttributes)))
				if err != nil {
					t.Errorf("%s: %v", raw, err)
					continue
				}
				sameIDs(t, raw, ids(list, username), []string{v.value})
				wantTotal(t, raw, total, 1)
			}
		}
	}
}

// rich parses a filter in the full grammar, as SCIM hands it to the store
// after translating attribute names.
func rich(t *testing.T, raw string) latchkey.ListOptions {
	t.Helper()
	e, err := filter.Parse(raw)
	must(t, err)
	return all(e)
}

func testRichFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	alice, bob, carol := newIdentity(r, "alice"), newIdentity(r, "bob"), newIdentity(r, "carol")
	alice.ID, bob.ID, carol.ID = "id-a", "id-b", "id-c"
	alice.Traits.GivenName, alice.Traits.Department = "Alice", "R&D"
	bob.Traits.GivenName, bob.Traits.Department = "Bob", "Sales"
	alice.CreateTime, bob.CreateTime, carol.CreateTime = now, now.Add(time.Hour), now.Add(2*time.Hour)
	must(t, s.CreateIdentities(ctx, []directory.Identity{alice, bob, carol}))

	for raw, want := range map[string][]string{
		`traits.given_name eq "ALICE"`:                                     {"alice"},
		`traits.given_name co "o"`:                                         {"bob"},
		`traits.given_name pr`:                                             {"alice", "bob"},
		`not (traits.given_name pr)`:                                       {"carol"},
		`traits.department eq "r&d" or traits.department eq "x"`:           {"alice"},
		`traits.username gt "alice"`:                                       {"bob", "carol"},
		`traits.username le "BOB"`:                                         {"alice", "bob"},
		`create_time gt "` + now.Format(time.RFC3339Nano) + `"`:            {"bob", "carol"},
		`create_time le "` + now.Add(time.Hour).Format(time.RFC3339) + `"`: {"alice"},
		`update_time eq "` + now.Format(time.RFC3339Nano) + `"`:            {"alice", "bob", "carol"},
	} {
		list, total, err := s.ListIdentities(ctx, r.ID, rich(t, raw))
		must(t, err)
		sameIDs(t, raw, ids(list, username), want)
		wantTotal(t, raw, total, len(want))
	}
	for _, raw := range []string{`create_time gt "yesterday"`, `create_time co "2025"`} {
		_, _, err := s.ListIdentities(ctx, r.ID, rich(t, raw))
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Code != latchkey.CodeBadRequest {
			t.Errorf("%s: got %v, want a 400 *latchkey.Error", raw, err)
		}
	}
}

func testGroupFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	alice, bob := addIdentity(t, s, r, "alice"), addIdentity(t, s, r, "bob")
	admins, staff := newGroup(r, "Admins"), newGroup(r, "Staff")
	admins.ExternalID = "okta-1"
	must(t, s.CreateGroup(ctx, admins))
	must(t, s.CreateGroup(ctx, staff))
	must(t, s.AddMembers(ctx, admins.ID, []string{alice.ID}))
	must(t, s.AddMembers(ctx, staff.ID, []string{alice.ID, bob.ID}))

	got, err := s.GetGroup(ctx, r.ID, admins.ID)
	must(t, err)
	admins.UpdateTime = got.UpdateTime // moved by the new member
	equal(t, "group with an external id", got, admins)

	for raw, want := range map[string][]string{
		`external_id eq "okta-1"`:                               {"Admins"},
		`external_id eq "OKTA-1"`:                               nil,
		`members.value eq "` + bob.ID + `"`:                     {"Staff"},
		`members.value eq "` + alice.ID + `"`:                   {"Admins", "Staff"},
		`members.value pr and display_name sw "ad"`:             {"Admins"},
		`not (members.value eq "` + bob.ID + `")`:               {"Admins"},
		`display_name eq "staff" and members.value eq "nobody"`: nil,
	} {
		list, total, err := s.ListGroups(ctx, r.ID, rich(t, raw))
		must(t, err)
		names := ids(list, func(g directory.Group) string { return g.DisplayName })
		slices.Sort(names)
		sameIDs(t, raw, names, want)
		wantTotal(t, raw, total, len(want))
	}

	byIdentity, err := s.GroupsOfIdentities(ctx, []string{alice.ID, bob.ID, "nobody"})
	must(t, err)
	names := func(gs []directory.Group) []string {
		return slices.Sorted(slices.Values(ids(gs, func(g directory.Group) string { return g.DisplayName })))
	}
	sameIDs(t, "groups of alice", names(byIdentity[alice.ID]), []string{"Admins", "Staff"})
	sameIDs(t, "groups of bob", names(byIdentity[bob.ID]), []string{"Staff"})
	sameIDs(t, "groups of nobody", names(byIdentity["nobody"]), nil)

	must(t, s.RemoveAllMembers(ctx, staff.ID))
	members, total, err := s.ListMembers(ctx, staff.ID, all(nil))
	must(t, err)
	wantTotal(t, "members after removing all", total, 0)
	equal(t, "members after removing all", len(members), 0)
}

func testSorting(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	var people []directory.Identity
	for i, name := range []string{"dave", "Carol", "bob", "alice", "erin"} {
		v := newIdentity(r, name)
		v.Traits.FamilyName = []string{"Zed", "Young", "Young", "Xu", ""}[i]
		v.CreateTime = now.Add(time.Duration(i) * time.Minute)
		people = append(people, v)
	}
	must(t, s.CreateIdentities(ctx, people))

	list := func(sort string, desc bool, skip, limit int) []string {
		t.Helper()
		got, total, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Sort: sort, Descending: desc, Skip: skip, Limit: limit})
		must(t, err)
		wantTotal(t, "sorted by "+sort, total, len(people))
		return ids(got, username)
	}
	sameIDs(t, "by username", list("traits.username", false, 0, 10), []string{"alice", "bob", "Carol", "dave", "erin"})
	sameIDs(t, "by username, descending", list("traits.username", true, 0, 10), []string{"erin", "dave", "Carol", "bob", "alice"})
	sameIDs(t, "by creation", list("create_time", false, 0, 10), []string{"dave", "Carol", "bob", "alice", "erin"})
	sameIDs(t, "by creation, a page", list("create_time", false, 1, 2), []string{"Carol", "bob"})
	family := list("traits.family_name", false, 0, 10)
	sameIDs(t, "by family name, empty first", family[:2], []string{"erin", "alice"})
	sameIDs(t, "by family name, then Zed", family[4:], []string{"dave"})

	_, _, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Sort: "password", Limit: 10})
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != latchkey.CodeBadRequest {
		t.Errorf("sort by an unknown attribute: got %v, want a 400", err)
	}
}

// testListTotals: total_size is exact however a list gets it, from the
// page itself (an exact lookup by a unique key at any page size, a first
// page that holds every match) or by counting (a full page, a later page).
func testListTotals(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	people := addIdentities(t, s, r, "u", 5) // usernames u0…u4
	other := addRealm(t, s, r.TenantID, "Other")
	addIdentities(t, s, other, "u", 2) // the same usernames in another realm
	f := func(raw string) filter.Expr { return parse(t, raw, directory.IdentityFilterAttributes) }
	cases := []struct {
		what  string
		opts  latchkey.ListOptions
		n     int
		total int
	}{
		{"username eq, limit 1", latchkey.ListOptions{Filter: f(`traits.username eq "U3"`), Limit: 1}, 1, 1},
		{"username eq, limit 50", latchkey.ListOptions{Filter: f(`traits.username eq "u3"`), Limit: 50}, 1, 1},
		{"username eq, none", latchkey.ListOptions{Filter: f(`traits.username eq "u9"`), Limit: 1}, 0, 0},
		{"username eq, skipped", latchkey.ListOptions{Filter: f(`traits.username eq "u3"`), Limit: 1, Skip: 1}, 0, 1},
		{"id eq and status", latchkey.ListOptions{Filter: f(`id eq "` + people[2] + `" and status eq "active"`), Limit: 1}, 1, 1},
		{"id eq and another status", latchkey.ListOptions{Filter: f(`id eq "` + people[2] + `" and status eq "suspended"`), Limit: 1}, 0, 0},
		{"id eq or id eq, full page", latchkey.ListOptions{Filter: f(`id eq "` + people[1] + `" or id eq "` + people[2] + `"`), Limit: 1}, 1, 2},
		{"sw, page not full", latchkey.ListOptions{Filter: f(`traits.username sw "u"`), Limit: 10}, 5, 5},
		{"sw, full page", latchkey.ListOptions{Filter: f(`traits.username sw "u"`), Limit: 2}, 2, 5},
		{"sw, last page", latchkey.ListOptions{Filter: f(`traits.username sw "u"`), Limit: 2, Skip: 4}, 1, 5},
		{"sw, after", latchkey.ListOptions{Filter: f(`traits.username sw "u"`), Limit: 10, After: people[0]}, 4, 5},
		{"unfiltered, full page", latchkey.ListOptions{Limit: 3}, 3, 5},
		{"unfiltered, page not full", latchkey.ListOptions{Limit: 30}, 5, 5},
	}
	for _, c := range cases {
		got, total, err := s.ListIdentities(ctx, r.ID, c.opts)
		must(t, err)
		if len(got) != c.n || total != c.total {
			t.Errorf("%s: %d identities, total %d; want %d, total %d", c.what, len(got), total, c.n, c.total)
		}
	}
}
