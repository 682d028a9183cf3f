package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// newResourceServer creates a resource server with the scopes and returns its id.
func newResourceServer(t testing.TB, c client, realm, identifier string, scopes ...string) string {
	t.Helper()
	return str(t, c.post(t, "/realms/"+realm+"/resource-servers", map[string]any{"resource_server": map[string]any{
		"display_name": "API", "identifier": identifier, "scopes": scopes}}), "id")
}

func scopesOf(t testing.TB, c client, rolePath string) []string {
	t.Helper()
	var out []string
	for _, s := range c.get(t, rolePath+":listScopes")["scopes"].([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestRoles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Roles")
		rs := newResourceServer(t, c, realm, "https://api.mypetapp.com", "pets:read", "pets:write", "pets:delete")
		base := "/realms/" + realm + "/resource-servers/" + rs + "/roles"

		role := c.post(t, base, map[string]any{"role": map[string]any{"display_name": "Help Desk", "description": "Customer support personnel.", "id": "ignored"}})
		assertKeys(t, role, "create_time", "description", "display_name", "id", "realm_id", "resource_server_id", "tenant_id", "update_time")
		id := str(t, role, "id")
		assertHexID(t, id)
		if role["resource_server_id"] != rs || role["realm_id"] != realm || role["tenant_id"] != e.tenant() {
			t.Errorf("created %v", role)
		}
		rolePath := base + "/" + id

		assertInvalid(t, c.do(t, "POST", base, map[string]any{"role": map[string]any{"display_name": ""}}), "role.display_name", "empty string")
		assertInvalid(t, c.do(t, "POST", base, map[string]any{"role": map[string]any{"display_name": "X", "description": strings.Repeat("d", 301)}}),
			"role.description", "")
		assertInvalid(t, c.do(t, "POST", base, map[string]any{"role": map[string]any{"display_name": "X", "color": "red"}}), "role.color", "")
		missingRS := "/realms/" + realm + "/resource-servers/00000000-0000-4000-8000-000000000000/roles"
		assertNotFound(t, c.do(t, "POST", missingRS, map[string]any{"role": map[string]any{"display_name": "X"}}),
			"ResourceServer", "00000000-0000-4000-8000-000000000000", "resource server not found")
		assertNotFound(t, c.do(t, "GET", base+"/ffffffffffffffff", nil), "Role", "ffffffffffffffff", "role not found")
		// A role is found under its own resource server only.
		other := newResourceServer(t, c, realm, "https://other.example", "x:read")
		assertNotFound(t, c.do(t, "GET", "/realms/"+realm+"/resource-servers/"+other+"/roles/"+id, nil), "Role", id, "role not found")

		p := c.patch(t, rolePath, map[string]any{"role": map[string]any{"description": "Answers the phone."}})
		if p["display_name"] != "Help Desk" || p["description"] != "Answers the phone." || p["create_time"] != role["create_time"] {
			t.Errorf("patched %v", p)
		}
		assertInvalid(t, c.do(t, "PATCH", rolePath, map[string]any{"role": map[string]any{"display_name": "a/b"}}), "role.display_name", "")
		if got := c.get(t, rolePath); got["description"] != "Answers the phone." {
			t.Errorf("get %v", got)
		}
		if l := c.list(t, base); num(t, l, "total_size") != 1 || items(t, l, "roles")[0]["id"] != id {
			t.Errorf("list %v", l)
		}

		// Scopes: only the resource server's; repeats are harmless.
		c.post(t, rolePath+":addScopes", map[string]any{"scopes": []string{"pets:read", "pets:write", "pets:read"}})
		if got := scopesOf(t, c, rolePath); !slices.Equal(got, []string{"pets:read", "pets:write"}) {
			t.Errorf("scopes %v", got)
		}
		assertInvalid(t, c.do(t, "POST", rolePath+":addScopes", map[string]any{"scopes": []string{"pets:read", "cats:read"}}),
			"scopes", "scope cats:read is not a scope of the resource server")
		assertInvalid(t, c.do(t, "POST", rolePath+":addScopes", map[string]any{"scopes": []string{}}), "scopes", "missing")
		if page := c.list(t, rolePath+":listScopes", "page_size", "1"); len(page["scopes"].([]any)) != 1 || num(t, page, "total_size") != 2 ||
			page["next_page_token"] == nil {
			t.Errorf("a page of scopes: %v", page)
		}

		// Members: identities and groups of the realm, all or none.
		alice := str(t, newIdentity(t, c, realm, "alice"), "id")
		bob := str(t, newIdentity(t, c, realm, "bob"), "id")
		staff := newGroup(t, c, realm, "Staff")
		c.post(t, rolePath+":addMembers", map[string]any{"group_ids": []string{staff}, "identity_ids": []string{alice, bob}})
		assertBatchNotFound(t, c.do(t, "POST", rolePath+":addMembers", map[string]any{"identity_ids": []string{alice, "ffffffffffffffff"}}),
			"Identity", "identities not found", []string{"ffffffffffffffff"})
		assertBatchNotFound(t, c.do(t, "POST", rolePath+":addMembers", map[string]any{"group_ids": []string{"eeeeeeeeeeeeeeee"}, "identity_ids": []string{}}),
			"Group", "groups not found", []string{"eeeeeeeeeeeeeeee"})
		assertInvalid(t, c.do(t, "POST", rolePath+":addMembers", map[string]any{"group_ids": []string{}}), "identity_ids", "missing")
		assertInvalid(t, c.do(t, "POST", rolePath+":addMembers", map[string]any{"identity_ids": []string{""}}), "identity_ids", "empty string")
		elsewhere := newIdentity(t, c, newRealm(t, c, "Elsewhere"), "carol")
		assertBatchNotFound(t, c.do(t, "POST", rolePath+":addMembers", map[string]any{"identity_ids": []string{str(t, elsewhere, "id")}}),
			"Identity", "identities not found", []string{str(t, elsewhere, "id")})

		m := c.get(t, rolePath+":listMembers")
		assertKeys(t, m, "groups", "identities", "total_groups_size", "total_identities_size")
		if num(t, m, "total_groups_size") != 1 || num(t, m, "total_identities_size") != 2 || items(t, m, "groups")[0]["id"] != staff {
			t.Errorf("members %v", m)
		}
		// Paging walks both lists; skips count from where the token goes on.
		first := c.list(t, rolePath+":listMembers", "groups_page_size", "1", "identities_page_size", "1")
		next, _ := first["next_page_token"].(string)
		if len(items(t, first, "identities")) != 1 || next == "" {
			t.Fatalf("first page %v", first)
		}
		second := c.list(t, rolePath+":listMembers", "page_token", next)
		if len(items(t, second, "groups")) != 0 || len(items(t, second, "identities")) != 1 || second["next_page_token"] != nil ||
			items(t, second, "identities")[0]["id"] == items(t, first, "identities")[0]["id"] {
			t.Errorf("second page %v after %v", second, first)
		}
		if s := c.list(t, rolePath+":listMembers", "identities_skip", "2"); len(items(t, s, "identities")) != 0 || len(items(t, s, "groups")) != 1 {
			t.Errorf("skipped %v", s)
		}
		assertInvalid(t, c.do(t, "GET", rolePath+":listMembers?page_token=nonsense", nil), "page_token", "invalid page token")

		// listRoles of an identity and of a group: their own roles.
		if l := c.list(t, "/realms/"+realm+"/identities/"+alice+":listRoles", "resource_server_id", rs); num(t, l, "total_size") != 1 ||
			items(t, l, "roles")[0]["id"] != id {
			t.Errorf("alice's roles %v", l)
		}
		if l := c.list(t, "/realms/"+realm+"/identities/"+alice+":listRoles", "resource_server_id", other); num(t, l, "total_size") != 0 {
			t.Errorf("alice's roles on another resource server %v", l)
		}
		if l := c.list(t, "/realms/"+realm+"/groups/"+staff+":listRoles"); num(t, l, "total_size") != 1 {
			t.Errorf("staff's roles %v", l)
		}
		assertError(t, c.do(t, "GET", "/realms/"+realm+"/groups/"+staff+":listRoles?resource_server_id=missing", nil),
			http.StatusConflict, "conflict", "resource server not found")
		assertNotFound(t, c.do(t, "GET", "/realms/"+realm+"/identities/ffffffffffffffff:listRoles", nil), "Identity", "ffffffffffffffff", "identity not found")
		assertNotFound(t, c.do(t, "GET", "/realms/"+realm+"/groups/ffffffffffffffff:listRoles", nil), "Group", "ffffffffffffffff", "group not found")

		// A role with scopes or members, and a resource server with roles,
		// cannot be deleted.
		children := func() {
			t.Helper()
			assertError(t, c.do(t, "DELETE", rolePath, nil), http.StatusConflict, "conflict", "role has children")
		}
		children()
		assertError(t, c.do(t, "DELETE", "/realms/"+realm+"/resource-servers/"+rs, nil), http.StatusConflict, "conflict",
			"resource server is used by an application or a role")

		// Scopes a resource server loses leave its roles at once.
		c.patch(t, "/realms/"+realm+"/resource-servers/"+rs, map[string]any{"resource_server": map[string]any{"scopes": []string{"pets:read", "pets:delete"}}})
		if got := scopesOf(t, c, rolePath); !slices.Equal(got, []string{"pets:read"}) {
			t.Errorf("scopes after the resource server lost pets:write: %v", got)
		}
		c.post(t, rolePath+":deleteScopes", map[string]any{"scopes": []string{"pets:read", "pets:write"}})
		if got := scopesOf(t, c, rolePath); len(got) != 0 {
			t.Errorf("scopes after deleteScopes: %v", got)
		}
		children()
		c.post(t, rolePath+":deleteMembers", map[string]any{"group_ids": []string{staff}, "identity_ids": []string{alice, bob}})
		c.post(t, rolePath+":deleteMembers", map[string]any{"identity_ids": []string{alice}}) // again: nothing to do
		c.del(t, rolePath)
		assertNotFound(t, c.do(t, "GET", rolePath, nil), "Role", id, "role not found")
		c.del(t, "/realms/"+realm+"/resource-servers/"+rs)

		// Every change is an audit event.
		var actions []string
		for _, ev := range c.listAll(t, "/realms/"+realm+"/events", "events", "filter", `resource_type eq "Role"`) {
			actions = append(actions, str(t, ev, "action"))
		}
		slices.Reverse(actions)
		want := []string{"role.create", "role.update", "role.add_scopes", "role.add_members", "role.delete_scopes",
			"role.delete_members", "role.delete_members", "role.delete"}
		if !slices.Equal(actions, want) {
			t.Errorf("events %v, want %v", actions, want)
		}
	})
}

// TestRolesOfDeletedMembers: deleting an identity or a group takes its roles with it.
func TestRolesOfDeletedMembers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Leavers")
		rs := newResourceServer(t, c, realm, "https://api.example", "a")
		rolePath := "/realms/" + realm + "/resource-servers/" + rs + "/roles/" +
			str(t, c.post(t, "/realms/"+realm+"/resource-servers/"+rs+"/roles", map[string]any{"role": map[string]any{"display_name": "R"}}), "id")
		alice := str(t, newIdentity(t, c, realm, "alice"), "id")
		g := newGroup(t, c, realm, "G")
		c.post(t, rolePath+":addMembers", map[string]any{"group_ids": []string{g}, "identity_ids": []string{alice}})
		c.del(t, "/realms/"+realm+"/identities/"+alice)
		c.del(t, "/realms/"+realm+"/groups/"+g)
		if m := c.get(t, rolePath+":listMembers"); num(t, m, "total_groups_size") != 0 || num(t, m, "total_identities_size") != 0 {
			t.Errorf("members after their deletion: %v", m)
		}
		c.del(t, rolePath)
	})
}
