package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

func addResourceServer(t *testing.T, s store.Store, r directory.Realm, identifier string) oauth.ResourceServer {
	t.Helper()
	v := newResourceServer(r, identifier)
	must(t, s.CreateResourceServer(t.Context(), v))
	return v
}

func addRole(t *testing.T, s store.Store, rs oauth.ResourceServer, name string) oauth.Role {
	t.Helper()
	v := oauth.Role{ID: latchkey.NewID(), ResourceServerID: rs.ID, RealmID: rs.RealmID, TenantID: rs.TenantID,
		DisplayName: name, Description: "The " + name, CreateTime: now, UpdateTime: now}
	must(t, s.CreateRole(t.Context(), v))
	return v
}

func roleID(v oauth.Role) string { return v.ID }

// testRoles: a role is found under its resource server only; deleting it,
// or its resource server, waits until it has no scopes and no members.
func testRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	rs := addResourceServer(t, s, r, "https://api.example")
	other := addResourceServer(t, s, r, "https://other.example")
	role := addRole(t, s, rs, "Readers")
	got, err := s.GetRole(ctx, rs.ID, role.ID)
	must(t, err)
	equal(t, "created role", got, role)
	_, err = s.GetRole(ctx, other.ID, role.ID)
	wantErr(t, "get under another resource server", err, latchkey.ErrNotFound)
	wantErr(t, "create under a missing resource server", s.CreateRole(ctx, oauth.Role{ID: latchkey.NewID(), ResourceServerID: "missing"}),
		latchkey.ErrNoParent)

	role.Description, role.UpdateTime = "Changed", now.Add(time.Second)
	must(t, s.UpdateRole(ctx, role))
	got, _ = s.GetRole(ctx, rs.ID, role.ID)
	equal(t, "updated role", got, role)
	roles, total, err := s.ListRoles(ctx, rs.ID, all(nil))
	must(t, err)
	wantTotal(t, "roles", total, 1)
	sameIDs(t, "roles", ids(roles, roleID), []string{role.ID})

	must(t, s.AddRoleScopes(ctx, role.ID, []string{"things:read", "things:write"}))
	must(t, s.AddRoleScopes(ctx, role.ID, []string{"things:read"})) // again: nothing to do
	scopes, total, err := s.ListRoleScopes(ctx, role.ID, all(nil))
	must(t, err)
	wantTotal(t, "scopes", total, 2)
	sameIDs(t, "scopes", scopes, []string{"things:read", "things:write"})
	wantErr(t, "delete a role with scopes", s.DeleteRole(ctx, rs.ID, role.ID), latchkey.ErrInUse)
	wantErr(t, "delete a resource server with roles", s.DeleteResourceServer(ctx, r.ID, rs.ID), latchkey.ErrInUse)

	// Scopes leave every role of their resource server, and of no other.
	otherRole := addRole(t, s, other, "Other")
	must(t, s.AddRoleScopes(ctx, otherRole.ID, []string{"things:write"}))
	must(t, s.RemoveScopesFromRoles(ctx, rs.ID, []string{"things:write"}))
	scopes, _, _ = s.ListRoleScopes(ctx, role.ID, all(nil))
	sameIDs(t, "scopes after the resource server lost one", scopes, []string{"things:read"})
	scopes, _, _ = s.ListRoleScopes(ctx, otherRole.ID, all(nil))
	sameIDs(t, "another resource server's role", scopes, []string{"things:write"})
	must(t, s.RemoveRoleScopes(ctx, role.ID, []string{"things:read", "never:had"}))

	alice := addIdentity(t, s, r, "alice")
	g := addGroup(t, s, r, "Staff")
	must(t, s.AddRoleMembers(ctx, role.ID, []string{g.ID}, []string{alice.ID}))
	must(t, s.AddRoleMembers(ctx, role.ID, nil, []string{alice.ID}))
	wantErr(t, "add a missing identity", s.AddRoleMembers(ctx, role.ID, nil, []string{"missing"}), latchkey.ErrNoParent)
	groups, total, err := s.ListRoleGroups(ctx, role.ID, all(nil))
	must(t, err)
	wantTotal(t, "groups", total, 1)
	sameIDs(t, "groups", ids(groups, groupID), []string{g.ID})
	identities, total, err := s.ListRoleIdentities(ctx, role.ID, all(nil))
	must(t, err)
	wantTotal(t, "identities", total, 1)
	sameIDs(t, "identities", ids(identities, identityID), []string{alice.ID})
	wantErr(t, "delete a role with members", s.DeleteRole(ctx, rs.ID, role.ID), latchkey.ErrInUse)

	must(t, s.RemoveRoleMembers(ctx, role.ID, []string{g.ID}, []string{alice.ID}))
	must(t, s.DeleteRole(ctx, rs.ID, role.ID))
	wantErr(t, "delete again", s.DeleteRole(ctx, rs.ID, role.ID), latchkey.ErrNotFound)

	missing, err := s.MissingGroups(ctx, r.ID, []string{g.ID, "missing"})
	must(t, err)
	sameIDs(t, "missing groups", missing, []string{"missing"})
}

// testRolesOfMembers: the roles of an identity and of a group, and the
// scopes an identity holds through its own roles and its groups'.
func testRolesOfMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	rs := addResourceServer(t, s, r, "https://api.example")
	other := addResourceServer(t, s, r, "https://other.example")
	readers, writers, elsewhere := addRole(t, s, rs, "Readers"), addRole(t, s, rs, "Writers"), addRole(t, s, other, "Elsewhere")
	must(t, s.AddRoleScopes(ctx, readers.ID, []string{"things:read"}))
	must(t, s.AddRoleScopes(ctx, writers.ID, []string{"things:read", "things:write"}))
	must(t, s.AddRoleScopes(ctx, elsewhere.ID, []string{"things:write"}))

	alice, bob := addIdentity(t, s, r, "alice"), addIdentity(t, s, r, "bob")
	staff := addGroup(t, s, r, "Staff")
	must(t, s.AddMembers(ctx, staff.ID, []string{alice.ID}))
	must(t, s.AddRoleMembers(ctx, readers.ID, nil, []string{alice.ID}))
	must(t, s.AddRoleMembers(ctx, elsewhere.ID, nil, []string{alice.ID}))
	must(t, s.AddRoleMembers(ctx, writers.ID, []string{staff.ID}, nil))

	roles, total, err := s.ListRolesOfIdentity(ctx, alice.ID, rs.ID, all(nil))
	must(t, err)
	wantTotal(t, "alice's roles on the resource server", total, 1)
	sameIDs(t, "alice's roles on the resource server", ids(roles, roleID), []string{readers.ID})
	_, total, _ = s.ListRolesOfIdentity(ctx, alice.ID, "", all(nil))
	wantTotal(t, "alice's roles anywhere", total, 2)
	roles, _, _ = s.ListRolesOfGroup(ctx, staff.ID, "", all(nil))
	sameIDs(t, "staff's roles", ids(roles, roleID), []string{writers.ID})

	scopes, err := s.ScopesOfIdentity(ctx, alice.ID, rs.ID)
	must(t, err)
	sameIDs(t, "alice's scopes, hers and her group's", scopes, []string{"things:read", "things:write"})
	scopes, _ = s.ScopesOfIdentity(ctx, alice.ID, other.ID)
	sameIDs(t, "alice's scopes elsewhere", scopes, []string{"things:write"})
	scopes, _ = s.ScopesOfIdentity(ctx, bob.ID, rs.ID)
	sameIDs(t, "bob's scopes", scopes, []string{})
	must(t, s.RemoveMembers(ctx, staff.ID, []string{alice.ID}))
	scopes, _ = s.ScopesOfIdentity(ctx, alice.ID, rs.ID)
	sameIDs(t, "alice's scopes out of the group", scopes, []string{"things:read"})

	// Deleting a member takes its roles with it.
	_, err = s.DeleteIdentities(ctx, r.ID, []string{alice.ID})
	must(t, err)
	must(t, s.DeleteGroup(ctx, r.ID, staff.ID))
	_, total, _ = s.ListRoleIdentities(ctx, readers.ID, all(nil))
	wantTotal(t, "readers after alice left", total, 0)
	_, total, _ = s.ListRoleGroups(ctx, writers.ID, all(nil))
	wantTotal(t, "writers after staff was deleted", total, 0)
}
