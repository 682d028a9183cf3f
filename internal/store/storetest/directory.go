package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store"
)

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := addTenant(t, s)
	got, err := s.GetTenant(ctx, v.ID)
	must(t, err)
	equal(t, "created tenant", got, v)

	v.DisplayName, v.UpdateTime = "Renamed", now.Add(time.Hour)
	must(t, s.UpdateTenant(ctx, v))
	got, err = s.GetTenant(ctx, v.ID)
	must(t, err)
	equal(t, "updated tenant", got, v)

	wantErr(t, "create a taken id", s.CreateTenant(ctx, v), latchkey.ErrDuplicate)
	_, err = s.GetTenant(ctx, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "update missing", s.UpdateTenant(ctx, newTenant()), latchkey.ErrNotFound)
}

func testRealms(t *testing.T, s store.Store) {
	ctx := t.Context()
	tenant, other := addTenant(t, s), addTenant(t, s)
	work := addRealm(t, s, tenant.ID, "Workforce")
	cust := addRealm(t, s, tenant.ID, "Customers")
	addRealm(t, s, other.ID, "Workforce") // same name, other tenant: fine

	got, err := s.GetRealm(ctx, tenant.ID, work.ID)
	must(t, err)
	equal(t, "created realm", got, work)
	_, err = s.GetRealm(ctx, other.ID, work.ID)
	wantErr(t, "get from another tenant", err, latchkey.ErrNotFound)

	list, total, err := s.ListRealms(ctx, tenant.ID, all(nil))
	must(t, err)
	equal(t, "list", list, sortedBy([]directory.Realm{work, cust}, realmID))
	wantTotal(t, "list", total, 2)
	for raw, want := range map[string][]string{
		`display_name eq "WORKFORCE"`: {work.ID},
		`display_name co "tom"`:       {cust.ID},
		`id eq "` + cust.ID + `"`:     {cust.ID},
	} {
		list, total, err := s.ListRealms(ctx, tenant.ID, all(parse(t, raw, directory.RealmFilterAttributes)))
		must(t, err)
		sameIDs(t, raw, ids(list, realmID), want)
		wantTotal(t, raw, total, len(want))
	}

	wantErr(t, "create a taken name in another case", s.CreateRealm(ctx, newRealmIn(tenant.ID, "wORKFORCE")), latchkey.ErrDuplicate)
	wantErr(t, "create in a missing tenant", s.CreateRealm(ctx, newRealmIn("missing", "X")), latchkey.ErrNoParent)

	cust.DisplayName = "workforce"
	wantErr(t, "rename to a taken name", s.UpdateRealm(ctx, cust), latchkey.ErrDuplicate)
	work.DisplayName, work.Classification, work.UpdateTime = "WorkForce", directory.SecureCustomer, now.Add(time.Hour)
	must(t, s.UpdateRealm(ctx, work)) // its own name in another case
	got, err = s.GetRealm(ctx, tenant.ID, work.ID)
	must(t, err)
	equal(t, "updated realm", got, work)
	wantErr(t, "update missing", s.UpdateRealm(ctx, newRealmIn(tenant.ID, "X")), latchkey.ErrNotFound)
	moved := work
	moved.TenantID = other.ID
	wantErr(t, "update in another tenant", s.UpdateRealm(ctx, moved), latchkey.ErrNotFound)

	wantErr(t, "delete from another tenant", s.DeleteRealm(ctx, other.ID, work.ID), latchkey.ErrNotFound)
	must(t, s.DeleteRealm(ctx, tenant.ID, work.ID))
	_, err = s.GetRealm(ctx, tenant.ID, work.ID)
	wantErr(t, "get deleted", err, latchkey.ErrNotFound)
	wantErr(t, "delete again", s.DeleteRealm(ctx, tenant.ID, work.ID), latchkey.ErrNotFound)
}

func testDeleteRealmInUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	withIdentity := newRealm(t, s)
	alice := addIdentity(t, s, withIdentity, "alice")
	wantErr(t, "delete a realm with an identity", s.DeleteRealm(ctx, withIdentity.TenantID, withIdentity.ID), latchkey.ErrInUse)
	_, err := s.DeleteIdentities(ctx, withIdentity.ID, []string{alice.ID})
	must(t, err)
	must(t, s.DeleteRealm(ctx, withIdentity.TenantID, withIdentity.ID)) // emptied, it goes

	withGroup := newRealm(t, s)
	g := addGroup(t, s, withGroup, "Admins")
	wantErr(t, "delete a realm with a group", s.DeleteRealm(ctx, withGroup.TenantID, withGroup.ID), latchkey.ErrInUse)
	must(t, s.DeleteGroup(ctx, withGroup.ID, g.ID))
	must(t, s.DeleteRealm(ctx, withGroup.TenantID, withGroup.ID))
}

func testIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	v := newIdentity(r, "alice")
	v.DisplayName, v.Status = "Alice Liddell", directory.StatusSuspended
	v.Traits.PrimaryEmailAddress, v.Traits.ExternalID = "Alice@Example.com", "EXT-1"
	v.Traits.GivenName, v.Traits.FamilyName, v.Traits.Locale = "Alice", "Liddell", "en-GB"
	must(t, s.CreateIdentities(ctx, []directory.Identity{v}))
	got, err := s.GetIdentity(ctx, r.ID, v.ID)
	must(t, err)
	equal(t, "created identity", got, v)

	v.DisplayName, v.Status, v.UpdateTime = "Alice L.", directory.StatusActive, now.Add(time.Hour)
	v.Traits.Username, v.Traits.PrimaryEmailAddress, v.Traits.Title = "alice.l", "", "Dr"
	must(t, s.UpdateIdentity(ctx, v))
	got, err = s.GetIdentity(ctx, r.ID, v.ID)
	must(t, err)
	equal(t, "updated identity", got, v)

	other := addRealm(t, s, r.TenantID, "Other")
	_, err = s.GetIdentity(ctx, other.ID, v.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	_, err = s.GetIdentity(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "update missing", s.UpdateIdentity(ctx, newIdentity(r, "nobody")), latchkey.ErrNotFound)
	moved := v
	moved.RealmID = other.ID
	wantErr(t, "update in another realm", s.UpdateIdentity(ctx, moved), latchkey.ErrNotFound)
	wantErr(t, "create in a missing realm",
		s.CreateIdentities(ctx, []directory.Identity{newIdentity(directory.Realm{ID: "missing", TenantID: r.TenantID}, "bob")}),
		latchkey.ErrNoParent)
	dup := newIdentity(r, "bob")
	dup.ID = v.ID
	wantErr(t, "create a taken id", s.CreateIdentities(ctx, []directory.Identity{dup}), latchkey.ErrDuplicate)
}

func testUsernameUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	alice := addIdentity(t, s, r, "Alice")
	wantErr(t, "create a taken username in another case",
		s.CreateIdentities(ctx, []directory.Identity{newIdentity(r, "aLICE")}), latchkey.ErrDuplicate)
	addIdentity(t, s, addRealm(t, s, r.TenantID, "Other"), "alice") // another realm: fine

	bob := addIdentity(t, s, r, "bob")
	bob.Traits.Username = "ALICE"
	wantErr(t, "rename to a taken username", s.UpdateIdentity(ctx, bob), latchkey.ErrDuplicate)
	alice.Traits.Username = "ALICE"
	must(t, s.UpdateIdentity(ctx, alice)) // its own username in another case

	wantErr(t, "one batch holding a username twice",
		s.CreateIdentities(ctx, []directory.Identity{newIdentity(r, "carol"), newIdentity(r, "Carol")}), latchkey.ErrDuplicate)
	_, total, err := s.ListIdentities(ctx, r.ID, all(parse(t, `traits.username eq "carol"`, directory.IdentityFilterAttributes)))
	must(t, err)
	wantTotal(t, "carol after the failed batch", total, 0)
}

// testIdentityBatch creates more identities than one INSERT holds.
func testIdentityBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	const n = 1201 // three statements of at most 500 rows
	want := addIdentities(t, s, r, "user", n)
	list, total, err := s.ListIdentities(ctx, r.ID, all(nil))
	must(t, err)
	sameIDs(t, "every identity listed", ids(list, identityID), want)
	wantTotal(t, "unfiltered", total, n)
	_, total, err = s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Filter: parse(t, "id pr", directory.IdentityFilterAttributes), Limit: 1})
	must(t, err)
	wantTotal(t, "filtered", total, n)
	missing, err := s.MissingIdentities(ctx, r.ID, want[:1000])
	must(t, err)
	sameIDs(t, "missing of the first 1000", missing, nil)

	// A batch whose last statement fails writes nothing, in a transaction
	// or on its own.
	batch := make([]directory.Identity, 1001)
	for i := range batch {
		batch[i] = newIdentity(r, fmt.Sprintf("new%d", i))
	}
	batch[1000].Traits.Username = "USER7"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CreateIdentities(ctx, batch) })
	wantErr(t, "batch in a transaction", err, latchkey.ErrDuplicate)
	wantErr(t, "batch on its own", s.CreateIdentities(ctx, batch), latchkey.ErrDuplicate)
	missing, err = s.MissingIdentities(ctx, r.ID, ids(batch[:1000], identityID))
	must(t, err)
	if len(missing) != 1000 {
		t.Errorf("%d identities of the failed batches were written", 1000-len(missing))
	}
	_, total, err = s.ListIdentities(ctx, r.ID, all(nil))
	must(t, err)
	wantTotal(t, "after the failed batches", total, n)
}

// testIdentityCount checks the total of unfiltered identity lists, which
// comes from counters kept beside the rows, against the rows themselves.
func testIdentityCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	idFilter := parse(t, "id pr", directory.IdentityFilterAttributes)
	check := func(what string, realm directory.Realm, want int) {
		t.Helper()
		_, fast, err := s.ListIdentities(ctx, realm.ID, latchkey.ListOptions{Limit: 1})
		must(t, err)
		_, counted, err := s.ListIdentities(ctx, realm.ID, latchkey.ListOptions{Filter: idFilter, Limit: 1})
		must(t, err)
		wantTotal(t, what+" (unfiltered)", fast, want)
		wantTotal(t, what+" (filtered)", counted, want)
	}
	check("empty realm", r, 0)
	created := addIdentities(t, s, r, "user", 40)
	addIdentities(t, s, other, "user", 3)
	for i := range 10 {
		addIdentity(t, s, r, fmt.Sprintf("single%d", i))
	}
	check("after creates", r, 50)
	check("other realm", other, 3)

	n, err := s.DeleteIdentities(ctx, r.ID, append(created[:15:15], "missing"))
	must(t, err)
	if n != 15 {
		t.Errorf("deleted %d, want 15", n)
	}
	for _, id := range created[15:20] {
		_, err := s.DeleteIdentities(ctx, r.ID, []string{id})
		must(t, err)
	}
	_, err = s.DeleteIdentities(ctx, r.ID, created[:20]) // gone already
	must(t, err)
	check("after deletes", r, 30)
	check("other realm after deletes", other, 3)

	boom := errors.New("boom")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentities(ctx, []directory.Identity{newIdentity(r, "rolledback")}); err != nil {
			return err
		}
		if _, err := tx.DeleteIdentities(ctx, r.ID, created[20:]); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "rolled back", err, boom)
	check("after a rollback", r, 30)
}

func testDeleteIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := newRealm(t, s)
	alice, bob, carol := addIdentity(t, s, r, "alice"), addIdentity(t, s, r, "bob"), addIdentity(t, s, r, "carol")
	stranger := addIdentity(t, s, other, "dave")
	g := addGroup(t, s, r, "Admins")
	must(t, s.AddMembers(ctx, g.ID, []string{alice.ID, bob.ID, carol.ID}))

	n, err := s.DeleteIdentities(ctx, r.ID, []string{alice.ID, bob.ID, "missing", stranger.ID})
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	for _, id := range []string{alice.ID, bob.ID} {
		_, err := s.GetIdentity(ctx, r.ID, id)
		wantErr(t, "get deleted", err, latchkey.ErrNotFound)
	}
	_, err = s.GetIdentity(ctx, other.ID, stranger.ID)
	must(t, err) // another realm's identity is not touched

	members, total, err := s.ListMembers(ctx, g.ID, all(nil))
	must(t, err)
	sameIDs(t, "members after the delete", ids(members, identityID), []string{carol.ID})
	wantTotal(t, "members after the delete", total, 1)
	n, err = s.DeleteIdentities(ctx, r.ID, []string{carol.ID})
	must(t, err)
	if n != 1 {
		t.Errorf("deleted %d, want 1", n)
	}
	must(t, s.DeleteGroup(ctx, r.ID, g.ID)) // no membership is left behind
}

func testMissingIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	a, b := addIdentity(t, s, r, "a"), addIdentity(t, s, r, "b")
	stranger := addIdentity(t, s, newRealm(t, s), "c")
	missing, err := s.MissingIdentities(ctx, r.ID, []string{"x", a.ID, stranger.ID, b.ID, "y"})
	must(t, err)
	slices.Sort(missing)
	sameIDs(t, "missing", missing, slices.Sorted(slices.Values([]string{"x", stranger.ID, "y"})))
	missing, err = s.MissingIdentities(ctx, r.ID, []string{b.ID, a.ID})
	must(t, err)
	sameIDs(t, "none missing", missing, nil)
}

// testEmptyIDLists checks that batches of no ids do nothing on every
// engine, and leave a transaction usable.
func testEmptyIDLists(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	g := addGroup(t, s, r, "Admins")
	alice := newIdentity(r, "alice")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentities(ctx, nil); err != nil {
			return fmt.Errorf("CreateIdentities: %w", err)
		}
		if n, err := tx.DeleteIdentities(ctx, r.ID, nil); err != nil || n != 0 {
			return fmt.Errorf("DeleteIdentities: %d, %w", n, err)
		}
		if missing, err := tx.MissingIdentities(ctx, r.ID, nil); err != nil || len(missing) != 0 {
			return fmt.Errorf("MissingIdentities: %q, %w", missing, err)
		}
		if err := tx.AddMembers(ctx, g.ID, nil); err != nil {
			return fmt.Errorf("AddMembers: %w", err)
		}
		if err := tx.RemoveMembers(ctx, g.ID, nil); err != nil {
			return fmt.Errorf("RemoveMembers: %w", err)
		}
		return tx.CreateIdentities(ctx, []directory.Identity{alice})
	})
	must(t, err)
	_, err = s.GetIdentity(ctx, r.ID, alice.ID)
	must(t, err)
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	admins, staff := addGroup(t, s, r, "Admins"), addGroup(t, s, r, "Staff")
	addGroup(t, s, other, "Admins") // same name, another realm: fine

	got, err := s.GetGroup(ctx, r.ID, admins.ID)
	must(t, err)
	equal(t, "created group", got, admins)
	_, err = s.GetGroup(ctx, other.ID, admins.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	_, err = s.GetGroup(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)

	list, total, err := s.ListGroups(ctx, r.ID, all(nil))
	must(t, err)
	equal(t, "list", list, sortedBy([]directory.Group{admins, staff}, groupID))
	wantTotal(t, "list", total, 2)
	for raw, want := range map[string][]string{
		`display_name eq "ADMINS"`:       {admins.ID},
		`display_name sw "st"`:           {staff.ID},
		`not (id eq "` + staff.ID + `")`: {admins.ID},
	} {
		list, total, err := s.ListGroups(ctx, r.ID, all(parse(t, raw, directory.GroupFilterAttributes)))
		must(t, err)
		sameIDs(t, raw, ids(list, groupID), want)
		wantTotal(t, raw, total, len(want))
	}

	wantErr(t, "create a taken name in another case", s.CreateGroup(ctx, newGroup(r, "aDMINS")), latchkey.ErrDuplicate)
	wantErr(t, "create in a missing realm", s.CreateGroup(ctx, newGroup(directory.Realm{ID: "missing"}, "X")), latchkey.ErrNoParent)
	staff.DisplayName = "admins"
	wantErr(t, "rename to a taken name", s.UpdateGroup(ctx, staff), latchkey.ErrDuplicate)
	admins.DisplayName, admins.Description, admins.UpdateTime = "ADMINS", "Changed", now.Add(time.Hour)
	must(t, s.UpdateGroup(ctx, admins))
	got, err = s.GetGroup(ctx, r.ID, admins.ID)
	must(t, err)
	equal(t, "updated group", got, admins)
	wantErr(t, "update missing", s.UpdateGroup(ctx, newGroup(r, "Nobody")), latchkey.ErrNotFound)

	wantErr(t, "delete from another realm", s.DeleteGroup(ctx, other.ID, admins.ID), latchkey.ErrNotFound)
	must(t, s.DeleteGroup(ctx, r.ID, admins.ID))
	_, err = s.GetGroup(ctx, r.ID, admins.ID)
	wantErr(t, "get deleted", err, latchkey.ErrNotFound)
	wantErr(t, "delete again", s.DeleteGroup(ctx, r.ID, admins.ID), latchkey.ErrNotFound)
}

func testMemberships(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	alice, bob, carol := addIdentity(t, s, r, "alice"), addIdentity(t, s, r, "bob"), addIdentity(t, s, r, "carol")
	admins, staff := addGroup(t, s, r, "Admins"), addGroup(t, s, r, "Staff")

	members := func(g directory.Group, want ...directory.Identity) {
		t.Helper()
		list, total, err := s.ListMembers(ctx, g.ID, all(nil))
		must(t, err)
		sameIDs(t, g.DisplayName+" members", ids(list, identityID), ids(sortedBy(want, identityID), identityID))
		wantTotal(t, g.DisplayName+" members", total, len(want))
	}
	// Membership changes move the group's update time and leave the
	// identities' alone (a User's version is made of its groups' ids).
	identityTime := func(i directory.Identity) time.Time {
		t.Helper()
		got, err := s.GetIdentity(ctx, r.ID, i.ID)
		must(t, err)
		return got.UpdateTime
	}
	groupTime := func(g directory.Group) time.Time {
		t.Helper()
		got, err := s.GetGroup(ctx, r.ID, g.ID)
		must(t, err)
		return got.UpdateTime
	}
	moved := func(what string, before, after time.Time, want bool) {
		t.Helper()
		if after.After(before) != want {
			t.Errorf("%s: update time %v, then %v; want moved %v", what, before, after, want)
		}
	}
	must(t, s.AddMembers(ctx, admins.ID, []string{alice.ID, bob.ID}))
	moved("alice joins", alice.UpdateTime, identityTime(alice), false)
	moved("admins gain members", admins.UpdateTime, groupTime(admins), true)
	joined := identityTime(alice)
	must(t, s.AddMembers(ctx, admins.ID, []string{bob.ID, alice.ID, bob.ID})) // again: no change
	moved("alice joins again", joined, identityTime(alice), false)
	must(t, s.AddMembers(ctx, staff.ID, []string{bob.ID, carol.ID}))
	members(admins, alice, bob)
	members(staff, bob, carol)

	alice.UpdateTime, bob.UpdateTime = identityTime(alice), identityTime(bob)
	list, _, err := s.ListMembers(ctx, admins.ID, all(nil))
	must(t, err)
	equal(t, "members are whole identities", list, sortedBy([]directory.Identity{alice, bob}, identityID))
	f := parse(t, `traits.username eq "BOB"`, directory.IdentityFilterAttributes)
	list, total, err := s.ListMembers(ctx, staff.ID, all(f))
	must(t, err)
	sameIDs(t, "filtered members", ids(list, identityID), []string{bob.ID})
	wantTotal(t, "filtered members", total, 1)
	among, err := s.MembersAmong(ctx, staff.ID, []string{alice.ID, carol.ID, "missing", bob.ID})
	must(t, err)
	sameIDs(t, "members among", among, ids(sortedBy([]directory.Identity{bob, carol}, identityID), identityID))
	among, err = s.MembersAmong(ctx, staff.ID, nil)
	must(t, err)
	sameIDs(t, "members among none", among, nil)

	admins.UpdateTime, staff.UpdateTime = groupTime(admins), groupTime(staff)
	groups, total, err := s.ListGroupsOfIdentity(ctx, bob.ID, all(nil))
	must(t, err)
	equal(t, "groups of bob", groups, sortedBy([]directory.Group{admins, staff}, groupID))
	wantTotal(t, "groups of bob", total, 2)
	groups, total, err = s.ListGroupsOfIdentity(ctx, bob.ID, all(parse(t, `display_name eq "staff"`, directory.GroupFilterAttributes)))
	must(t, err)
	sameIDs(t, "filtered groups of bob", ids(groups, groupID), []string{staff.ID})
	wantTotal(t, "filtered groups of bob", total, 1)
	groups, total, err = s.ListGroupsOfIdentity(ctx, carol.ID, all(nil))
	must(t, err)
	sameIDs(t, "groups of carol", ids(groups, groupID), []string{staff.ID})
	wantTotal(t, "groups of carol", total, 1)

	wantErr(t, "add a missing identity", s.AddMembers(ctx, admins.ID, []string{carol.ID, "missing"}), latchkey.ErrNoParent)
	wantErr(t, "add to a missing group", s.AddMembers(ctx, "missing", []string{carol.ID}), latchkey.ErrNoParent)
	members(admins, alice, bob) // the failed add added no one

	wantErr(t, "delete a group with members", s.DeleteGroup(ctx, r.ID, admins.ID), latchkey.ErrInUse)
	joined, carolTime, adminsTime := identityTime(alice), identityTime(carol), groupTime(admins)
	must(t, s.RemoveMembers(ctx, admins.ID, []string{alice.ID, carol.ID, "missing"}))
	moved("alice leaves", joined, identityTime(alice), false)
	moved("admins lose alice", adminsTime, groupTime(admins), true)
	moved("carol, no member, leaves", carolTime, identityTime(carol), false)
	left := identityTime(alice)
	must(t, s.RemoveMembers(ctx, admins.ID, []string{alice.ID})) // again: no change
	moved("alice leaves again", left, identityTime(alice), false)
	members(admins, bob)
	members(staff, bob, carol)
	bobTime := identityTime(bob)
	must(t, s.RemoveAllMembers(ctx, admins.ID))
	moved("bob leaves with everyone", bobTime, identityTime(bob), false)
	members(admins)
	must(t, s.DeleteGroup(ctx, r.ID, admins.ID))

	staffTime := groupTime(staff)
	_, err = s.DeleteIdentities(ctx, r.ID, []string{carol.ID})
	must(t, err)
	moved("staff loses deleted carol", staffTime, groupTime(staff), true)
}

// testMembershipBatch adds more members than one INSERT holds.
func testMembershipBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	g := addGroup(t, s, r, "Everyone")
	people := addIdentities(t, s, r, "user", 1001)
	count := func(what string, want int) {
		t.Helper()
		_, total, err := s.ListMembers(ctx, g.ID, latchkey.ListOptions{Limit: 1})
		must(t, err)
		wantTotal(t, what, total, want)
	}
	wantErr(t, "add a batch ending in a missing identity", s.AddMembers(ctx, g.ID, append(people[:1000:1000], "missing")), latchkey.ErrNoParent)
	count("after the failed batch", 0)
	must(t, s.AddMembers(ctx, g.ID, people))
	count("after the batch", 1001)
	list, _, err := s.ListMembers(ctx, g.ID, all(nil))
	must(t, err)
	sameIDs(t, "members", ids(list, identityID), people)
	must(t, s.RemoveMembers(ctx, g.ID, people[1:]))
	count("after removing all but one", 1)
}

// testConcurrentIdentityCreates: identities that concurrent requests create
// (and that the store may create together) are each created with their
// event, all or nothing: of one username in mixed case exactly one is, an
// identity of a realm of another tenant is not, and neither fails the
// others.
func testConcurrentIdentityCreates(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other, foreign := addRealm(t, s, r.TenantID, "Other"), newRealm(t, s)
	var creates []directory.Identity
	for i := range 12 {
		creates = append(creates, newIdentity(r, fmt.Sprintf("user%d", i)))
	}
	for _, name := range []string{"Same", "SAME", "same", "sAmE", "samE"} {
		creates = append(creates, newIdentity(r, name))
	}
	creates = append(creates, newIdentity(other, "user0"), newIdentity(other, "user1"))
	stray := newIdentity(foreign, "stray")
	stray.TenantID = r.TenantID // foreign's realm, as a path of r's tenant names it
	creates = append(creates, stray)
	errs := make([]error, len(creates))
	var wg sync.WaitGroup
	for i, v := range creates {
		wg.Go(func() {
			errs[i] = s.Directory().CreateIdentity(ctx, v, newEvent(v.TenantID, v.RealmID, i, "identity.create"))
		})
	}
	wg.Wait()
	created, same := map[string]bool{}, 0
	for i, v := range creates {
		switch {
		case v.ID == stray.ID:
			wantErr(t, "create in a realm of another tenant", errs[i], latchkey.ErrNotFound)
		case strings.EqualFold(v.Traits.Username, "same") && errs[i] == nil:
			same++
			created[v.ID] = true
		case strings.EqualFold(v.Traits.Username, "same"):
			wantErr(t, "create a taken username", errs[i], latchkey.ErrDuplicate)
		default:
			must(t, errs[i])
			created[v.ID] = true
		}
		_, err := s.GetIdentity(ctx, v.RealmID, v.ID)
		if (err == nil) != created[v.ID] {
			t.Errorf("identity %s: created %v, stored %v", v.Traits.Username, created[v.ID], err == nil)
		}
	}
	if same != 1 {
		t.Errorf("%d identities named same were created, want 1", same)
	}
	for _, realm := range []directory.Realm{r, other, foreign} {
		list, total, err := s.ListIdentities(ctx, realm.ID, all(nil))
		must(t, err)
		if total != len(list) {
			t.Errorf("realm %s: total %d, %d listed", realm.DisplayName, total, len(list))
		}
		events, _, err := s.Audit().ListEvents(ctx, realm.TenantID, realm.ID, all(nil))
		must(t, err)
		var recorded []string
		for _, e := range events {
			var i int
			fmt.Sscanf(e.ResourceID, "resource-%d", &i) // newEvent's resource of the i-th create
			recorded = append(recorded, creates[i].ID)
		}
		slices.Sort(recorded)
		sameIDs(t, "events of realm "+realm.DisplayName, recorded, ids(list, func(i directory.Identity) string { return i.ID }))
	}
}
