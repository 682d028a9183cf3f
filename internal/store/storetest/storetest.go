// Package storetest owns the storage conformance suite: the one set of
// tests that every storage engine must pass, modelled on Dex's
// storage/conformance. It checks what the domain packages rely on — every
// method of directory.Tx, oauth.Tx, audit.Store and the settings, their
// error contracts, paging, filters, batches and transactions — against a
// real database. The engine packages call Run from their own tests.
//
// Only tests import it.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/store"
)

// Run runs the suite against an engine: every subtest gets a fresh,
// migrated store from open, and sees it only as store.Store.
func Run[S store.Store](t *testing.T, open func(t testing.TB) S) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Realms", testRealms},
		{"DeleteRealmInUse", testDeleteRealmInUse},
		{"Identities", testIdentities},
		{"UsernameUnique", testUsernameUnique},
		{"IdentityBatch", testIdentityBatch},
		{"IdentityCount", testIdentityCount},
		{"DeleteIdentities", testDeleteIdentities},
		{"MissingIdentities", testMissingIdentities},
		{"EmptyIDLists", testEmptyIDLists},
		{"IdentityFilters", testIdentityFilters},
		{"PrefixSearch", testPrefixSearch},
		{"FilterLiterals", testFilterLiterals},
		{"Groups", testGroups},
		{"Memberships", testMemberships},
		{"MembershipBatch", testMembershipBatch},
		{"AddMemberships", testAddMemberships},
		{"Paging", testPaging},
		{"DeepSkip", testDeepSkip},
		{"Events", testEvents},
		{"ResourceServers", testResourceServers},
		{"Applications", testApplications},
		{"Roles", testRoles},
		{"RolesOfMembers", testRolesOfMembers},
		{"Tokens", testTokens},
		{"ConcurrentTokens", testConcurrentTokens},
		{"ConcurrentIdentityCreates", testConcurrentIdentityCreates},
		{"FinishAuthRequest", testFinishAuthRequest},
		{"RedeemCodes", testRedeemCodes},
		{"GrantFamilies", testGrantFamilies},
		{"FamilyRevokedDuringRefresh", testFamilyRevokedDuringRefresh},
		{"DeleteExpiredTokens", testDeleteExpiredTokens},
		{"SigningKeys", testSigningKeys},
		{"Settings", testSettings},
		{"UpdateCommits", testUpdateCommits},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"Timestamps", testTimestamps},
		{"RichFilters", testRichFilters},
		{"GroupFilters", testGroupFilters},
		{"Sorting", testSorting},
		{"Themes", testThemes},
		{"MailOutbox", testMailOutbox},
		{"MailClaimRace", testMailClaimRace},
		{"ConfigLookups", testConfigLookups},
		{"BindingJobs", testBindingJobs},
		{"Credentials", testCredentials},
		{"BatchLeases", testBatchLeases},
		{"BatchQueueCount", testBatchQueueCount},
		{"ConfigInUseByBatch", testConfigInUseByBatch},
		{"Policies", testPolicies},
		{"IdentitiesByUsername", testIdentitiesByUsername},
		{"ImportJobs", testImportJobs},
		{"SkipTotal", testSkipTotal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// now stamps the fixtures. It is UTC and whole microseconds, as the store
// keeps times, so that rows read back compare equal to what was written;
// testTimestamps checks times that are neither.
var now = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Assertions.

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// sameIDs compares lists of ids, nil and empty alike.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func wantTotal(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: total %d, want %d", what, got, want)
	}
}

// Fixtures.

func newTenant() directory.Tenant {
	id := latchkey.NewTenantID()
	return directory.Tenant{ID: id, DisplayName: "Tenant " + id, CreateTime: now, UpdateTime: now}
}

func addTenant(t *testing.T, s store.Store) directory.Tenant {
	t.Helper()
	v := newTenant()
	must(t, s.CreateTenant(t.Context(), v))
	return v
}

func newRealmIn(tenantID, name string) directory.Realm {
	return directory.Realm{ID: latchkey.NewID(), TenantID: tenantID, DisplayName: name,
		Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
}

func addRealm(t *testing.T, s store.Store, tenantID, name string) directory.Realm {
	t.Helper()
	v := newRealmIn(tenantID, name)
	must(t, s.CreateRealm(t.Context(), v))
	return v
}

// newRealm adds a tenant with one realm in it.
func newRealm(t *testing.T, s store.Store) directory.Realm {
	t.Helper()
	return addRealm(t, s, addTenant(t, s).ID, "Realm")
}

func newIdentity(r directory.Realm, username string) directory.Identity {
	return directory.Identity{ID: latchkey.NewID(), RealmID: r.ID, TenantID: r.TenantID,
		DisplayName: "User " + username, Status: directory.StatusActive,
		Traits:           directory.Traits{Type: directory.TraitsV0, Username: username},
		EnrollmentStatus: directory.Unenrolled, CreateTime: now, UpdateTime: now}
}

func addIdentity(t *testing.T, s store.Store, r directory.Realm, username string) directory.Identity {
	t.Helper()
	v := newIdentity(r, username)
	must(t, s.CreateIdentities(t.Context(), []directory.Identity{v}))
	return v
}

// addIdentities adds n identities named prefix0, prefix1, … and returns
// their ids in list order.
func addIdentities(t *testing.T, s store.Store, r directory.Realm, prefix string, n int) []string {
	t.Helper()
	vs := make([]directory.Identity, n)
	for i := range vs {
		vs[i] = newIdentity(r, fmt.Sprintf("%s%d", prefix, i))
	}
	must(t, s.CreateIdentities(t.Context(), vs))
	return slices.Sorted(slices.Values(ids(vs, identityID)))
}

func newGroup(r directory.Realm, name string) directory.Group {
	return directory.Group{ID: latchkey.NewID(), RealmID: r.ID, TenantID: r.TenantID, DisplayName: name,
		Description: "The " + name, CreateTime: now, UpdateTime: now}
}

func addGroup(t *testing.T, s store.Store, r directory.Realm, name string) directory.Group {
	t.Helper()
	v := newGroup(r, name)
	must(t, s.CreateGroup(t.Context(), v))
	return v
}

func newResourceServer(r directory.Realm, identifier string) oauth.ResourceServer {
	return oauth.ResourceServer{ID: latchkey.NewUUID(), RealmID: r.ID, TenantID: r.TenantID,
		DisplayName: "API " + identifier, IsManaged: true, Identifier: identifier,
		Scopes: []string{"things:read", "things:write"}, CreateTime: now, UpdateTime: now}
}

func newApplication(r directory.Realm, clientID string) oauth.Application {
	return oauth.Application{ID: latchkey.NewUUID(), RealmID: r.ID, TenantID: r.TenantID,
		DisplayName: "App " + clientID, Classification: "management",
		ProtocolConfig: oauth.ProtocolConfig{
			Type: "oauth2", AllowedScopes: []string{"things:read"}, ClientID: clientID,
			Confidentiality: "confidential", TokenEndpointAuthMethod: "client_secret_basic",
			GrantType: []string{"client_credentials"}, RedirectURIs: []string{"https://app.example/cb"},
			TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600, TokenSigningAlgorithm: "RS256", SubjectField: "id"},
			PKCE:               "disabled", TokenFormat: "self_contained",
		},
		CreateTime: now, UpdateTime: now}
}

func addApplication(t *testing.T, s store.Store, r directory.Realm) oauth.Application {
	t.Helper()
	v := newApplication(r, latchkey.RandomString(20))
	must(t, s.CreateApplication(t.Context(), v, "sealed-secret"))
	return v
}

func newToken(app oauth.Application, principalType, principalID string, expires int64) oauth.Token {
	return oauth.Token{ID: latchkey.RandomString(22), TenantID: app.TenantID, RealmID: app.RealmID,
		ApplicationID: app.ID, PrincipalType: principalType, PrincipalID: principalID,
		DisplayName: "token", Scopes: []string{"things:read", "things:write"}, TokenSuffix: "abcd",
		TokenFormat: "self_contained", TokenType: "access", IssuedAt: now.Unix(), Expires: expires}
}

// newEvent returns the i-th event of a realm ("" for the tenant): ids and
// times grow with i, as audit.New makes them.
func newEvent(tenantID, realmID string, i int, action string) audit.Event {
	at := now.Add(time.Duration(i) * time.Microsecond)
	return audit.Event{ID: fmt.Sprintf("%013x%011x", at.UnixMicro(), i), TenantID: tenantID, RealmID: realmID,
		ActorType: "application", ActorID: "actor-1", Action: action, ResourceType: "Identity",
		ResourceID: fmt.Sprintf("resource-%d", i), RequestID: fmt.Sprintf("request-%d", i), ClientIP: fmt.Sprintf("192.0.2.%d", i), CreateTime: at}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return out
}

func identityID(v directory.Identity) string { return v.ID }
func groupID(v directory.Group) string       { return v.ID }
func realmID(v directory.Realm) string       { return v.ID }
func tokenID(v oauth.Token) string           { return v.ID }
func eventID(v audit.Event) string           { return v.ID }
func username(v directory.Identity) string   { return v.Traits.Username }

// parse parses a filter as a list endpoint does.
func parse(t *testing.T, raw string, attributes []string) filter.Expr {
	t.Helper()
	e, err := latchkey.ParseFilter(raw, attributes)
	must(t, err)
	return e
}

func all(f filter.Expr) latchkey.ListOptions { return latchkey.ListOptions{Filter: f, Limit: 10000} }

// Directory.

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

func sortedBy[T any](items []T, id func(T) string) []T {
	return slices.SortedFunc(slices.Values(items), func(a, b T) int { return strings.Compare(id(a), id(b)) })
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

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	var inRealm []audit.Event
	for i := range 6 {
		action := "identity.create"
		if i%3 == 2 {
			action = "identity.delete"
		}
		inRealm = append(inRealm, newEvent(r.TenantID, r.ID, i, action))
	}
	noise := []audit.Event{
		newEvent(r.TenantID, other.ID, 10, "identity.create"),
		newEvent(r.TenantID, "", 11, "realm.create"),
		newEvent(latchkey.NewTenantID(), r.ID, 12, "identity.create"),
	}
	// Recorded out of order: the list orders them.
	for _, e := range append(noise, inRealm[3], inRealm[0], inRealm[5], inRealm[1], inRealm[4], inRealm[2]) {
		must(t, s.RecordEvent(ctx, e))
	}
	wantErr(t, "record a taken id", s.RecordEvent(ctx, inRealm[0]), latchkey.ErrDuplicate)

	events := s.Audit()
	list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	newestFirst := slices.Clone(inRealm)
	slices.Reverse(newestFirst)
	equal(t, "events, newest first", list, newestFirst)
	wantTotal(t, "events", total, 6)

	checkPaging(t, func(o latchkey.ListOptions) ([]string, int, error) {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, o)
		return ids(list, eventID), total, err
	}, ids(newestFirst, eventID))

	// No realm: every event of the tenant, whatever its realm.
	list, total, err = events.ListEvents(ctx, r.TenantID, "", all(nil))
	must(t, err)
	tenantWide := slices.Sorted(slices.Values(append(ids(inRealm, eventID), noise[0].ID, noise[1].ID)))
	slices.Reverse(tenantWide)
	sameIDs(t, "tenant events, newest first", ids(list, eventID), tenantWide)
	wantTotal(t, "tenant events", total, len(tenantWide))
	for raw, want := range map[string][]audit.Event{
		`action eq "identity.delete"`:                              {inRealm[5], inRealm[2]},
		`resource_id eq "resource-1" or request_id eq "request-4"`: {inRealm[4], inRealm[1]},
		`actor_id eq "actor-1" and not (action sw "identity.c")`:   {inRealm[5], inRealm[2]},
		`resource_type eq "Realm"`:                                 nil,
		`client_ip eq "192.0.2.3"`:                                 {inRealm[3]},
	} {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(parse(t, raw, audit.FilterAttributes)))
		must(t, err)
		sameIDs(t, raw, ids(list, eventID), ids(want, eventID))
		wantTotal(t, raw, total, len(want))
	}
}

// OAuth.

func testResourceServers(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	rs := newResourceServer(r, "https://api.example")
	must(t, s.CreateResourceServer(ctx, rs))
	got, err := s.GetResourceServer(ctx, r.ID, rs.ID)
	must(t, err)
	equal(t, "created resource server", got, rs)

	_, err = s.GetResourceServer(ctx, other.ID, rs.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	_, err = s.GetResourceServer(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken identifier", s.CreateResourceServer(ctx, newResourceServer(r, rs.Identifier)), latchkey.ErrDuplicate)
	must(t, s.CreateResourceServer(ctx, newResourceServer(other, rs.Identifier))) // another realm: fine
	wantErr(t, "create in a missing realm",
		s.CreateResourceServer(ctx, newResourceServer(directory.Realm{ID: "missing"}, "https://x.example")), latchkey.ErrNoParent)
}

func testApplications(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	rs := newResourceServer(r, "https://api.example")
	must(t, s.CreateResourceServer(ctx, rs))

	confidential := newApplication(r, "client-1")
	confidential.ResourceServerID, confidential.IsManaged = rs.ID, true
	confidential.ProtocolConfig.ClientSecret = "plain secret" // never stored
	must(t, s.CreateApplication(ctx, confidential, "sealed-secret"))
	got, sealed, err := s.GetApplication(ctx, r.ID, confidential.ID)
	must(t, err)
	want := confidential
	want.ProtocolConfig.ClientSecret = ""
	equal(t, "confidential application", got, want)
	equal(t, "sealed secret", sealed, "sealed-secret")

	public := newApplication(r, "client-2")
	public.ProtocolConfig.Confidentiality, public.ProtocolConfig.RedirectURIs = "public", nil
	must(t, s.CreateApplication(ctx, public, ""))
	got, sealed, err = s.GetApplication(ctx, r.ID, public.ID)
	must(t, err)
	equal(t, "public application", got, public)
	equal(t, "no secret", sealed, "")

	_, _, err = s.GetApplication(ctx, other.ID, public.ID)
	wantErr(t, "get from another realm", err, latchkey.ErrNotFound)
	_, _, err = s.GetApplication(ctx, r.ID, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken client id", s.CreateApplication(ctx, newApplication(r, "client-1"), ""), latchkey.ErrDuplicate)
	wantErr(t, "create a taken client id in another realm", s.CreateApplication(ctx, newApplication(other, "client-1"), ""), latchkey.ErrDuplicate)
	wantErr(t, "create in a missing realm", s.CreateApplication(ctx, newApplication(directory.Realm{ID: "missing"}, "client-3"), ""), latchkey.ErrNoParent)
	orphan := newApplication(r, "client-4")
	orphan.ResourceServerID = "missing"
	wantErr(t, "create for a missing resource server", s.CreateApplication(ctx, orphan, ""), latchkey.ErrNoParent)
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

func tokenGrant(v oauth.Token) oauth.Grant { return oauth.Grant{Tokens: []oauth.Token{v}} }

// testFinishAuthRequest: a sign-in is finished once, and only by what names
// it (its tenant, realm, application and challenge) before it expires.
func testFinishAuthRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
		Challenge: "challenge", CreateTime: now, ExpireTime: now.Add(time.Minute)}
	must(t, s.CreateAuthRequest(ctx, ar))
	_, _, err := s.GetSignInByCode(ctx, "")
	wantErr(t, "a pending sign-in by its empty code", err, latchkey.ErrNotFound)
	alice := addIdentity(t, s, r, "alice")
	key := newCredential(alice, "alice-key")
	must(t, s.CreateCredential(ctx, key))
	fin := ar
	fin.IdentityID, fin.CredentialID, fin.AuthTime, fin.CodeHash, fin.ExpireTime = alice.ID, key.ID, now, "hash", now.Add(2*time.Minute)
	for what, change := range map[string]func(*oauth.AuthRequest){
		"another challenge":   func(a *oauth.AuthRequest) { a.Challenge = "other" },
		"another application": func(a *oauth.AuthRequest) { a.ApplicationID = "other" },
		"another realm":       func(a *oauth.AuthRequest) { a.RealmID = "other" },
		"another tenant":      func(a *oauth.AuthRequest) { a.TenantID = "other" },
		"another sign-in":     func(a *oauth.AuthRequest) { a.ID = "other" },
	} {
		wrong := fin
		change(&wrong)
		wantErr(t, "finish with "+what, s.FinishAuthRequest(ctx, wrong, now), latchkey.ErrNotFound)
	}
	wantErr(t, "finish after it expired", s.FinishAuthRequest(ctx, fin, ar.ExpireTime.Add(time.Microsecond)), latchkey.ErrNotFound)
	must(t, s.FinishAuthRequest(ctx, fin, ar.ExpireTime))
	got, err := s.GetAuthRequest(ctx, ar.ID)
	must(t, err)
	if got.IdentityID != alice.ID || got.CodeHash != "hash" || !got.ExpireTime.Equal(fin.ExpireTime) {
		t.Errorf("finished sign-in: %+v", got)
	}
	wantErr(t, "finish again", s.FinishAuthRequest(ctx, fin, now), latchkey.ErrNotFound)

	byCode, signer, err := s.GetSignInByCode(ctx, "hash")
	must(t, err)
	equal(t, "sign-in by its code", byCode, got)
	wantAlice, err := s.GetIdentity(ctx, r.ID, alice.ID)
	must(t, err)
	equal(t, "identity of the sign-in by its code", signer, wantAlice)
	_, _, err = s.GetSignInByCode(ctx, "other")
	wantErr(t, "another code", err, latchkey.ErrNotFound)
	revoked := key
	revoked.State = passkey.RevokedState
	must(t, s.UpdateCredential(ctx, revoked))
	_, _, err = s.GetSignInByCode(ctx, "hash")
	wantErr(t, "the code of a revoked passkey", err, latchkey.ErrNotFound)
	must(t, s.UpdateCredential(ctx, key))
	_, err = s.DeleteIdentities(ctx, r.ID, []string{alice.ID})
	must(t, err)
	_, _, err = s.GetSignInByCode(ctx, "hash")
	wantErr(t, "the code of a deleted identity", err, latchkey.ErrNotFound)
}

// testRedeemCodes: concurrent grants that redeem codes (and that the store
// may save together) each spend their code once, all or nothing: of
// redemptions of one code exactly one stores its records and starts its
// family, the others store nothing, and a grant that cannot be stored
// leaves its code unspent and fails alone.
func testRedeemCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	exp := now.Add(time.Hour)
	signIn := func() string {
		ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Challenge: "c", CreateTime: now, ExpireTime: exp}
		must(t, s.CreateAuthRequest(ctx, ar))
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = "alice", "cred", now, latchkey.RandomString(64)
		must(t, s.FinishAuthRequest(ctx, ar, now))
		return ar.ID
	}
	grant := func(redeems string, a oauth.Application) oauth.Grant {
		return familyGrant(a, redeems, "alice", "cred", exp)
	}
	saveAll := func(grants []oauth.Grant) []error {
		errs := make([]error, len(grants))
		var wg sync.WaitGroup
		for i, g := range grants {
			wg.Go(func() { errs[i] = s.SaveGrant(ctx, g) })
		}
		wg.Wait()
		return errs
	}
	stored := func(g oauth.Grant) bool {
		_, err := s.GetToken(ctx, g.Tokens[0].ID)
		if g.Refresh != nil {
			if _, rerr := s.GetRefreshToken(ctx, g.Refresh.Hash); (rerr == nil) != (err == nil) {
				t.Errorf("grant of %s: token stored %v, refresh token stored %v", g.Redeems, err == nil, rerr == nil)
			}
		}
		return err == nil
	}

	contested, others := signIn(), []string{signIn(), signIn(), signIn(), signIn()}
	var grants []oauth.Grant
	for range 8 {
		grants = append(grants, grant(contested, app))
	}
	for _, id := range others {
		grants = append(grants, grant(id, app))
	}
	grants = append(grants, tokenGrant(newToken(app, "application", app.ID, exp.Unix())))
	winners := 0
	for i, err := range saveAll(grants) {
		g := grants[i]
		switch {
		case g.Redeems == contested && err == nil:
			winners++
			ar, err := s.GetAuthRequest(ctx, contested)
			must(t, err)
			if !ar.CodeUsed || !stored(g) {
				t.Errorf("winning redemption: code used %v, stored %v", ar.CodeUsed, stored(g))
			}
		case g.Redeems == contested:
			wantErr(t, "a redemption of a spent code", err, latchkey.ErrNotFound)
			if stored(g) {
				t.Errorf("a refused redemption stored its records")
			}
		default:
			must(t, err)
			if !stored(g) {
				t.Errorf("grant %d is not stored", i)
			}
		}
	}
	if winners != 1 {
		t.Errorf("%d redemptions of one code succeeded, want 1", winners)
	}

	broken := grant(signIn(), oauth.Application{ID: "missing"})
	fine := []oauth.Grant{grant(signIn(), app), grant(signIn(), app), broken, grant(signIn(), app)}
	for i, err := range saveAll(fine) {
		if fine[i].Redeems != broken.Redeems {
			must(t, err)
			continue
		}
		wantErr(t, "a grant for a missing application", err, latchkey.ErrNoParent)
		if ar, err := s.GetAuthRequest(ctx, broken.Redeems); err != nil || ar.CodeUsed || stored(broken) {
			t.Errorf("a failed grant spent its code (%v, %v) or stored records", ar.CodeUsed, err)
		}
	}
	wantErr(t, "redeem a spent code again", s.SaveGrant(ctx, grant(others[0], app)), latchkey.ErrNotFound)
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SaveGrant(ctx, grant(others[1], app)) })
	wantErr(t, "redeem a spent code in a transaction", err, latchkey.ErrNotFound)
}

// testConcurrentTokens: records that concurrent requests create (and that
// the store may insert together) are all stored, and a bad one fails alone.
func testConcurrentTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := addApplication(t, s, newRealm(t, s))
	exp := now.Add(time.Hour).Unix()
	var tokens []oauth.Token
	for range 300 {
		tokens = append(tokens, newToken(app, "application", app.ID, exp))
	}
	bad := map[int]error{7: latchkey.ErrNoParent, 150: latchkey.ErrDuplicate}
	tokens[7].ApplicationID = "missing"
	tokens[150].ID = tokens[149].ID
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	for i, v := range tokens {
		wg.Go(func() { errs[i] = s.SaveGrant(ctx, tokenGrant(v)) })
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		if i == 149 || i == 150 { // one of the two with the same id wins
			if err == nil {
				stored++
			} else {
				wantErr(t, "create a taken id", err, latchkey.ErrDuplicate)
			}
			continue
		}
		if want := bad[i]; want != nil {
			wantErr(t, fmt.Sprintf("create token %d", i), err, want)
			continue
		}
		must(t, err)
		got, err := s.GetToken(ctx, tokens[i].ID)
		must(t, err)
		equal(t, "stored token", got, tokens[i])
		stored++
	}
	if _, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil)); err != nil || total != stored || stored != len(tokens)-2 {
		t.Errorf("%d tokens listed (err %v), %d created, want %d", total, err, stored, len(tokens)-2)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app, otherApp := addApplication(t, s, r), addApplication(t, s, r)
	exp := now.Add(time.Hour).Unix()
	var mine []oauth.Token
	for i := range 6 {
		principalType, principalID := "identity", "alice"
		switch i {
		case 1:
			principalID = "bob"
		case 4, 5:
			principalType, principalID = "application", app.ID
		}
		mine = append(mine, newToken(app, principalType, principalID, exp))
	}
	// A referential token's record keeps its claims.
	mine[2].TokenFormat, mine[2].Claims = "referential", `{"sub":"alice","scope":"pets:read"}`
	for _, v := range mine {
		must(t, s.SaveGrant(ctx, tokenGrant(v)))
	}
	got, err := s.GetToken(ctx, mine[2].ID)
	must(t, err)
	equal(t, "created referential token", got, mine[2])
	theirs := newToken(otherApp, "identity", "alice", exp)
	must(t, s.SaveGrant(ctx, tokenGrant(theirs)))

	got, err = s.GetToken(ctx, mine[0].ID)
	must(t, err)
	equal(t, "created token", got, mine[0])
	_, err = s.GetToken(ctx, "missing")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	wantErr(t, "create a taken id", s.SaveGrant(ctx, tokenGrant(mine[0])), latchkey.ErrDuplicate)
	wantErr(t, "create for a missing application", s.SaveGrant(ctx, tokenGrant(newToken(oauth.Application{ID: "missing"}, "identity", "x", exp))), latchkey.ErrNoParent)

	list, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil))
	must(t, err)
	equal(t, "tokens of the application", list, sortedBy(mine, tokenID))
	wantTotal(t, "tokens of the application", total, 6)
	checkPaging(t, func(o latchkey.ListOptions) ([]string, int, error) {
		list, total, err := s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, o)
		return ids(list, tokenID), total, err
	}, ids(sortedBy(mine, tokenID), tokenID))

	filters := []struct {
		f    oauth.TokenFilter
		want []oauth.Token
	}{
		{oauth.TokenFilter{PrincipalType: "identity"}, mine[:4]},
		{oauth.TokenFilter{PrincipalType: "identity", PrincipalID: "alice"}, []oauth.Token{mine[0], mine[2], mine[3]}},
		{oauth.TokenFilter{PrincipalID: "bob"}, mine[1:2]},
		{oauth.TokenFilter{PrincipalType: "application", PrincipalID: app.ID}, mine[4:]},
		{oauth.TokenFilter{PrincipalType: "application", PrincipalID: "alice"}, nil},
	}
	for _, c := range filters {
		what := fmt.Sprintf("tokens of %+v", c.f)
		list, total, err := s.ListTokens(ctx, app.ID, c.f, all(nil))
		must(t, err)
		sameIDs(t, what, ids(list, tokenID), ids(sortedBy(c.want, tokenID), tokenID))
		wantTotal(t, what, total, len(c.want))
	}

	wantErr(t, "delete through another application", s.DeleteToken(ctx, otherApp.ID, mine[0].ID), latchkey.ErrNotFound)
	must(t, s.DeleteToken(ctx, app.ID, mine[0].ID))
	_, err = s.GetToken(ctx, mine[0].ID)
	wantErr(t, "get deleted", err, latchkey.ErrNotFound)
	wantErr(t, "delete again", s.DeleteToken(ctx, app.ID, mine[0].ID), latchkey.ErrNotFound)
	_, total, err = s.ListTokens(ctx, app.ID, oauth.TokenFilter{}, all(nil))
	must(t, err)
	wantTotal(t, "tokens after a delete", total, 5)
	_, err = s.GetToken(ctx, theirs.ID)
	must(t, err)
}

func testDeleteExpiredTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app, otherApp := addApplication(t, s, r), addApplication(t, s, r)
	cutoff := now.Truncate(time.Second)
	long := newToken(app, "identity", "a", cutoff.Add(-time.Hour).Unix())
	just := newToken(otherApp, "identity", "a", cutoff.Add(-time.Second).Unix())
	atCutoff := newToken(app, "identity", "a", cutoff.Unix())
	later := newToken(otherApp, "identity", "a", cutoff.Add(time.Hour).Unix())
	for _, v := range []oauth.Token{long, just, atCutoff, later} {
		must(t, s.SaveGrant(ctx, tokenGrant(v)))
	}
	n, err := s.DeleteExpiredTokens(ctx, cutoff)
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	for _, v := range []oauth.Token{long, just} {
		_, err := s.GetToken(ctx, v.ID)
		wantErr(t, "get expired", err, latchkey.ErrNotFound)
	}
	for _, v := range []oauth.Token{atCutoff, later} {
		if _, err := s.GetToken(ctx, v.ID); err != nil {
			t.Errorf("token expiring at the cutoff or later: %v", err)
		}
	}
	n, err = s.DeleteExpiredTokens(ctx, cutoff)
	must(t, err)
	if n != 0 {
		t.Errorf("deleted %d again, want 0", n)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 0 {
		t.Errorf("a new store has %d signing keys", len(keys))
	}
	key := func(id string, age time.Duration) oauth.SigningKey {
		return oauth.SigningKey{ID: id, Algorithm: "RS256", PrivateKeySealed: "sealed-" + id, CreateTime: now.Add(-age)}
	}
	oldest, middle, newest := key("k-c", 2*time.Hour), key("k-a", time.Hour), key("k-b", 0)
	for _, k := range []oauth.SigningKey{middle, newest, oldest} {
		must(t, s.CreateSigningKey(ctx, k))
	}
	wantErr(t, "create a taken id", s.CreateSigningKey(ctx, key("k-a", 0)), latchkey.ErrDuplicate)
	keys, err = s.ListSigningKeys(ctx)
	must(t, err)
	keyID := func(k oauth.SigningKey) string { return k.ID }
	equal(t, "keys", sortedBy(keys, keyID), sortedBy([]oauth.SigningKey{oldest, middle, newest}, keyID))
}

// Settings and transactions.

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "greeting")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	must(t, s.CreateSetting(ctx, "greeting", "hello"))
	must(t, s.CreateSetting(ctx, "other", "x"))
	wantErr(t, "create a taken name", s.CreateSetting(ctx, "greeting", "changed"), latchkey.ErrDuplicate)
	got, err := s.GetSetting(ctx, "greeting")
	must(t, err)
	equal(t, "setting", got, "hello")
}

// writeAll writes one row of every kind in tx and returns how to read each back.
func writeAll(t *testing.T, tx store.Tx) (checks map[string]func(store.Tx) error, err error) {
	ctx := t.Context()
	tenant := newTenant()
	r := newRealmIn(tenant.ID, "Realm")
	alice := newIdentity(r, "alice")
	g := newGroup(r, "Admins")
	app := newApplication(r, "client-"+latchkey.NewID())
	token := newToken(app, "identity", alice.ID, now.Add(time.Hour).Unix())
	event := newEvent(tenant.ID, r.ID, 1, "identity.create")
	setting := "setting-" + latchkey.NewID()
	key := oauth.SigningKey{ID: latchkey.NewID(), Algorithm: "RS256", PrivateKeySealed: "sealed", CreateTime: now}
	err = errors.Join(
		tx.CreateTenant(ctx, tenant), tx.CreateRealm(ctx, r), tx.CreateIdentities(ctx, []directory.Identity{alice}),
		tx.CreateGroup(ctx, g), tx.AddMembers(ctx, g.ID, []string{alice.ID}), tx.CreateApplication(ctx, app, ""),
		tx.SaveGrant(ctx, tokenGrant(token)), tx.RecordEvent(ctx, event), tx.CreateSetting(ctx, setting, "v"),
		tx.CreateSigningKey(ctx, key),
	)
	one := func(n int, err error) error {
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows: %w", n, latchkey.ErrNotFound)
		}
		return err
	}
	checks = map[string]func(store.Tx) error{
		"tenant":   func(tx store.Tx) error { _, err := tx.GetTenant(ctx, tenant.ID); return err },
		"realm":    func(tx store.Tx) error { _, err := tx.GetRealm(ctx, tenant.ID, r.ID); return err },
		"identity": func(tx store.Tx) error { _, err := tx.GetIdentity(ctx, r.ID, alice.ID); return err },
		"identity count": func(tx store.Tx) error {
			_, n, err := tx.ListIdentities(ctx, r.ID, latchkey.ListOptions{Limit: 1})
			return one(n, err)
		},
		"group": func(tx store.Tx) error { _, err := tx.GetGroup(ctx, r.ID, g.ID); return err },
		"membership": func(tx store.Tx) error {
			_, n, err := tx.ListMembers(ctx, g.ID, latchkey.ListOptions{Limit: 1})
			return one(n, err)
		},
		"application": func(tx store.Tx) error { _, _, err := tx.GetApplication(ctx, r.ID, app.ID); return err },
		"token":       func(tx store.Tx) error { _, err := tx.GetToken(ctx, token.ID); return err },
		"setting":     func(tx store.Tx) error { _, err := tx.GetSetting(ctx, setting); return err },
		"signing key": func(tx store.Tx) error {
			keys, err := tx.ListSigningKeys(ctx)
			return one(len(keys), err)
		},
	}
	return checks, err
}

func testUpdateCommits(t *testing.T, s store.Store) {
	var checks map[string]func(store.Tx) error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		var err error
		if checks, err = writeAll(t, tx); err != nil {
			return err
		}
		for _, what := range slices.Sorted(maps.Keys(checks)) {
			if err := checks[what](tx); err != nil {
				return fmt.Errorf("%s inside the transaction: %w", what, err)
			}
		}
		return nil
	})
	must(t, err)
	for _, what := range slices.Sorted(maps.Keys(checks)) {
		if err := checks[what](s); err != nil {
			t.Errorf("%s after commit: %v", what, err)
		}
	}
}

func testUpdateRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	var checks map[string]func(store.Tx) error
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		if checks, err = writeAll(t, tx); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Update", err, boom)
	for _, what := range slices.Sorted(maps.Keys(checks)) {
		wantErr(t, what+" after rollback", checks[what](s), latchkey.ErrNotFound)
	}

	// A failed statement rolls back the statements before it.
	r := newRealm(t, s)
	addIdentity(t, s, r, "alice")
	bob, g := newIdentity(r, "bob"), newGroup(r, "Admins")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentities(ctx, []directory.Identity{bob}); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		return tx.CreateIdentities(ctx, []directory.Identity{newIdentity(r, "ALICE")})
	})
	wantErr(t, "Update with a taken username", err, latchkey.ErrDuplicate)
	_, err = s.GetIdentity(ctx, r.ID, bob.ID)
	wantErr(t, "identity before the failure", err, latchkey.ErrNotFound)
	_, err = s.GetGroup(ctx, r.ID, g.ID)
	wantErr(t, "group before the failure", err, latchkey.ErrNotFound)

	// The directory's and oauth's views of Update behave alike.
	carol := newIdentity(r, "carol")
	err = s.Directory().Update(ctx, func(tx directory.Tx) error {
		return errors.Join(tx.CreateIdentities(ctx, []directory.Identity{carol}), boom)
	})
	wantErr(t, "directory Update", err, boom)
	_, err = s.GetIdentity(ctx, r.ID, carol.ID)
	wantErr(t, "directory write after rollback", err, latchkey.ErrNotFound)
	must(t, s.Directory().Update(ctx, func(tx directory.Tx) error {
		return tx.CreateIdentities(ctx, []directory.Identity{carol})
	}))
	_, err = s.GetIdentity(ctx, r.ID, carol.ID)
	must(t, err)

	app := newApplication(r, "client-1")
	err = s.OAuth().Update(ctx, func(tx oauth.Tx) error { return errors.Join(tx.CreateApplication(ctx, app, ""), boom) })
	wantErr(t, "oauth Update", err, boom)
	_, _, err = s.GetApplication(ctx, r.ID, app.ID)
	wantErr(t, "oauth write after rollback", err, latchkey.ErrNotFound)
	must(t, s.OAuth().Update(ctx, func(tx oauth.Tx) error { return tx.CreateApplication(ctx, app, "") }))
	_, _, err = s.GetApplication(ctx, r.ID, app.ID)
	must(t, err)
}

// testTimestamps checks that times come back in UTC, truncated to the
// microsecond, whatever zone and precision they were written in.
func testTimestamps(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800))
	updated := time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.FixedZone("EDT", -4*3600))
	check := func(what string, got, sent time.Time) {
		t.Helper()
		want := sent.Truncate(time.Microsecond)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: got %v, want %v", what, got, want.UTC())
		}
	}

	tenant := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: created, UpdateTime: created}
	must(t, s.CreateTenant(ctx, tenant))
	tenant.UpdateTime = updated
	must(t, s.UpdateTenant(ctx, tenant))
	gotTenant, err := s.GetTenant(ctx, tenant.ID)
	must(t, err)
	check("tenant create_time", gotTenant.CreateTime, created)
	check("tenant update_time", gotTenant.UpdateTime, updated)

	r := newRealmIn(tenant.ID, "R")
	r.CreateTime, r.UpdateTime = created, created
	must(t, s.CreateRealm(ctx, r))
	r.UpdateTime = updated
	must(t, s.UpdateRealm(ctx, r))
	gotRealm, err := s.GetRealm(ctx, tenant.ID, r.ID)
	must(t, err)
	check("realm create_time", gotRealm.CreateTime, created)
	check("realm update_time", gotRealm.UpdateTime, updated)

	i := newIdentity(r, "alice")
	i.CreateTime, i.UpdateTime = created, created
	must(t, s.CreateIdentities(ctx, []directory.Identity{i}))
	i.UpdateTime = updated
	must(t, s.UpdateIdentity(ctx, i))
	gotIdentity, err := s.GetIdentity(ctx, r.ID, i.ID)
	must(t, err)
	check("identity create_time", gotIdentity.CreateTime, created)
	check("identity update_time", gotIdentity.UpdateTime, updated)

	g := newGroup(r, "G")
	g.CreateTime, g.UpdateTime = created, created
	must(t, s.CreateGroup(ctx, g))
	g.UpdateTime = updated
	must(t, s.UpdateGroup(ctx, g))
	gotGroup, err := s.GetGroup(ctx, r.ID, g.ID)
	must(t, err)
	check("group create_time", gotGroup.CreateTime, created)
	check("group update_time", gotGroup.UpdateTime, updated)

	rs := newResourceServer(r, "https://api.example")
	rs.CreateTime, rs.UpdateTime = created, updated
	must(t, s.CreateResourceServer(ctx, rs))
	gotRS, err := s.GetResourceServer(ctx, r.ID, rs.ID)
	must(t, err)
	check("resource server create_time", gotRS.CreateTime, created)
	check("resource server update_time", gotRS.UpdateTime, updated)

	app := newApplication(r, "client-1")
	app.CreateTime, app.UpdateTime = created, updated
	must(t, s.CreateApplication(ctx, app, ""))
	gotApp, _, err := s.GetApplication(ctx, r.ID, app.ID)
	must(t, err)
	check("application create_time", gotApp.CreateTime, created)
	check("application update_time", gotApp.UpdateTime, updated)

	must(t, s.CreateSigningKey(ctx, oauth.SigningKey{ID: "k", Algorithm: "RS256", PrivateKeySealed: "x", CreateTime: created}))
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("%d signing keys, want 1", len(keys))
	}
	check("signing key create_time", keys[0].CreateTime, created)

	e := newEvent(tenant.ID, r.ID, 1, "identity.create")
	e.CreateTime = created
	must(t, s.RecordEvent(ctx, e))
	events, _, err := s.Audit().ListEvents(ctx, tenant.ID, r.ID, all(nil))
	must(t, err)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	check("event create_time", events[0].CreateTime, created)
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
