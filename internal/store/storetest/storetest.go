// Package storetest owns the storage conformance suite: the one set of
// tests that every storage engine must pass, modelled on Dex's
// storage/conformance. It checks what the domain packages rely on — every
// method of directory.Tx, oauth.Tx, session.Tx, audit.Store and the settings, their
// error contracts, paging, filters, batches and transactions — against a
// real database. The engine packages call Run from their own tests.
//
// Only tests import it.
package storetest

import (
	"errors"
	"fmt"
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
		{"IdentitySearch", testIdentitySearch},
		{"CountMembers", testCountMembers},
		{"FilterLiterals", testFilterLiterals},
		{"Groups", testGroups},
		{"Memberships", testMemberships},
		{"MembershipBatch", testMembershipBatch},
		{"AddMemberships", testAddMemberships},
		{"Paging", testPaging},
		{"DeepSkip", testDeepSkip},
		{"Events", testEvents},
		{"EventDetails", testEventDetails},
		{"EventsTotalUpTo", testEventsTotalUpTo},
		{"PruneEvents", testPruneEvents},
		{"ResourceServers", testResourceServers},
		{"Applications", testApplications},
		{"Roles", testRoles},
		{"RolesOfMembers", testRolesOfMembers},
		{"Tokens", testTokens},
		{"ConcurrentTokens", testConcurrentTokens},
		{"ConcurrentIdentityCreates", testConcurrentIdentityCreates},
		{"FinishAuthRequest", testFinishAuthRequest},
		{"AuthRequestsTogether", testAuthRequestsTogether},
		{"RedeemCodes", testRedeemCodes},
		{"Approve", testApprove},
		{"GrantFamilies", testGrantFamilies},
		{"FamilyRevokedDuringRefresh", testFamilyRevokedDuringRefresh},
		{"RedemptionOfRevokedSigner", testRedemptionOfRevokedSigner},
		{"DeleteExpiredTokens", testDeleteExpiredTokens},
		{"Sessions", testSessions},
		{"EndSessions", testEndSessions},
		{"SessionUsedWhileEnded", testSessionUsedWhileEnded},
		{"SessionSettings", testSessionSettings},
		{"SessionWithIdentity", testSessionWithIdentity},
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
		{"DeliveryOutbox", testDeliveryOutbox},
		{"DeliveryClaimRace", testDeliveryClaimRace},
		{"DeliveryLanes", testDeliveryLanes},
		{"Webhooks", testWebhooks},
		{"SSOConfigs", testSSOConfigs},
		{"SSOAssignments", testSSOAssignments},
		{"IdentityProviders", testIdentityProviders},
		{"FlowTypeConfigs", testFlowTypeConfigs},
		{"SAMLCertificates", testSAMLCertificates},
		{"SAMLRequests", testSAMLRequests},
		{"SAMLRequestsTogether", testSAMLRequestsTogether},
		{"SessionsEndedHook", testSessionsEndedHook},
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
		{"ListTotals", testListTotals},
		{"EmailCodes", testEmailCodes},
		{"UpstreamAuthorizations", testUpstreamAuthorizations},
		{"BindingJobVerification", testBindingJobVerification},
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

// claimedOnce races six claimers (nodes) for one outbox: each calls claim
// with its own owner until it claims nothing. Every one of want must have
// been claimed by exactly one of them.
func claimedOnce(t *testing.T, what string, want []string, claim func(owner string) ([]string, error)) {
	t.Helper()
	var mu sync.Mutex
	var claimed []string
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for {
				got, err := claim("node" + string(rune('a'+c)))
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				claimed = append(claimed, got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(claimed)
	want = slices.Sorted(slices.Values(want))
	sameIDs(t, what, claimed, want)
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
func parse(t *testing.T, raw string, attributes []string, ordered ...string) filter.Expr {
	t.Helper()
	e, err := latchkey.ParseFilter(raw, attributes, ordered...)
	must(t, err)
	return e
}

func all(f filter.Expr) latchkey.ListOptions { return latchkey.ListOptions{Filter: f, Limit: 10000} }

func sortedBy[T any](items []T, id func(T) string) []T {
	return slices.SortedFunc(slices.Values(items), func(a, b T) int { return strings.Compare(id(a), id(b)) })
}
