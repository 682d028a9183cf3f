package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

// No path from a narrow management token to a broader one: the rule that a
// writer grants no management scope it does not hold, tried as an attacker
// would through the API.

// escalation is a node with what an attacker aims at: the administrators'
// group and role, the first administrator, an identity the attacker
// controls (mallory, with a role of no scopes: myRole), and an application
// an administrator made with every management scope.
type escalation struct {
	*env
	rs, adminRole, myRole, group, admin, mallory, config, strongApp, ssoConfig string
}

func newEscalation(t *testing.T, e *env) escalation {
	t.Helper()
	c := e.node.Console
	x := escalation{env: e, rs: c.ResourceServerID, group: c.GroupID, admin: c.AdminIdentityID, config: c.AuthenticatorConfigID}
	realm := "/realms/" + e.adminRealm()
	roles := e.api.get(t, realm+"/groups/"+x.group+":listRoles")
	x.adminRole = str(t, items(t, roles, "roles")[0], "id")
	x.mallory = str(t, e.api.post(t, realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Mallory",
		"traits": map[string]any{"type": "traits_v0", "username": "mallory"}}}), "id")
	x.myRole = str(t, e.api.post(t, realm+"/resource-servers/"+x.rs+"/roles", map[string]any{"role": map[string]any{"display_name": "Mallory's"}}), "id")
	e.api.post(t, realm+"/resource-servers/"+x.rs+"/roles/"+x.myRole+":addMembers", map[string]any{"identity_ids": []string{x.mallory}})
	x.strongApp = str(t, e.api.post(t, realm+"/applications", map[string]any{"application": x.ccApp(oauth.ManagementScopes)}), "id")
	x.ssoConfig = str(t, e.api.post(t, realm+"/sso-configs", map[string]any{"sso_config": map[string]any{"display_name": "Wiki",
		"payload": map[string]any{"type": "bookmark", "login_link": "https://wiki.example/"}}}), "id")
	return x
}

// ccApp is a client-credentials application of the management API.
func (x escalation) ccApp(scopes []string) map[string]any {
	return map[string]any{"display_name": "CI", "resource_server_id": x.rs, "protocol_config": map[string]any{
		"type": "oauth2", "grant_type": []string{"client_credentials"}, "allowed_scopes": scopes,
		"token_configuration": map[string]any{"expires_after": 3600}}}
}

// realm is the admin realm's path.
func (x escalation) realm() string { return "/realms/" + x.adminRealm() }

// scopesOf mints a token with the client credentials of an application
// (every scope it allows) and returns the token's scopes.
func (x escalation) scopesOf(t *testing.T, appID, clientID, secret string) []string {
	t.Helper()
	endpoint := x.node.URL + "/v1/tenants/" + x.tenant() + x.realm() + "/applications/" + appID + "/token"
	resp := postToken(t, endpoint, url.Values{"grant_type": {"client_credentials"}}, clientID, secret)
	if resp.Status != http.StatusOK {
		return nil
	}
	return strings.Fields(str(t, resp.JSON(t), "scope"))
}

// malloryScopes are the management scopes mallory holds through roles.
func (x escalation) malloryScopes(t *testing.T) []string {
	t.Helper()
	scopes, err := x.node.Store.ScopesOfIdentity(t.Context(), x.mallory, x.rs)
	if err != nil {
		t.Fatal(err)
	}
	return scopes
}

// beyond returns those of got that are not in held.
func beyond(got, held []string) []string {
	return slices.DeleteFunc(slices.Clone(got), func(s string) bool { return slices.Contains(held, s) })
}

func TestEscalationHoles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		x := newEscalation(t, e)
		realm := x.realm()
		token := func(scopes ...string) client { return e.api.withToken(e.node.Token(t, strings.Join(scopes, " "))) }

		t.Run("applications:read reads no secret", func(t *testing.T) {
			c := token("applications:read")
			for _, id := range []string{e.app(), x.strongApp} {
				pc := obj(t, c.get(t, realm+"/applications/"+id), "protocol_config")
				if s, ok := pc["client_secret"]; ok {
					t.Errorf("GET %s answers a secret (%d scopes with it)", id, len(x.scopesOf(t, id, str(t, pc, "client_id"), s.(string))))
				}
			}
			for _, a := range c.listAll(t, realm+"/applications", "applications") {
				if _, ok := obj(t, a, "protocol_config")["client_secret"]; ok {
					t.Errorf("the list answers the secret of %s", a["display_name"])
				}
			}
		})

		t.Run("applications:secrets:read reads no stronger secret", func(t *testing.T) {
			c := token("applications:read", oauth.SecretsScope)
			for _, id := range []string{e.app(), x.strongApp} {
				if _, ok := obj(t, c.get(t, realm+"/applications/"+id), "protocol_config")["client_secret"]; ok {
					t.Errorf("GET %s answers a secret", id)
				}
			}
			// Not even an administrator's token reads the managed one.
			if _, ok := obj(t, e.api.get(t, realm+"/applications/"+e.app()), "protocol_config")["client_secret"]; ok {
				t.Error("the API answers the managed application's secret")
			}
			weak := e.api.post(t, realm+"/applications", map[string]any{"application": x.ccApp([]string{"applications:read"})})
			pc := obj(t, c.get(t, realm+"/applications/"+str(t, weak, "id")), "protocol_config")
			if pc["client_secret"] != obj(t, weak, "protocol_config")["client_secret"] {
				t.Error("the secret of an application within the reader's scopes is not answered")
			}
		})

		t.Run("applications:create makes no stronger application", func(t *testing.T) {
			c := token("applications:create")
			assertError(t, c.do(t, "POST", realm+"/applications", map[string]any{"application": x.ccApp(oauth.ManagementScopes)}),
				http.StatusForbidden, "forbidden", "the token does not hold "+strings.Join(beyond(oauth.ManagementScopes, []string{"applications:create"}), ", ")+", so it cannot give it")
			own := c.post(t, realm+"/applications", map[string]any{"application": x.ccApp([]string{"applications:create"})})
			pc := obj(t, own, "protocol_config")
			if got := x.scopesOf(t, str(t, own, "id"), str(t, pc, "client_id"), str(t, pc, "client_secret")); !slices.Equal(got, []string{"applications:create"}) {
				t.Errorf("the application it made grants %v", got)
			}
		})

		t.Run("custom claims add no scope", func(t *testing.T) {
			own := e.api.post(t, realm+"/applications", map[string]any{"application": x.ccApp([]string{"applications:read"})})
			pc := obj(t, own, "protocol_config")
			endpoint := e.node.URL + "/v1/tenants/" + e.tenant() + realm + "/applications/" + str(t, own, "id") + "/token"
			resp := postToken(t, endpoint, url.Values{"grant_type": {"client_credentials"},
				"custom_claims": {`{"scope":"tenants:read","aud":["beyondidentity"],"bi_p":"` + e.app() + `"}`}}, str(t, pc, "client_id"), str(t, pc, "client_secret"))
			tok := str(t, assertTokenResponse(t, resp, "applications:read", 3600), "access_token")
			if resp := e.api.withToken(tok).do(t, "GET", "", nil); resp.Status != http.StatusForbidden {
				t.Errorf("custom claims gave a scope: %d %s", resp.Status, resp.Body)
			}
		})

		t.Run("applications:update widens, redirects and rekeys nothing stronger", func(t *testing.T) {
			c := token("applications:update", "applications:create")
			own := c.post(t, realm+"/applications", map[string]any{"application": x.ccApp([]string{"applications:create"})})
			id := str(t, own, "id")
			if resp := c.do(t, "PATCH", realm+"/applications/"+id, map[string]any{"application": map[string]any{
				"protocol_config": map[string]any{"allowed_scopes": oauth.ManagementScopes}}}); resp.Status != http.StatusForbidden {
				t.Errorf("widening its own application: %d %s", resp.Status, resp.Body)
			}
			plain := c.post(t, realm+"/applications", map[string]any{"application": map[string]any{"display_name": "Plain", "protocol_config": map[string]any{
				"type": "oauth2", "grant_type": []string{"client_credentials"}, "token_configuration": map[string]any{"expires_after": 3600}}}})
			resp := c.do(t, "PATCH", realm+"/applications/"+str(t, plain, "id"), map[string]any{"application": map[string]any{
				"resource_server_id": x.rs, "protocol_config": map[string]any{"allowed_scopes": []string{"tenants:update"}}}})
			if resp.Status != http.StatusForbidden {
				t.Errorf("pointing an application at the management API with more scopes: %d %s", resp.Status, resp.Body)
			}
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"PATCH", realm + "/applications/" + x.strongApp, map[string]any{"application": map[string]any{"display_name": "Mine"}}},
				{"POST", realm + "/applications/" + x.strongApp + ":regenerateSecret", nil},
			} {
				if resp := c.do(t, req.method, req.path, req.body); resp.Status != http.StatusForbidden {
					t.Errorf("%s %s: %d %s", req.method, req.path, resp.Status, resp.Body)
				}
			}
			if resp := e.api.do(t, "POST", realm+"/applications/"+e.app()+":regenerateSecret", nil); resp.Status != http.StatusConflict {
				t.Errorf("the API regenerates the managed secret: %d %s", resp.Status, resp.Body)
			}
		})

		t.Run("roles and groups give no stronger scopes", func(t *testing.T) {
			roles := realm + "/resource-servers/" + x.rs + "/roles/"
			c := token("roles:update", "resource-servers:read", "groups:read", "identities:read", "groups:update")
			for _, req := range []struct {
				path string
				body map[string]any
			}{
				{roles + x.myRole + ":addScopes", map[string]any{"scopes": []string{"roles:update", "tenants:update"}}},
				{roles + x.adminRole + ":addMembers", map[string]any{"identity_ids": []string{x.mallory}}},
				{realm + "/groups/" + x.group + ":addMembers", map[string]any{"identity_ids": []string{x.mallory}}},
			} {
				if resp := c.do(t, "POST", req.path, req.body); resp.Status != http.StatusForbidden {
					t.Errorf("POST %s: %d %s", req.path, resp.Status, resp.Body)
				}
			}
			scim := token("scim:all")
			resp := scim.do(t, "PATCH", realm+"/scim/v2/Groups/"+x.group, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": x.mallory}}}}})
			if resp.Status != http.StatusForbidden {
				t.Errorf("SCIM adds mallory to the administrators: %d %s", resp.Status, resp.Body)
			}
			if got := x.malloryScopes(t); len(got) > 0 {
				t.Errorf("mallory holds %v", got)
			}
			// Within the writer's scopes, all of it works.
			c.post(t, roles+x.myRole+":addScopes", map[string]any{"scopes": []string{"roles:update"}})
			if got := x.malloryScopes(t); !slices.Equal(got, []string{"roles:update"}) {
				t.Errorf("mallory holds %v", got)
			}
		})

		t.Run("a CSV import adds no one to the administrators", func(t *testing.T) {
			c := token("identities:create", "identities:update", "groups:update", "identities:read")
			j := c.importFile(t, x.adminRealm(), "?update_existing=true", "username,groups\nmallory,Latchkey Administrators\nnewcomer,Latchkey Administrators\n")
			if got := counts(t, j); got != [4]int{0, 0, 0, 2} {
				t.Errorf("counts %v, want 2 failed: %v", got, j)
			}
			if !strings.Contains(fmt.Sprint(j["failures"]), "gives management scopes") {
				t.Errorf("failures %v", j["failures"])
			}
			if got := x.malloryScopes(t); slices.Contains(got, "tenants:update") {
				t.Errorf("mallory holds %v", got)
			}
		})

		t.Run("no binding link to a stronger identity", func(t *testing.T) {
			c := token("credential-binding-jobs:create")
			resp := c.do(t, "POST", realm+"/identities/"+x.admin+"/credential-binding-jobs",
				map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": x.config}})
			if resp.Status != http.StatusForbidden {
				t.Errorf("a binding link for the administrator: %d %s", resp.Status, resp.Body)
			}
			resp = c.do(t, "POST", realm+"/batch-credential-binding-jobs", map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": []string{x.admin}, "job_template": map[string]any{"authenticator_config_id": x.config}}})
			if resp.Status != http.StatusForbidden {
				t.Errorf("a batch for the administrator: %d %s", resp.Status, resp.Body)
			}
			// mallory holds roles:update now: a link for the token's equal or weaker only.
			resp = c.do(t, "POST", realm+"/identities/"+x.mallory+"/credential-binding-jobs",
				map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": x.config}})
			if resp.Status != http.StatusForbidden {
				t.Errorf("a binding link for mallory: %d %s", resp.Status, resp.Body)
			}
			trudy := str(t, e.api.post(t, realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Trudy",
				"traits": map[string]any{"type": "traits_v0", "username": "trudy"}}}), "id")
			c.post(t, realm+"/identities/"+trudy+"/credential-binding-jobs",
				map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": x.config}})
		})
	})
}

// walkRoute is a management route as the walk calls it: its path relative
// to the tenant, with {placeholders}; the scopes it requires; the body an
// attacker would send to gain scopes.
type walkRoute struct {
	method, path string
	scopes       []string
	body         any
}

// walkRoutes are the management routes, each asked for the most it could
// give. Deletes, revocations and removals are left out: they take power
// away, and would break the walk. So is identities:import, whose rows a
// worker applies later: TestEscalationHoles waits for its job.
func (x escalation) walkRoutes() []walkRoute {
	all := oauth.ManagementScopes
	scimGroup := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Latchkey Administrators",
		"members": []any{map[string]any{"value": "{admin}"}, map[string]any{"value": "{mallory}"}}}
	scimPatch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "{mallory}"}}}}}
	job := map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": "{config}"}}
	r := "/realms/{realm}"
	return []walkRoute{
		{"GET", "", []string{"tenants:read"}, nil},
		{"PATCH", "", []string{"tenants:update"}, map[string]any{"tenant": map[string]any{"display_name": "Tenant"}}},
		{"POST", "/realms", []string{"realms:create"}, map[string]any{"realm": map[string]any{"display_name": "Realm"}}},
		{"GET", "/realms", []string{"realms:read"}, nil},
		{"GET", r, []string{"realms:read"}, nil},
		{"PATCH", r, []string{"realms:update"}, map[string]any{"realm": map[string]any{"display_name": "Admin"}}},
		{"GET", "/events", []string{"events:read"}, nil},
		{"GET", r + "/events", []string{"events:read"}, nil},

		{"POST", r + "/identities", []string{"identities:create"}, map[string]any{"identity": map[string]any{"display_name": "Eve",
			"traits": map[string]any{"type": "traits_v0", "username": "eve"}}}},
		{"GET", r + "/identities", []string{"identities:read"}, nil},
		{"GET", r + "/identities/{admin}", []string{"identities:read"}, nil},
		{"GET", r + "/identities/{admin}:listGroups", []string{"identities:read", "groups:read"}, nil},
		{"GET", r + "/identities/{admin}:listRoles", []string{"identities:read", "roles:read", "resource-servers:read"}, nil},
		{"PATCH", r + "/identities/{mallory}", []string{"identities:update"}, map[string]any{"identity": map[string]any{"display_name": "Mallory"}}},
		{"GET", r + "/identities:export", []string{"identities:read", "groups:read"}, nil},

		{"POST", r + "/groups", []string{"groups:create"}, map[string]any{"group": map[string]any{"display_name": "Friends"}}},
		{"GET", r + "/groups", []string{"groups:read"}, nil},
		{"GET", r + "/groups/{group}", []string{"groups:read"}, nil},
		{"GET", r + "/groups/{group}:listMembers", []string{"groups:read", "identities:read"}, nil},
		{"GET", r + "/groups/{group}:listRoles", []string{"groups:read", "roles:read", "resource-servers:read"}, nil},
		{"PATCH", r + "/groups/{group}", []string{"groups:update"}, map[string]any{"group": map[string]any{"description": "Everyone"}}},
		{"POST", r + "/groups/{group}:addMembers", []string{"groups:update", "identities:read"}, map[string]any{"identity_ids": []string{"{mallory}"}}},

		{"POST", r + "/applications", []string{"applications:create"}, map[string]any{"application": x.ccApp(all)}},
		{"GET", r + "/applications", []string{"applications:read"}, nil},
		{"GET", r + "/applications/{app}", []string{"applications:read"}, nil},
		{"GET", r + "/applications/{strong}", []string{"applications:read"}, nil},
		{"PATCH", r + "/applications/{strong}", []string{"applications:update"}, map[string]any{"application": map[string]any{"display_name": "Mine"}}},
		{"PATCH", r + "/applications/{app}", []string{"applications:update"}, map[string]any{"application": map[string]any{"display_name": "Mine"}}},
		{"POST", r + "/applications/{strong}:regenerateSecret", []string{"applications:update"}, nil},
		{"POST", r + "/applications/{app}:regenerateSecret", []string{"applications:update"}, nil},
		{"GET", r + "/applications/{app}/tokens", []string{"tokens:read"}, nil},
		{"POST", r + "/introspect", []string{"tokens:introspect"}, "token=x"},

		{"POST", r + "/resource-servers", []string{"resource-servers:create"}, map[string]any{"resource_server": map[string]any{
			"display_name": "Mine", "identifier": oauth.ManagementAPI, "scopes": all}}},
		{"GET", r + "/resource-servers", []string{"resource-servers:read"}, nil},
		{"GET", r + "/resource-servers/{rs}", []string{"resource-servers:read"}, nil},
		{"PATCH", r + "/resource-servers/{rs}", []string{"resource-servers:update"}, map[string]any{"resource_server": map[string]any{"display_name": "Mine"}}},
		{"POST", r + "/resource-servers/{rs}/roles", []string{"roles:create"}, map[string]any{"role": map[string]any{"display_name": "Another"}}},
		{"GET", r + "/resource-servers/{rs}/roles", []string{"roles:read"}, nil},
		{"GET", r + "/resource-servers/{rs}/roles/{role}", []string{"roles:read"}, nil},
		{"GET", r + "/resource-servers/{rs}/roles/{role}:listMembers", []string{"roles:read", "groups:read", "identities:read"}, nil},
		{"GET", r + "/resource-servers/{rs}/roles/{role}:listScopes", []string{"roles:read", "resource-servers:read"}, nil},
		{"PATCH", r + "/resource-servers/{rs}/roles/{myrole}", []string{"roles:update"}, map[string]any{"role": map[string]any{"description": "Mine"}}},
		{"POST", r + "/resource-servers/{rs}/roles/{role}:addMembers", []string{"roles:update", "groups:read", "identities:read"},
			map[string]any{"identity_ids": []string{"{mallory}"}}},
		{"POST", r + "/resource-servers/{rs}/roles/{myrole}:addScopes", []string{"roles:update", "resource-servers:read"}, map[string]any{"scopes": all}},

		{"POST", r + "/authenticator-configs", []string{"authenticator-configs:create"}, map[string]any{"authenticator_config": map[string]any{
			"config": map[string]any{"type": "hosted_web"}}}},
		{"GET", r + "/authenticator-configs", []string{"authenticator-configs:read"}, nil},
		{"GET", r + "/authenticator-configs/{config}", []string{"authenticator-configs:read"}, nil},
		{"GET", r + "/identities/{admin}/credentials", []string{"credentials:read"}, nil},
		{"PATCH", r + "/identities/{admin}/credentials/none", []string{"credentials:update"},
			map[string]any{"credential": map[string]any{"display_name": "Mine"}}},
		{"POST", r + "/identities/{admin}/credentials:import", []string{"credentials:create"}, map[string]any{"credentials": []any{walkPasskey()}}},
		{"POST", r + "/identities/{mallory}/credentials:import", []string{"credentials:create"}, map[string]any{"credentials": []any{walkPasskey()}}},
		{"GET", r + "/identities/{admin}/credentials:export", []string{"credentials:read"}, nil},
		{"POST", r + "/identities/{admin}/credential-binding-jobs", []string{"credential-binding-jobs:create"}, job},
		{"GET", r + "/identities/{admin}/credential-binding-jobs", []string{"credential-binding-jobs:read"}, nil},
		{"POST", r + "/batch-credential-binding-jobs", []string{"credential-binding-jobs:create"}, map[string]any{"batch_credential_binding_job": map[string]any{
			"identity_ids": []string{"{admin}"}, "job_template": map[string]any{"authenticator_config_id": "{config}"}}}},

		{"GET", r + "/policy", []string{"policy:read"}, nil},
		{"POST", r + "/themes", []string{"themes:create"}, map[string]any{"theme": map[string]any{}}},
		{"GET", r + "/themes/active", []string{"themes:read"}, nil},

		{"GET", r + "/scim/v2/Groups/{group}", []string{"scim:groups:read"}, nil},
		{"PATCH", r + "/scim/v2/Groups/{group}", []string{"scim:groups:update"}, scimPatch},
		{"PUT", r + "/scim/v2/Groups/{group}", []string{"scim:groups:update"}, scimGroup},
		{"GET", r + "/scim/v2/Users", []string{"scim:users:read"}, nil},

		{"POST", r + "/sso-configs", []string{"sso-configs:create"}, map[string]any{"sso_config": map[string]any{"display_name": "Mine",
			"payload": map[string]any{"type": "generic_oidc", "redirect_uris": []string{"https://mine.example/cb"}, "scopes": []string{"openid"},
				"confidentiality": "confidential", "pkce": "s256", "application_id": "{strong}"}}}},
		{"GET", r + "/sso-configs", []string{"sso-configs:read"}, nil},
		{"GET", r + "/sso-configs/{sso}", []string{"sso-configs:read"}, nil},
		{"PATCH", r + "/sso-configs/{sso}", []string{"sso-configs:update"}, map[string]any{"sso_config": map[string]any{"type": "bookmark", "icon": "https://x.example/i.png"}}},
		{"POST", r + "/sso-configs/{sso}:addIdentities", []string{"sso-configs:update"}, map[string]any{"identity_ids": []string{"{mallory}"}}},
		{"POST", r + "/sso-configs/{sso}:addGroups", []string{"sso-configs:update"}, map[string]any{"group_ids": []string{"{group}"}}},
		{"GET", r + "/sso-configs/{sso}:listIdentityAssociations", []string{"sso-configs:read", "identities:read", "groups:read"}, nil},
		{"GET", r + "/identities/{admin}/sso-configs", []string{"sso-configs:read"}, nil},
		{"GET", r + "/applications/{strong}/sso-configs-id", []string{"sso-configs:read"}, nil},
		{"POST", r + "/identity-providers", []string{"identity-providers:create"}, map[string]any{"display_name": "Upstream", "protocol_config": map[string]any{
			"type": "oidc_idp", "client_id": "x", "client_secret": "s", "identity_attribute": "email", "jwks_url": "https://idp.example/keys",
			"token_url": "https://idp.example/token", "authorize_url": "https://idp.example/authorize", "identifying_claim_name": "email"}}},
		{"GET", r + "/flow-type-config", []string{"flow-type:read"}, nil},
	}
}

// call sends a walk route's request, its placeholders filled in.
func (x escalation) call(t *testing.T, c client, rt walkRoute) (int, any) {
	t.Helper()
	fill := strings.NewReplacer("{realm}", x.adminRealm(), "{admin}", x.admin, "{mallory}", x.mallory, "{group}", x.group,
		"{rs}", x.rs, "{role}", x.adminRole, "{myrole}", x.myRole, "{app}", x.app(), "{strong}", x.strongApp, "{config}", x.config, "{sso}", x.ssoConfig)
	var body any
	if rt.body != nil {
		raw, ok := rt.body.(string)
		if !ok {
			b, err := json.Marshal(rt.body)
			if err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		body = fill.Replace(raw)
	}
	resp := c.do(t, rt.method, fill.Replace(rt.path), body)
	var out any
	if len(resp.Body) > 0 && resp.Body[0] == '{' {
		out = resp.JSON(t)
	}
	return resp.Status, out
}

// gains looks through an answer for what would give a token: a client
// secret (tried at its application's token endpoint) or a binding link (of
// an identity, whose scopes whoever binds it gets). It returns the scopes
// each would give.
func (x escalation) gains(t *testing.T, v any) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if pc, ok := v["protocol_config"].(map[string]any); ok {
				if secret, _ := pc["client_secret"].(string); secret != "" {
					id, _ := v["id"].(string)
					clientID, _ := pc["client_id"].(string)
					out["secret of "+id] = x.scopesOf(t, id, clientID, secret)
				}
			}
			if link, _ := v["credential_binding_link"].(string); link != "" {
				job, _ := v["credential_binding_job"].(map[string]any) // the link's job, beside it
				identity, _ := job["identity_id"].(string)
				if identity == "" {
					t.Fatalf("a binding link without its identity: %v", v)
				}
				scopes, err := x.node.Store.ScopesOfIdentity(t.Context(), identity, x.rs)
				if err != nil {
					t.Fatal(err)
				}
				out["binding link of "+identity] = scopes
			}
			for _, w := range v {
				walk(w)
			}
		case []any:
			for _, w := range v {
				walk(w)
			}
		}
	}
	walk(v)
	return out
}

// TestSingleScopeWalk walks every management route with a token of each
// single scope, then each route with a token of exactly the scopes it
// requires: nothing it reaches may answer a secret or a binding link that
// gives more scopes, nor give mallory (whom the attacker controls) more.
func TestSingleScopeWalk(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		x := newEscalation(t, e)
		routes := x.walkRoutes()
		// check calls a route and reports whether the guard refused the token.
		check := func(t *testing.T, held []string, c client, rt walkRoute) bool {
			t.Helper()
			status, body := x.call(t, c, rt)
			if status >= 500 {
				t.Errorf("%s %s: %d", rt.method, rt.path, status)
			}
			for what, scopes := range x.gains(t, body) {
				if more := beyond(scopes, held); len(more) > 0 {
					t.Errorf("%v: %s %s answers the %s, which gives %v", held, rt.method, rt.path, what, more)
				}
			}
			if more := beyond(x.malloryScopes(t), held); len(more) > 0 {
				t.Fatalf("%v: after %s %s mallory holds %v", held, rt.method, rt.path, more)
			}
			m, _ := body.(map[string]any)
			return status == http.StatusUnauthorized || status == http.StatusForbidden && (m["message"] == "forbidden" || m["detail"] == "token is unauthorized.")
		}
		for _, scope := range oauth.ManagementScopes {
			c := e.api.withToken(e.node.Token(t, scope))
			for _, rt := range routes {
				check(t, []string{scope}, c, rt)
			}
		}
		// With its own scopes, the guard lets each route through: the table
		// says what the server requires.
		for _, rt := range routes {
			c := e.api.withToken(e.node.Token(t, strings.Join(rt.scopes, " ")))
			if refused := check(t, rt.scopes, c, rt); refused {
				t.Errorf("%s %s: refused with its own scopes %v", rt.method, rt.path, rt.scopes)
			}
		}
	})
}
