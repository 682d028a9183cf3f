package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/descope/virtualwebauthn"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/testenv"
)

// passkeyHolder is an identity with a WebAuthn passkey in a software
// authenticator, which signs in without a browser.
type passkeyHolder struct {
	identity string
	auth     virtualwebauthn.Authenticator
	cred     virtualwebauthn.Credential
	origin   string
}

// newPasskeyHolder binds a passkey on Latchkey's origin (the node's URL)
// for a new identity.
func newPasskeyHolder(t testing.TB, origin string, c client, realm, username string) passkeyHolder {
	t.Helper()
	return newPasskeyHolderWith(t, origin, c, realm, username, virtualwebauthn.AuthenticatorOptions{})
}

// newPasskeyHolderWith is newPasskeyHolder with an authenticator of the
// options given (its user handle is the identity's id).
func newPasskeyHolderWith(t testing.TB, origin string, c client, realm, username string, opts virtualwebauthn.AuthenticatorOptions) passkeyHolder {
	t.Helper()
	h := passkeyHolder{identity: str(t, newIdentity(t, c, realm, username), "id"), origin: origin}
	opts.UserHandle = []byte(h.identity)
	h.auth = virtualwebauthn.NewAuthenticatorWithOptions(opts)
	h.cred = newCredential(t)
	b := newBinding(t, c, realm, h.identity, hostedConfig(t, c, realm))
	info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
	if resp := b.call(t, c, "bind", b.token, webauthnProofWith(t, info, h.origin, h.auth, h.cred)); resp.Status != http.StatusOK {
		t.Fatalf("bind: %d %s", resp.Status, resp.Body)
	}
	return h
}

var signinRequest = regexp.MustCompile(`<script nonce="[^"]*" id="request" type="application/json">(.*?)</script>`)

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{Transport: pooledHTTP.Transport,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize opens /authorize with the query and returns the answer.
func authorize(t *testing.T, issuer string, q url.Values) *http.Response {
	t.Helper()
	resp, err := noRedirects.Get(issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// signinPageRequest is what the hosted sign-in page holds: the sign-in's
// id, its WebAuthn options and where to post the assertion.
type signinPageRequest struct {
	ID      string          `json:"id"`
	URL     string          `json:"url"`
	Options json.RawMessage `json:"options"`
}

// signinPage opens /authorize with the query and returns what the hosted
// sign-in page holds.
func signinPage(t testing.TB, issuer string, q url.Values) signinPageRequest {
	t.Helper()
	return signinPageAt(t, issuer+"/authorize?"+q.Encode())
}

// signinPageAt opens pageURL, which answers with the hosted sign-in page
// (an /authorize or a SAML request), and returns what the page holds.
func signinPageAt(t testing.TB, pageURL string) signinPageRequest {
	t.Helper()
	page := sendWith(t, noRedirects, "GET", pageURL, nil, nil)
	m := signinRequest.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil {
		t.Fatalf("the sign-in page: %d %s", page.Status, page.Body)
	}
	var req signinPageRequest
	if err := json.Unmarshal(m[1], &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// signIn passes the hosted page's ceremony with the holder's passkey and
// returns the answer of /signin.
func (h passkeyHolder) signIn(t testing.TB, issuer string, q url.Values) map[string]any {
	t.Helper()
	answer := h.signInAnswer(t, issuer, q)
	body := answer.JSON(t)
	if answer.Status != http.StatusOK {
		body["status"] = float64(answer.Status) // with the API error's message and details
	}
	if u, ok := body["refused"].(string); ok { // the refusal's page, as the browser is sent to it
		page := send(t, "GET", u, nil, nil)
		body["status"], body["page"] = float64(page.Status), string(page.Body)
	}
	return body
}

// signInAnswer is signIn's whole HTTP answer, headers included.
func (h passkeyHolder) signInAnswer(t testing.TB, issuer string, q url.Values) testenv.Response {
	t.Helper()
	return h.signInAt(t, issuer+"/authorize?"+q.Encode())
}

// signInAt passes the ceremony of the hosted sign-in page that pageURL
// answers with, and returns the answer of its sign-in endpoint.
func (h passkeyHolder) signInAt(t testing.TB, pageURL string) testenv.Response {
	t.Helper()
	req := signinPageAt(t, pageURL)
	opts, err := virtualwebauthn.ParseAssertionOptions(string(req.Options))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(h.origin)
	assertion := virtualwebauthn.CreateAssertionResponse(virtualwebauthn.RelyingParty{ID: u.Hostname(), Name: "x", Origin: h.origin}, h.auth, h.cred, *opts)
	return send(t, "POST", h.origin+req.URL, http.Header{"Content-Type": {"application/json"}},
		strings.NewReader(`{"request":"`+req.ID+`","credential":`+assertion+`}`))
}

// signInQuery is an authorization request for an OpenID sign-in with PKCE (verifier sdkVerifier).
func signInQuery(clientID, redirectURI string) url.Values {
	return url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(sdkVerifier)},
		"code_challenge_method": {"S256"}}
}

// redeem posts to the token endpoint with HTTP Basic client credentials.
func redeem(t *testing.T, issuer, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	return postForm(t, issuer+"/token", clientID, secret, form)
}

// postForm posts a form to an OAuth endpoint with HTTP Basic client credentials.
func postForm(t *testing.T, endpoint, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp := postToken(t, endpoint, form, clientID, secret)
	var body map[string]any
	json.Unmarshal(resp.Body, &body)
	return resp.Status, body
}

// signInFixture is a realm with an OIDC client and an identity with a passkey.
type signInFixture struct {
	realm, callback, app, clientID, secret, issuer string
	ada                                            passkeyHolder
}

func newSignInFixture(t *testing.T, e *env, realmName string) signInFixture {
	t.Helper()
	f := signInFixture{realm: newRealm(t, e.api, realmName), callback: "https://app.example.com/callback"}
	f.ada = newPasskeyHolder(t, e.node.URL, e.api, f.realm, "ada")
	f.app, f.clientID, f.secret = oidcClient(t, e.node, f.realm, f.callback)
	f.issuer = e.node.URL + "/v1/tenants/" + e.api.tenant + "/realms/" + f.realm + "/applications/" + f.app
	return f
}

// TestAuthorizationCodeRefusals: every bad input of the code flow is
// refused with the RFC's error, and nothing is issued.
func TestAuthorizationCodeRefusals(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Refusals")
		realm, ada, callback, clientID, secret, issuer := f.realm, f.ada, f.callback, f.clientID, f.secret, f.issuer
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
		verifier := strings.Repeat("v", 43)
		good := url.Values{"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
		with := func(k, v string) url.Values {
			q := url.Values{}
			for kk, vv := range good {
				q[kk] = vv
			}
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			return q
		}

		// The client and its redirect URI are checked before anything is redirected.
		for _, q := range []url.Values{with("client_id", "nobody"), with("redirect_uri", "https://evil.example/cb")} {
			if resp := authorize(t, issuer, q); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("authorize %v: %d to %q, want 400 and no redirect", q, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		for q, want := range map[string]url.Values{
			"invalid_request":           with("code_challenge", ""),
			"unsupported_response_type": with("response_type", "token"),
			"login_required":            with("prompt", "none"),
		} {
			resp := authorize(t, issuer, want)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != q || loc.Query().Get("state") != "s1" ||
				!strings.HasPrefix(loc.String(), callback) {
				t.Errorf("%s: %d to %s", q, resp.StatusCode, loc)
			}
		}

		answer := ada.signIn(t, issuer, good)
		to, _ := url.Parse(str(t, answer, "redirect"))
		code := to.Query().Get("code")
		if code == "" || to.Query().Get("state") != "s1" {
			t.Fatalf("sign-in answered %v", answer)
		}
		exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier}}
		refusals := []struct {
			what, secret string
			form         url.Values
			status       int
			err          string
		}{
			{"a wrong client secret", "wrong", exchange, http.StatusUnauthorized, "invalid_client"},
			{"a wrong PKCE verifier", secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {strings.Repeat("w", 43)}}, http.StatusBadRequest, "invalid_grant"},
			{"another redirect URI", secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example.com/other"}, "code_verifier": {verifier}}, http.StatusBadRequest, "invalid_grant"},
			{"an unknown code", secret, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {callback}, "code_verifier": {verifier}}, http.StatusBadRequest, "invalid_grant"},
		}
		for _, r := range refusals {
			if status, body := redeem(t, issuer, clientID, r.secret, r.form); status != r.status || body["error"] != r.err {
				t.Errorf("%s: %d %v, want %d %s", r.what, status, body, r.status, r.err)
			}
		}
		status, tokens := redeem(t, issuer, clientID, secret, exchange)
		if status != http.StatusOK || tokens["id_token"] == nil {
			t.Fatalf("redeem: %d %v", status, tokens)
		}
		userinfo := func() int {
			return send(t, "GET", issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + str(t, tokens, "access_token")}}, nil).Status
		}
		if s := userinfo(); s != http.StatusOK {
			t.Errorf("userinfo with the new token: %d", s)
		}
		introspect := func(token string) map[string]any {
			resp := send(t, "POST", c.url("/realms/"+realm+"/introspect"), http.Header{"Authorization": {"Bearer " + c.token},
				"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(url.Values{"token": {token}}.Encode()))
			if resp.Status != http.StatusOK {
				t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
			}
			return resp.JSON(t)
		}
		if got := introspect(str(t, tokens, "access_token")); got["active"] != true || got["sub"] != ada.identity || got["client_id"] != clientID {
			t.Errorf("introspection of the new token %v", got)
		}
		// A replayed code is refused and revokes what the first redemption bought.
		if status, body := redeem(t, issuer, clientID, secret, exchange); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("replay: %d %v", status, body)
		}
		if s := userinfo(); s != http.StatusUnauthorized {
			t.Errorf("userinfo after the code's replay: %d, want 401", s)
		}
		if got := introspect(str(t, tokens, "access_token")); len(got) != 1 || got["active"] != false {
			t.Errorf("introspection of a revoked token %v", got)
		}
		// The same code redeemed at once by several clients: one gets tokens,
		// and the others' replays revoke them.
		to, _ = url.Parse(str(t, ada.signIn(t, issuer, good), "redirect"))
		exchange.Set("code", to.Query().Get("code"))
		var mu sync.Mutex
		var won []map[string]any
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				status, body := redeem(t, issuer, clientID, secret, exchange)
				mu.Lock()
				defer mu.Unlock()
				if status == http.StatusOK {
					won = append(won, body)
				} else if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
					t.Errorf("a concurrent redemption: %d %v", status, body)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d concurrent redemptions of one code got tokens, want 1", len(won))
		}
		if got := introspect(str(t, won[0], "access_token")); got["active"] != false {
			t.Errorf("the winner's token after the concurrent replays: %v", got)
		}

		// A revoked passkey signs in no more.
		creds := c.list(t, "/realms/"+realm+"/identities/"+ada.identity+"/credentials")
		c.post(t, "/realms/"+realm+"/identities/"+ada.identity+"/credentials/"+str(t, items(t, creds, "credentials")[0], "id")+":revoke", nil)
		if got := ada.signIn(t, issuer, good); got["status"] != float64(http.StatusForbidden) ||
			!strings.Contains(fmt.Sprint(got["page"]), "This passkey was revoked") {
			t.Errorf("sign-in with a revoked passkey: %v", got)
		}
		// A passkey the realm never saw.
		stranger := ada
		stranger.cred = newCredential(t)
		if got := stranger.signIn(t, issuer, good); got["status"] != float64(http.StatusForbidden) ||
			!strings.Contains(fmt.Sprint(got["page"]), "This passkey is not registered here") {
			t.Errorf("sign-in with an unknown passkey: %v", got)
		}
	})
}

// TestRefreshTokens: refresh tokens rotate; a spent one used again revokes
// its sign-in; policy is asked again at every refresh; /revoke ends them.
func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Refresh")
		realm, ada, callback, clientID, secret, issuer := f.realm, f.ada, f.callback, f.clientID, f.secret, f.issuer
		policy := func(effect string) {
			c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": effect})
		}
		policy("allow")
		verifier := strings.Repeat("v", 43)
		signIn := func() map[string]any {
			answer := ada.signIn(t, issuer, url.Values{"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"},
				"scope": {"openid profile"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
			to, _ := url.Parse(str(t, answer, "redirect"))
			status, tokens := redeem(t, issuer, clientID, secret, url.Values{"grant_type": {"authorization_code"},
				"code": {to.Query().Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}})
			if status != http.StatusOK || tokens["refresh_token"] == nil {
				t.Fatalf("redeem: %d %v", status, tokens)
			}
			return tokens
		}
		refresh := func(token string) (int, map[string]any) {
			return redeem(t, issuer, clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
		}

		first := signIn()
		status, second := refresh(str(t, first, "refresh_token"))
		if status != http.StatusOK || second["refresh_token"] == first["refresh_token"] || second["id_token"] == nil || second["access_token"] == nil {
			t.Fatalf("refresh: %d %v", status, second)
		}
		// The spent token again: refused, and the newer one dies with it.
		if status, body := refresh(str(t, first, "refresh_token")); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("reuse: %d %v", status, body)
		}
		if status, body := refresh(str(t, second, "refresh_token")); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("the rotated token after a reuse: %d %v", status, body)
		}

		// Policy changes take effect at the next refresh.
		third := signIn()
		policy("deny")
		if status, body := refresh(str(t, third, "refresh_token")); status != http.StatusBadRequest ||
			body["error_description"] != "access denied by policy: no rule matches; the realm's default is deny" {
			t.Errorf("refresh after a deny: %d %v", status, body)
		}

		// Revocation (RFC 7009): a refresh token and an access token.
		policy("allow")
		fourth := signIn()
		for _, tok := range []string{str(t, fourth, "refresh_token"), str(t, fourth, "access_token"), "never-issued"} {
			if status, body := postForm(t, issuer+"/revoke", clientID, secret, url.Values{"token": {tok}}); status != http.StatusOK {
				t.Fatalf("revoke: %d %v", status, body)
			}
		}
		if status, _ := refresh(str(t, fourth, "refresh_token")); status != http.StatusBadRequest {
			t.Errorf("refresh with a revoked token: %d", status)
		}
		if s := send(t, "GET", issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + str(t, fourth, "access_token")}}, nil).Status; s != http.StatusUnauthorized {
			t.Errorf("userinfo with a revoked access token: %d", s)
		}
	})
}

// TestRoleScopes: a signed-in identity gets, of the scopes its app asks
// for and may grant, only those its roles hold, directly or through a group.
func TestRoleScopes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Roles")
		ada := newPasskeyHolder(t, e.node.URL, c, realm, "ada")
		rs := str(t, c.post(t, "/realms/"+realm+"/resource-servers", map[string]any{"resource_server": map[string]any{
			"display_name": "Pet API", "identifier": "https://api.mypetapp.com", "scopes": []string{"pets:read", "pets:write"}}}), "id")
		readers := newGroup(t, c, realm, "Readers")
		c.post(t, "/realms/"+realm+"/groups/"+readers+":addMembers", map[string]any{"identity_ids": []string{ada.identity}})
		role := str(t, c.post(t, "/realms/"+realm+"/resource-servers/"+rs+"/roles", map[string]any{"role": map[string]any{"display_name": "Reader"}}), "id")
		c.post(t, "/realms/"+realm+"/resource-servers/"+rs+"/roles/"+role+":addScopes", map[string]any{"scopes": []string{"pets:read"}})
		c.post(t, "/realms/"+realm+"/resource-servers/"+rs+"/roles/"+role+":addMembers", map[string]any{"group_ids": []string{readers}})
		callback := "https://app.example.com/callback"
		a := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Pets", "resource_server_id": rs, "protocol_config": map[string]any{"type": "oidc",
				"allowed_scopes": []string{"pets:read", "pets:write"}, "grant_type": []string{"authorization_code"},
				"redirect_uris": []string{callback}, "pkce": "s256", "token_configuration": map[string]any{"expires_after": 600}}}})
		pc := obj(t, a, "protocol_config")
		issuer := e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + str(t, a, "id")
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
		verifier := strings.Repeat("v", 43)
		answer := ada.signIn(t, issuer, url.Values{"client_id": {str(t, pc, "client_id")}, "redirect_uri": {callback},
			"response_type": {"code"}, "scope": {"openid pets:read pets:write"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
		to, _ := url.Parse(str(t, answer, "redirect"))
		status, tokens := redeem(t, issuer, str(t, pc, "client_id"), str(t, pc, "client_secret"), url.Values{"grant_type": {"authorization_code"},
			"code": {to.Query().Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}})
		if status != http.StatusOK {
			t.Fatalf("redeem: %d %v", status, tokens)
		}
		claims := jwtClaims(t, str(t, tokens, "access_token"))
		if claims["scope"] != "pets:read openid" || tokens["scope"] != "pets:read openid" {
			t.Errorf("scope %v (answer %v), want the role's pets:read and openid", claims["scope"], tokens["scope"])
		}
		if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.mypetapp.com" {
			t.Errorf("aud %v", claims["aud"])
		}
	})
}

// TestReferentialTokens: an application whose token_format is referential
// gets opaque access tokens, from a sign-in and from client credentials,
// which userinfo and introspection resolve from their records, the token
// list shows without the token, and revocation ends. The ID token stays a
// JWT, its at_hash that of the opaque token.
func TestReferentialTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Referential")
		ada := newPasskeyHolder(t, e.node.URL, c, realm, "ada")
		rs := str(t, c.post(t, "/realms/"+realm+"/resource-servers", map[string]any{"resource_server": map[string]any{
			"display_name": "Pet API", "identifier": "https://api.mypetapp.com", "scopes": []string{"pets:read"}}}), "id")
		callback := "https://app.example.com/callback"
		a := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Pets", "resource_server_id": rs, "protocol_config": map[string]any{"type": "oidc",
				"allowed_scopes": []string{"pets:read"}, "grant_type": []string{"authorization_code", "client_credentials"},
				"redirect_uris": []string{callback}, "pkce": "s256", "token_format": "referential",
				"token_configuration": map[string]any{"expires_after": 600}}}})
		pc := obj(t, a, "protocol_config")
		if pc["token_format"] != "referential" {
			t.Fatalf("token_format %v", pc["token_format"])
		}
		appID, clientID, secret := str(t, a, "id"), str(t, pc, "client_id"), str(t, pc, "client_secret")
		issuer := e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
		introspect := func(realm, token string) map[string]any {
			resp := send(t, "POST", c.url("/realms/"+realm+"/introspect"), http.Header{"Authorization": {"Bearer " + c.token},
				"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(url.Values{"token": {token}}.Encode()))
			if resp.Status != http.StatusOK {
				t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
			}
			return resp.JSON(t)
		}

		verifier := strings.Repeat("v", 43)
		answer := ada.signIn(t, issuer, url.Values{"client_id": {clientID}, "redirect_uri": {callback}, "response_type": {"code"},
			"scope": {"openid"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
		to, _ := url.Parse(str(t, answer, "redirect"))
		status, tokens := redeem(t, issuer, clientID, secret, url.Values{"grant_type": {"authorization_code"},
			"code": {to.Query().Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}, "custom_claims": {`{"cart":3}`}})
		if status != http.StatusOK {
			t.Fatalf("redeem: %d %v", status, tokens)
		}
		access := str(t, tokens, "access_token")
		if strings.Contains(access, ".") || len(access) < 32 {
			t.Fatalf("access token %q is not opaque", access)
		}
		sum := sha256.Sum256([]byte(access))
		if id := jwtClaims(t, str(t, tokens, "id_token")); id["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) || id["sub"] != ada.identity {
			t.Errorf("ID token claims %v", id)
		}
		info := send(t, "GET", issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + access}}, nil)
		if info.Status != http.StatusOK || info.JSON(t)["sub"] != ada.identity {
			t.Errorf("userinfo with the opaque token: %d %s", info.Status, info.Body)
		}
		got := introspect(realm, access)
		if custom, _ := got["bi_custom"].(map[string]any); got["active"] != true || got["sub"] != ada.identity ||
			got["client_id"] != clientID || got["iss"] != issuer || custom["cart"] != float64(3) {
			t.Errorf("introspection of the sign-in's token: %v", got)
		}
		if aud, _ := got["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.mypetapp.com" {
			t.Errorf("aud %v", got["aud"])
		}
		var rec map[string]any
		for _, r := range c.listAll(t, "/realms/"+realm+"/applications/"+appID+"/tokens", "tokens") {
			if r["id"] == got["jti"] {
				rec = r
			}
		}
		if rec == nil || rec["token_format"] != "referential" || rec["token_type"] != "access" || rec["id"] == access ||
			!strings.HasSuffix(access, str(t, rec, "token_suffix")) {
			t.Errorf("the token's record %v (token %s)", rec, access)
		}

		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"pets:read"}, "custom_claims": {`{"tier":"gold"}`}}
		m := assertTokenResponse(t, postToken(t, issuer+"/token", form, clientID, secret), "pets:read", 600)
		machine := str(t, m, "access_token")
		got = introspect(realm, machine)
		if custom, _ := got["bi_custom"].(map[string]any); strings.Contains(machine, ".") || got["active"] != true ||
			got["scope"] != "pets:read" || got["sub"] != clientID || custom["tier"] != "gold" {
			t.Errorf("client credentials: token %q, introspection %v", machine, got)
		}

		other := newRealm(t, c, "Elsewhere")
		if got := introspect(other, access); len(got) != 1 || got["active"] != false {
			t.Errorf("a token of another realm: %v", got)
		}
		if got := introspect(realm, strings.Repeat("z", len(access))); len(got) != 1 || got["active"] != false {
			t.Errorf("a token never issued: %v", got)
		}
		if status, body := postForm(t, issuer+"/revoke", clientID, secret, url.Values{"token": {access}}); status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if got := introspect(realm, access); len(got) != 1 || got["active"] != false {
			t.Errorf("a revoked token: %v", got)
		}
		if s := send(t, "GET", issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + access}}, nil).Status; s != http.StatusUnauthorized {
			t.Errorf("userinfo with the revoked token: %d", s)
		}
	})
}

// TestSignCountAndBackupState: the hosted page keeps a passkey's signature
// counter and backup state. A counter of 0 (a synced passkey's) signs in
// any number of times; one that counts must count up, and one that does
// not is refused as a possible copy; a backup state that changes is
// stored; a passkey that claims backup eligibility it did not have when it
// was bound is refused.
func TestSignCountAndBackupState(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "Counters")
		e.api.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		query := signInQuery(f.clientID, f.callback)
		stored := func(h passkeyHolder) passkey.WebAuthnKey {
			creds, _, err := e.node.Store.Passkey().ListCredentials(t.Context(), f.realm, h.identity, latchkey.ListOptions{Limit: 10})
			if err != nil || len(creds) != 1 || creds[0].WebAuthn == nil {
				t.Fatalf("credentials of %s: %v %v", h.identity, creds, err)
			}
			return *creds[0].WebAuthn
		}
		signIn := func(h passkeyHolder, wantRefusal string) {
			t.Helper()
			answer := h.signIn(t, f.issuer, query)
			if wantRefusal == "" && answer["redirect"] == nil {
				t.Fatalf("counter %d: %v, want a redirect with a code", h.cred.Counter, answer)
			}
			if wantRefusal != "" && (answer["redirect"] != nil || !strings.Contains(fmt.Sprint(answer), wantRefusal)) {
				t.Fatalf("counter %d: %v, want a refusal with %q", h.cred.Counter, answer, wantRefusal)
			}
		}

		ada := f.ada
		signIn(ada, "")
		signIn(ada, "")
		for _, n := range []uint32{5, 9} {
			ada.cred.Counter = n
			signIn(ada, "")
			if got := stored(ada).SignCount; got != n {
				t.Errorf("stored sign count %d, want %d", got, n)
			}
		}
		for _, n := range []uint32{9, 3} {
			ada.cred.Counter = n
			signIn(ada, "This passkey cannot be used")
		}
		if got := stored(ada).SignCount; got != 9 {
			t.Errorf("after refusals the stored sign count is %d, want 9", got)
		}

		bo := newPasskeyHolderWith(t, e.node.URL, e.api, f.realm, "bo", virtualwebauthn.AuthenticatorOptions{BackupEligible: true})
		if k := stored(bo); !k.BackupEligible || k.BackupState {
			t.Fatalf("bound: eligible %v, state %v", k.BackupEligible, k.BackupState)
		}
		bo.auth.Options.BackupState = true // synced since
		signIn(bo, "")
		if k := stored(bo); !k.BackupState {
			t.Error("the new backup state was not stored")
		}
		ada.cred.Counter = 10
		ada.auth.Options.BackupEligible = true
		signIn(ada, "Backup Eligible flag inconsistency")
	})
}
