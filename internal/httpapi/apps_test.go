package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
)

func TestResourceServers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "APIs")
		base := "/realms/" + realm + "/resource-servers"
		rs := c.post(t, base, map[string]any{"resource_server": map[string]any{"display_name": "Pet API",
			"identifier": "https://api.mypetapp.com", "scopes": []string{"pets:read", "pets:write"}}})
		assertKeys(t, rs, "display_name", "id", "identifier", "is_managed", "realm_id", "scopes", "tenant_id")
		id := str(t, rs, "id")
		if rs["is_managed"] != false || len(id) != 36 {
			t.Errorf("resource server %v", rs)
		}
		assertError(t, c.do(t, "POST", base, map[string]any{"resource_server": map[string]any{"display_name": "Again", "identifier": "https://api.mypetapp.com"}}),
			http.StatusConflict, "conflict", "resource server identifier already exists")
		assertInvalid(t, c.do(t, "POST", base, map[string]any{"resource_server": map[string]any{"display_name": "X", "identifier": "beyondidentity"}}),
			"resource_server.identifier", "beyondidentity is reserved")
		assertInvalid(t, c.do(t, "POST", base, map[string]any{"resource_server": map[string]any{"display_name": "X", "identifier": "x", "scopes": []string{"a b"}}}),
			"resource_server.scopes[0]", "a scope is 1 to 128 characters without spaces or quotes")

		p := c.patch(t, base+"/"+id, map[string]any{"resource_server": map[string]any{"scopes": []string{"pets:read"}}})
		if len(p["scopes"].([]any)) != 1 || p["display_name"] != "Pet API" {
			t.Errorf("patched %v", p)
		}
		assertInvalid(t, c.do(t, "PATCH", base+"/"+id, map[string]any{"resource_server": map[string]any{"identifier": "other"}}),
			"resource_server.identifier", "cannot be changed")
		if l := c.list(t, base); num(t, l, "total_size") != 1 {
			t.Errorf("list %v", l)
		}
		c.del(t, base+"/"+id)
		assertNotFound(t, c.do(t, "GET", base+"/"+id, nil), "ResourceServer", id, "resource server not found")

		// The management API's resource server is Latchkey's.
		managed := items(t, c.list(t, "/realms/"+e.adminRealm()+"/resource-servers"), "resource_servers")[0]
		assertError(t, c.do(t, "PATCH", "/realms/"+e.adminRealm()+"/resource-servers/"+str(t, managed, "id"),
			map[string]any{"resource_server": map[string]any{"display_name": "Mine"}}), http.StatusConflict, "conflict",
			"managed resource servers cannot be changed or deleted")
		assertError(t, c.do(t, "DELETE", "/realms/"+e.adminRealm()+"/resource-servers/"+str(t, managed, "id"), nil), http.StatusConflict, "conflict",
			"managed resource servers cannot be changed or deleted")
	})
}

func TestApplications(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Apps")
		rs := str(t, c.post(t, "/realms/"+realm+"/resource-servers", map[string]any{"resource_server": map[string]any{
			"display_name": "Pet API", "identifier": "https://api.mypetapp.com", "scopes": []string{"pets:read", "pets:write"}}}), "id")
		base := "/realms/" + realm + "/applications"
		oidc := func(changes map[string]any) map[string]any {
			pc := map[string]any{"type": "oidc", "allowed_scopes": []string{"pets:read"}, "confidentiality": "confidential",
				"grant_type": []string{"authorization_code"}, "redirect_uris": []string{"https://auth.mypetapp.com/callback"},
				"token_configuration": map[string]any{"expires_after": 86400}, "pkce": "s256"}
			for k, v := range changes {
				pc[k] = v
			}
			return map[string]any{"application": map[string]any{"display_name": "Pet Application", "resource_server_id": rs, "protocol_config": pc}}
		}

		a := c.post(t, base, oidc(nil))
		pc := obj(t, a, "protocol_config")
		id := str(t, a, "id")
		if len(str(t, pc, "client_id")) != 24 || len(str(t, pc, "client_secret")) != 48 || pc["token_endpoint_auth_method"] != "client_secret_basic" ||
			obj(t, pc, "token_configuration")["subject_field"] != "id" || pc["token_format"] != "self_contained" || a["is_managed"] != false {
			t.Errorf("created %v", a)
		}
		if got := c.get(t, base+"/"+id); obj(t, got, "protocol_config")["client_secret"] != pc["client_secret"] {
			t.Errorf("get %v", got)
		}
		if l := c.list(t, base); num(t, l, "total_size") != 1 || obj(t, items(t, l, "applications")[0], "protocol_config")["client_secret"] != pc["client_secret"] {
			t.Errorf("list %v", l)
		}
		// token_endpoint_auth_method is ignored on input, as the reference says.
		if got := c.post(t, base, oidc(map[string]any{"token_endpoint_auth_method": "client_secret_post"})); obj(t, got, "protocol_config")["token_endpoint_auth_method"] != "client_secret_basic" {
			t.Errorf("token_endpoint_auth_method %v", got)
		} else {
			c.del(t, base+"/"+str(t, got, "id"))
		}

		for _, bad := range []struct {
			changes     map[string]any
			field, desc string
		}{
			{map[string]any{"allowed_scopes": []string{"pets:delete"}}, "application.protocol_config.allowed_scopes", "scope pets:delete is not a scope of the resource server"},
			{map[string]any{"confidentiality": "public", "pkce": "disabled"}, "application.protocol_config.pkce", "public clients must use PKCE (plain or s256)"},
			{map[string]any{"redirect_uris": []string{}}, "application.protocol_config.redirect_uris", "the authorization_code grant needs at least one redirect URI"},
			{map[string]any{"redirect_uris": []string{"/relative"}}, "application.protocol_config.redirect_uris[0]", "not an absolute URI"},
			{map[string]any{"token_configuration": map[string]any{"expires_after": 0}}, "application.protocol_config.token_configuration.expires_after", "must be a number of seconds from 1 to 4294967295"},
			{map[string]any{"type": "saml"}, "application.protocol_config.type", "must be one of oauth2, oidc"},
			{map[string]any{"grant_type": []string{"implicit"}}, "application.protocol_config.grant_type[0]", "must be one of authorization_code, client_credentials, refresh_token"},
			{map[string]any{"confidentiality": "public", "grant_type": []string{"client_credentials"}}, "application.protocol_config.grant_type", "a public client cannot use client_credentials"},
			{map[string]any{"redirect_uris": []string{"https://auth.mypetapp.com/callback#done"}}, "application.protocol_config.redirect_uris[0]", "has a fragment"},
			{map[string]any{"token_configuration": map[string]any{}}, "application.protocol_config.token_configuration.expires_after", "must be a number of seconds from 1 to 4294967295"},
			{map[string]any{"token_configuration": map[string]any{"expires_after": 4294967296}}, "application.protocol_config.token_configuration.expires_after", "must be a number of seconds from 1 to 4294967295"},
			{map[string]any{"token_configuration": map[string]any{"expires_after": 60, "token_signing_algorithm": "HS256"}}, "application.protocol_config.token_configuration.token_signing_algorithm", "must be one of RS256, ES256"},
			{map[string]any{"token_configuration": map[string]any{"expires_after": 60, "subject_field": "phone"}}, "application.protocol_config.token_configuration.subject_field", "must be one of id, email, username, external_id"},
			{map[string]any{"pkce": "S256"}, "application.protocol_config.pkce", "must be one of disabled, plain, s256"},
			{map[string]any{"confidentiality": "secret"}, "application.protocol_config.confidentiality", "must be one of confidential, public"},
			{map[string]any{"token_format": "jwe"}, "application.protocol_config.token_format", "must be one of self_contained, referential"},
			{map[string]any{"allowed_scopes": "pets:read"}, "application.protocol_config.allowed_scopes", ""},
		} {
			assertInvalid(t, c.do(t, "POST", base, oidc(bad.changes)), bad.field, bad.desc)
		}
		withField := func(changes map[string]any, field string, value any) map[string]any {
			body := oidc(changes)
			body["application"].(map[string]any)[field] = value
			return body
		}
		assertInvalid(t, c.do(t, "POST", base, withField(nil, "authenticator_config_id", "00000000-0000-4000-8000-000000000000")),
			"application.authenticator_config_id", "authenticator config not found")
		assertInvalid(t, c.do(t, "POST", base, withField(map[string]any{"grant_type": []string{"client_credentials"}}, "authenticator_config_id", hostedConfig(t, c, realm))),
			"application.authenticator_config_id", "only applications that sign users in have an authenticator config")
		assertInvalid(t, c.do(t, "POST", base, withField(nil, "resource_server_id", "")),
			"application.protocol_config.allowed_scopes", "must be empty without a resource server")
		assertInvalid(t, c.do(t, "POST", base, withField(nil, "resource_server_id", "00000000-0000-4000-8000-000000000000")),
			"application.resource_server_id", "resource server not found")
		if l := c.list(t, base); num(t, l, "total_size") != 1 {
			t.Errorf("refused creates made applications: %v", l)
		}

		// PATCH changes what it names; a public client has no secret.
		p := c.patch(t, base+"/"+id, map[string]any{"application": map[string]any{"display_name": "Renamed",
			"protocol_config": map[string]any{"confidentiality": "public", "client_id": "mine"}}})
		ppc := obj(t, p, "protocol_config")
		if p["display_name"] != "Renamed" || ppc["client_secret"] != nil || ppc["token_endpoint_auth_method"] != "none" ||
			ppc["client_id"] != pc["client_id"] || ppc["pkce"] != "s256" {
			t.Errorf("patched %v", p)
		}
		assertError(t, c.do(t, "POST", base+"/"+id+":regenerateSecret", nil), http.StatusConflict, "conflict", "a public client has no secret")

		// An authenticator config an application uses cannot be deleted.
		config := hostedConfig(t, c, realm)
		c.patch(t, base+"/"+id, map[string]any{"application": map[string]any{"authenticator_config_id": config}})
		assertError(t, c.do(t, "DELETE", "/realms/"+realm+"/authenticator-configs/"+config, nil), http.StatusConflict, "conflict",
			"authenticator config is used by an application or a pending credential binding job")
		assertError(t, c.do(t, "DELETE", "/realms/"+realm+"/resource-servers/"+rs, nil), http.StatusConflict, "conflict",
			"resource server is used by an application or a role")

		c.del(t, base+"/"+id)
		assertError(t, c.do(t, "GET", base+"/"+id, nil), http.StatusNotFound, "not_found", "The requested resource was not found.")

		// The management application is Latchkey's.
		assertError(t, c.do(t, "DELETE", "/realms/"+e.adminRealm()+"/applications/"+e.app(), nil), http.StatusConflict, "conflict",
			"managed applications cannot be changed or deleted")
		assertError(t, c.do(t, "PATCH", "/realms/"+e.adminRealm()+"/applications/"+e.app(),
			map[string]any{"application": map[string]any{"display_name": "Mine"}}), http.StatusConflict, "conflict",
			"managed applications cannot be changed or deleted")
		assertError(t, c.do(t, "POST", "/realms/"+e.adminRealm()+"/applications/"+e.app()+":regenerateSecret", nil), http.StatusConflict, "conflict",
			"managed applications cannot be changed or deleted")
	})
}

// TestApplicationClientCredentials: an application made through the API
// gets tokens for its resource server, and a regenerated secret replaces
// the old one at once.
func TestApplicationClientCredentials(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Machines")
		rs := str(t, c.post(t, "/realms/"+realm+"/resource-servers", map[string]any{"resource_server": map[string]any{
			"display_name": "Pet API", "identifier": "https://api.mypetapp.com", "scopes": []string{"pets:read", "pets:write"}}}), "id")
		a := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Batch job", "resource_server_id": rs, "protocol_config": map[string]any{"type": "oauth2",
				"allowed_scopes": []string{"pets:read"}, "grant_type": []string{"client_credentials"},
				"token_configuration": map[string]any{"expires_after": 600}}}})
		pc := obj(t, a, "protocol_config")
		issuer := e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + str(t, a, "id")
		grant := url.Values{"grant_type": {"client_credentials"}}
		status, tok := postForm(t, issuer+"/token", str(t, pc, "client_id"), str(t, pc, "client_secret"), grant)
		if status != http.StatusOK || tok["scope"] != "pets:read" || tok["expires_in"] != float64(600) {
			t.Fatalf("token: %d %v", status, tok)
		}
		claims := jwtClaims(t, str(t, tok, "access_token"))
		if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.mypetapp.com" {
			t.Errorf("aud %v", claims["aud"])
		}
		fresh := c.post(t, "/realms/"+realm+"/applications/"+str(t, a, "id")+":regenerateSecret", nil)
		newSecret := str(t, obj(t, fresh, "protocol_config"), "client_secret")
		if status, _ := postForm(t, issuer+"/token", str(t, pc, "client_id"), str(t, pc, "client_secret"), grant); status != http.StatusUnauthorized {
			t.Errorf("the old secret after regeneration: %d", status)
		}
		if status, _ := postForm(t, issuer+"/token", str(t, pc, "client_id"), newSecret, grant); status != http.StatusOK {
			t.Errorf("the new secret: %d", status)
		}
	})
}

// TestClientCacheOnAnotherNode: a node caches authenticated clients for
// oauth.ClientCacheTTL. A secret regenerated on another node stops working
// on it within that bound; an application deleted on another node stops at
// once.
func TestClientCacheOnAnotherNode(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		other := e.anotherNode(t)
		c := e.api
		realm := newRealm(t, c, "Machines")
		a := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Batch job", "protocol_config": map[string]any{"type": "oauth2",
				"grant_type": []string{"client_credentials"}, "token_configuration": map[string]any{"expires_after": 600}}}})
		appPath := "/realms/" + realm + "/applications/" + str(t, a, "id")
		endpoint := other.URL + "/v1/tenants/" + c.tenant + appPath + "/token"
		id, oldSecret := str(t, obj(t, a, "protocol_config"), "client_id"), str(t, obj(t, a, "protocol_config"), "client_secret")
		grant := url.Values{"grant_type": {"client_credentials"}}
		if status, tok := postForm(t, endpoint, id, oldSecret, grant); status != http.StatusOK { // the other node caches the client
			t.Fatalf("token: %d %v", status, tok)
		}

		fresh := c.post(t, appPath+":regenerateSecret", nil)
		regenerated := time.Now()
		for {
			status, _ := postForm(t, endpoint, id, oldSecret, grant)
			if status == http.StatusUnauthorized {
				break
			}
			if status != http.StatusOK || time.Since(regenerated) > oauth.ClientCacheTTL+time.Second {
				t.Fatalf("the old secret on the other node %v after regeneration: %d", time.Since(regenerated), status)
			}
			time.Sleep(50 * time.Millisecond)
		}
		newSecret := str(t, obj(t, fresh, "protocol_config"), "client_secret")
		if status, tok := postForm(t, endpoint, id, newSecret, grant); status != http.StatusOK {
			t.Fatalf("the new secret on the other node: %d %v", status, tok)
		}

		c.del(t, appPath)
		if status, tok := postForm(t, endpoint, id, newSecret, grant); status != http.StatusUnauthorized || tok["error"] != "invalid_client" {
			t.Errorf("a deleted application on the other node: %d %v", status, tok)
		}
	})
}

// TestResourceServerLosesScopes: scopes removed from a resource server
// leave its roles and its applications' allowed scopes at once, so no
// token grants them any more.
func TestResourceServerLosesScopes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Shrinking")
		rs := newResourceServer(t, c, realm, "https://api.mypetapp.com", "pets:read", "pets:write")
		a := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Batch job", "resource_server_id": rs, "protocol_config": map[string]any{"type": "oauth2",
				"allowed_scopes": []string{"pets:read", "pets:write"}, "grant_type": []string{"client_credentials"},
				"token_configuration": map[string]any{"expires_after": 600}}}})
		role := c.post(t, "/realms/"+realm+"/resource-servers/"+rs+"/roles", map[string]any{"role": map[string]any{"display_name": "Keepers"}})
		rolePath := "/realms/" + realm + "/resource-servers/" + rs + "/roles/" + str(t, role, "id")
		c.post(t, rolePath+":addScopes", map[string]any{"scopes": []string{"pets:read", "pets:write"}})
		pc := obj(t, a, "protocol_config")
		issuer := e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + str(t, a, "id")
		writeGrant := url.Values{"grant_type": {"client_credentials"}, "scope": {"pets:write"}}
		if status, tok := postForm(t, issuer+"/token", str(t, pc, "client_id"), str(t, pc, "client_secret"), writeGrant); status != http.StatusOK {
			t.Fatalf("a token for pets:write before the change: %d %v", status, tok) // and the node caches the client
		}

		c.patch(t, "/realms/"+realm+"/resource-servers/"+rs, map[string]any{"resource_server": map[string]any{"scopes": []string{"pets:read"}}})
		got := c.get(t, "/realms/"+realm+"/applications/"+str(t, a, "id"))
		if allowed := obj(t, got, "protocol_config")["allowed_scopes"].([]any); len(allowed) != 1 || allowed[0] != "pets:read" {
			t.Errorf("allowed scopes after the resource server lost pets:write: %v", allowed)
		}
		if got := scopesOf(t, c, rolePath); !slices.Equal(got, []string{"pets:read"}) {
			t.Errorf("role scopes after the resource server lost pets:write: %v", got)
		}
		status, tok := postForm(t, issuer+"/token", str(t, pc, "client_id"), str(t, pc, "client_secret"), writeGrant)
		if status != http.StatusBadRequest || tok["error"] != "invalid_scope" {
			t.Errorf("a token for a removed scope: %d %v", status, tok)
		}
		// The change is recorded on the application too.
		events := c.listAll(t, "/realms/"+realm+"/events", "events", "filter", `action eq "application.update"`)
		if len(events) != 1 || events[0]["resource_id"] != a["id"] {
			t.Errorf("application events %v", events)
		}
	})
}
