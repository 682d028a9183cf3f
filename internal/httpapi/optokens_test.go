package httpapi_test

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

// signedIn signs ada in to the fixture's application with the query q
// (signInQuery's PKCE) and redeems the code.
func (f signInFixture) signedIn(t *testing.T, q url.Values) map[string]any {
	t.Helper()
	to, _ := url.Parse(str(t, f.ada.signIn(t, f.issuer, q), "redirect"))
	status, tokens := redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"authorization_code"},
		"code": {to.Query().Get("code")}, "redirect_uri": {f.callback}, "code_verifier": {sdkVerifier}})
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tokens)
	}
	return tokens
}

// formPost posts a form with a header.
func formPost(t *testing.T, endpoint string, h http.Header, form url.Values) testenv.Response {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, "POST", endpoint, h, strings.NewReader(form.Encode()))
}

// TestIntrospectionByClients: an application introspects with its own
// client credentials (HTTP Basic or in the form) at its issuer's and at the
// realm's endpoint, and learns only about its own tokens; bad credentials,
// another application's, realm's or tenant's are refused with RFC errors
// and WWW-Authenticate; a management token still introspects any token of
// the realm, and one without tokens:introspect is refused.
func TestIntrospectionByClients(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Introspection")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		bApp, bID, bSecret := oidcClient(t, e.node, f.realm, "https://b.example.com/cb")
		bIssuer := strings.Replace(f.issuer, f.app, bApp, 1)
		other := newRealm(t, c, "Elsewhere")
		_, oID, oSecret := oidcClient(t, e.node, other, "https://o.example.com/cb")
		tokens := f.signedIn(t, signInQuery(f.clientID, f.callback))
		access := url.Values{"token": {str(t, tokens, "access_token")}}
		realmEndpoint := c.url("/realms/" + f.realm + "/introspect")

		for _, endpoint := range []string{f.issuer + "/introspect", realmEndpoint} {
			resp := postToken(t, endpoint, access, f.clientID, f.secret)
			if got := resp.JSON(t); resp.Status != http.StatusOK || got["active"] != true || got["sub"] != f.ada.identity ||
				resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s with Basic: %d %s", endpoint, resp.Status, resp.Body)
			}
			inForm := url.Values{"token": access["token"], "client_id": {f.clientID}, "client_secret": {f.secret}}
			if got := formPost(t, endpoint, nil, inForm).JSON(t); got["active"] != true {
				t.Errorf("%s with client_secret_post: %v", endpoint, got)
			}
			for what, creds := range map[string][2]string{
				"a wrong secret":              {f.clientID, "wrong"},
				"another realm's application": {oID, oSecret},
				"no credentials":              {"", ""},
			} {
				resp := postToken(t, endpoint, access, creds[0], creds[1])
				if resp.Status != http.StatusUnauthorized || resp.JSON(t)["error"] != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s at %s: %d %s %v", what, endpoint, resp.Status, resp.Body, resp.Header)
				}
			}
			if resp := postToken(t, endpoint, url.Values{}, f.clientID, f.secret); resp.Status != http.StatusBadRequest || resp.JSON(t)["error"] != "invalid_request" {
				t.Errorf("no token at %s: %d %s", endpoint, resp.Status, resp.Body)
			}
		}
		// Another application of the realm sees the token as inactive, at its
		// issuer and at the realm's; at this application's issuer it is no client.
		for _, endpoint := range []string{bIssuer + "/introspect", realmEndpoint} {
			if resp := postToken(t, endpoint, access, bID, bSecret); resp.Status != http.StatusOK || string(resp.Body) != `{"active":false}`+"\n" &&
				string(resp.Body) != `{"active":false}` {
				t.Errorf("another application's token at %s: %d %s", endpoint, resp.Status, resp.Body)
			}
		}
		if resp := postToken(t, f.issuer+"/introspect", access, bID, bSecret); resp.Status != http.StatusUnauthorized {
			t.Errorf("another application's credentials at this issuer: %d %s", resp.Status, resp.Body)
		}
		otherTenant := strings.Replace(realmEndpoint, "/tenants/"+e.tenant()+"/", "/tenants/0001ffffffffffff/", 1)
		if resp := postToken(t, otherTenant, access, f.clientID, f.secret); resp.Status != http.StatusUnauthorized {
			t.Errorf("another tenant's path: %d %s", resp.Status, resp.Body)
		}

		// Management tokens: with tokens:introspect, and without.
		if got := formPost(t, realmEndpoint, http.Header{"Authorization": {"Bearer " + c.token}}, access).JSON(t); got["active"] != true {
			t.Errorf("a management token: %v", got)
		}
		creds := e.node.Creds()
		weak := str(t, postToken(t, creds.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "scope": {"tokens:read"}},
			creds.ClientID, creds.ClientSecret).JSON(t), "access_token")
		if resp := formPost(t, realmEndpoint, http.Header{"Authorization": {"Bearer " + weak}}, access); resp.Status != http.StatusForbidden {
			t.Errorf("a management token without tokens:introspect: %d %s", resp.Status, resp.Body)
		}
	})
}

// TestUserinfo: the access token in the header or the POST body (never
// both), only at the userinfo of the application that issued it, with the
// profile's given and family names and when it was updated.
func TestUserinfo(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Userinfo")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		c.patch(t, "/realms/"+f.realm+"/identities/"+f.ada.identity, map[string]any{"identity": map[string]any{"traits": map[string]any{
			"type": "traits_v0", "username": "ada", "given_name": "Ada", "family_name": "Lovelace", "primary_email_address": "ada@example.com"}}})
		bApp, _, _ := oidcClient(t, e.node, f.realm, "https://b.example.com/cb")
		q := signInQuery(f.clientID, f.callback)
		q.Set("scope", "openid profile email")
		token := str(t, f.signedIn(t, q), "access_token")

		bearer := http.Header{"Authorization": {"Bearer " + token}}
		for what, resp := range map[string]testenv.Response{
			"GET with the header":  send(t, "GET", f.issuer+"/userinfo", bearer, nil),
			"POST with the header": formPost(t, f.issuer+"/userinfo", bearer.Clone(), url.Values{}),
			"POST with the body":   formPost(t, f.issuer+"/userinfo", nil, url.Values{"access_token": {token}}),
		} {
			got := resp.JSON(t)
			if resp.Status != http.StatusOK || got["sub"] != f.ada.identity || got["given_name"] != "Ada" || got["family_name"] != "Lovelace" ||
				got["email"] != "ada@example.com" || got["updated_at"] == nil || got["email_verified"] != nil {
				t.Errorf("%s: %d %s", what, resp.Status, resp.Body)
			}
		}
		both := formPost(t, f.issuer+"/userinfo", bearer.Clone(), url.Values{"access_token": {token}})
		if both.Status != http.StatusBadRequest || both.JSON(t)["error"] != "invalid_request" ||
			!strings.Contains(both.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("the token twice: %d %s %v", both.Status, both.Body, both.Header)
		}
		bIssuer := strings.Replace(f.issuer, f.app, bApp, 1)
		for what, resp := range map[string]testenv.Response{
			"another application's userinfo":  send(t, "GET", bIssuer+"/userinfo", bearer, nil),
			"another application's, the body": formPost(t, bIssuer+"/userinfo", nil, url.Values{"access_token": {token}}),
			"no token":                        send(t, "GET", f.issuer+"/userinfo", nil, nil),
			"a management token":              send(t, "GET", f.issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + c.token}}, nil),
		} {
			if resp.Status != http.StatusUnauthorized || resp.JSON(t)["error"] != "invalid_token" ||
				!strings.Contains(resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("%s: %d %s %v", what, resp.Status, resp.Body, resp.Header)
			}
		}
	})
}

// TestOPCORS: a browser app served from the origin of one of the
// application's redirect URIs may call its token, userinfo, revocation and
// introspection endpoints and read its discovery (preflights included); a
// foreign origin, or another application's, may not.
func TestOPCORS(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "CORS")
		oidcClient(t, e.node, f.realm, "https://b.example.com/cb")
		const mine = "https://app.example.com"
		for _, path := range []string{"/token", "/userinfo", "/revoke", "/introspect", "/.well-known/openid-configuration"} {
			for origin, allowed := range map[string]bool{mine: true, "https://evil.example": false, "https://b.example.com": false} {
				pre := send(t, "OPTIONS", f.issuer+path, http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"},
					"Access-Control-Request-Headers": {"authorization, content-type"}}, nil)
				got := pre.Header.Get("Access-Control-Allow-Origin")
				if pre.Status != http.StatusNoContent || (got == origin) != allowed || (!allowed && got != "") ||
					allowed && !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
					t.Errorf("preflight of %s from %s: %d %v", path, origin, pre.Status, pre.Header)
				}
			}
		}
		// The answers themselves, errors too, carry the header for the app's origin only.
		for origin, want := range map[string]string{mine: mine, "https://evil.example": ""} {
			token := formPost(t, f.issuer+"/token", http.Header{"Origin": {origin}}, url.Values{"grant_type": {"refresh_token"},
				"client_id": {f.clientID}, "client_secret": {f.secret}, "refresh_token": {"nope"}})
			discovery := send(t, "GET", f.issuer+"/.well-known/openid-configuration", http.Header{"Origin": {origin}}, nil)
			if token.Header.Get("Access-Control-Allow-Origin") != want || discovery.Header.Get("Access-Control-Allow-Origin") != want ||
				token.Status != http.StatusBadRequest || discovery.Status != http.StatusOK {
				t.Errorf("from %s: token %d %v, discovery %d %v", origin, token.Status, token.Header, discovery.Status, discovery.Header)
			}
		}
		if jwks := send(t, "GET", f.issuer+"/.well-known/jwks.json", http.Header{"Origin": {mine}}, nil); jwks.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("JWKS: %v", jwks.Header)
		}
	})
}

// TestAuthorizationParameters: request objects are refused at the redirect
// URI, response_mode query or form_post is honoured (form_post posts the
// response from an auto-submitting page with a CSP nonce), another mode is
// refused, the claims parameter is ignored, offline_access gives a refresh
// token.
func TestAuthorizationParameters(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "Parameters")
		e.api.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		with := func(kv ...string) url.Values {
			q := signInQuery(f.clientID, f.callback)
			for i := 0; i < len(kv); i += 2 {
				q.Set(kv[i], kv[i+1])
			}
			return q
		}
		for want, q := range map[string]url.Values{
			"request_not_supported":     with("request", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."),
			"request_uri_not_supported": with("request_uri", "https://app.example.com/request.jwt"),
			"invalid_request":           with("response_mode", "fragment"),
		} {
			resp := authorize(t, f.issuer, q)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != want || loc.Query().Get("state") != "st" ||
				!strings.HasPrefix(loc.String(), f.callback+"?") || strings.Contains(loc.Query().Get("error_description"), `"`) {
				t.Errorf("%s: %d to %s", want, resp.StatusCode, loc)
			}
		}

		// An error in form_post: a page that posts it.
		page := sendWith(t, noRedirects, "GET", f.issuer+"/authorize?"+with("response_mode", "form_post", "request", "x").Encode(), nil, nil)
		body, csp := html.UnescapeString(string(page.Body)), page.Header.Get("Content-Security-Policy")
		nonce := strings.SplitN(strings.SplitN(csp, "'nonce-", 2)[1], "'", 2)[0]
		if page.Status != http.StatusOK || !strings.Contains(body, `<form method="post" action="`+f.callback+`"`) ||
			!strings.Contains(body, `name="error" value="request_not_supported"`) || !strings.Contains(body, `name="state" value="st"`) ||
			!strings.Contains(body, `<script nonce="`+nonce+`">`) || !strings.Contains(csp, "form-action https://app.example.com;") {
			t.Errorf("form_post error page: %d %s\n%s", page.Status, csp, body)
		}

		// A sign-in in form_post: the hosted page is told the form to post.
		q := with("response_mode", "form_post", "claims", `{"userinfo":{"given_name":null}}`, "scope", "openid offline_access")
		if csp := sendWith(t, noRedirects, "GET", f.issuer+"/authorize?"+q.Encode(), nil, nil).Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://app.example.com;") {
			t.Errorf("the sign-in page's CSP: %s", csp)
		}
		answer := f.ada.signIn(t, f.issuer, q)
		form := obj(t, answer, "form")
		fields := obj(t, form, "fields")
		code, _ := fields["code"].([]any)
		if form["action"] != f.callback || len(code) != 1 || fields["state"].([]any)[0] != "st" || len(fields) != 2 {
			t.Fatalf("form_post sign-in: %v", answer)
		}
		status, tokens := redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"authorization_code"},
			"code": {code[0].(string)}, "redirect_uri": {f.callback}, "code_verifier": {sdkVerifier}})
		if status != http.StatusOK || tokens["refresh_token"] == nil || tokens["scope"] != "openid offline_access" {
			t.Errorf("openid offline_access: %d %v", status, tokens)
		}
	})
}

// TestDiscovery: the metadata says exactly what the application's
// endpoints honour.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "Discovery")
		m := send(t, "GET", f.issuer+"/.well-known/openid-configuration", nil, nil).JSON(t)
		list := func(key string) []string {
			var out []string
			for _, v := range m[key].([]any) {
				out = append(out, v.(string))
			}
			return out
		}
		for key, want := range map[string][]string{
			"response_modes_supported":                      {"query", "form_post"},
			"response_types_supported":                      {"code"},
			"grant_types_supported":                         {"authorization_code", "refresh_token"},
			"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post"},
			"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
			"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post"},
			"code_challenge_methods_supported":              {"S256"},
			"scopes_supported":                              {"openid", "profile", "email", "offline_access"},
			"id_token_signing_alg_values_supported":         {"RS256"},
		} {
			if got := list(key); !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", key, got, want)
			}
		}
		for key, want := range map[string]any{
			"issuer": f.issuer, "introspection_endpoint": f.issuer + "/introspect", "revocation_endpoint": f.issuer + "/revoke",
			"userinfo_endpoint": f.issuer + "/userinfo", "request_parameter_supported": false, "request_uri_parameter_supported": false,
			"claims_parameter_supported": false,
		} {
			if m[key] != want {
				t.Errorf("%s: %v, want %v", key, m[key], want)
			}
		}
		for _, claim := range []string{"given_name", "family_name", "updated_at", "email", "auth_time", "nonce"} {
			if !slices.Contains(list("claims_supported"), claim) {
				t.Errorf("claims_supported lacks %s", claim)
			}
		}
	})
}

// TestRefreshTokenConfiguration: the API sets how refresh tokens live; the
// defaults are 30 days, no absolute bound, rotating; a non-rotating
// application answers the same refresh token again.
func TestRefreshTokenConfiguration(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Refresh config")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		app := func(rc map[string]any) map[string]any {
			pc := map[string]any{"type": "oidc", "grant_type": []string{"authorization_code", "refresh_token"},
				"redirect_uris": []string{"https://x.example.com/cb"}, "token_configuration": map[string]any{"expires_after": 60}}
			if rc != nil {
				pc["refresh_token_configuration"] = rc
			}
			return map[string]any{"application": map[string]any{"display_name": "X", "protocol_config": pc}}
		}
		rcOf := func(a map[string]any) map[string]any {
			return obj(t, obj(t, a, "protocol_config"), "refresh_token_configuration")
		}
		if got := rcOf(c.post(t, "/realms/"+f.realm+"/applications", app(nil))); got["expires_after"] != float64(2592000) ||
			got["absolute_lifetime"] != float64(0) || got["rotation_type"] != "rotating" {
			t.Errorf("defaults: %v", got)
		}
		set := map[string]any{"expires_after": 600, "absolute_lifetime": 3600, "rotation_type": "non_rotating"}
		created := c.post(t, "/realms/"+f.realm+"/applications", app(set))
		if got := rcOf(c.get(t, "/realms/"+f.realm+"/applications/"+str(t, created, "id"))); got["expires_after"] != float64(600) ||
			got["absolute_lifetime"] != float64(3600) || got["rotation_type"] != "non_rotating" {
			t.Errorf("as set: %v", got)
		}
		for field, rc := range map[string]map[string]any{
			"rotation_type":     {"rotation_type": "sometimes"},
			"expires_after":     {"expires_after": -1},
			"absolute_lifetime": {"absolute_lifetime": -5},
		} {
			assertInvalid(t, c.do(t, "POST", "/realms/"+f.realm+"/applications", app(rc)),
				"application.protocol_config.refresh_token_configuration."+field, "")
		}

		c.patch(t, "/realms/"+f.realm+"/applications/"+f.app, map[string]any{"application": map[string]any{"protocol_config": map[string]any{
			"refresh_token_configuration": map[string]any{"rotation_type": "non_rotating"}}}})
		tokens := f.signedIn(t, signInQuery(f.clientID, f.callback))
		for range 2 {
			status, again := redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(t, tokens, "refresh_token")}})
			if status != http.StatusOK || again["refresh_token"] != tokens["refresh_token"] {
				t.Errorf("a non-rotating refresh: %d %v", status, again)
			}
		}
	})
}
