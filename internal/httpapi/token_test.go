package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/testenv"
)

// postToken posts form to a token endpoint, with HTTP Basic client
// credentials when id is not "".
func postToken(t testing.TB, endpoint string, form url.Values, id, secret string) testenv.Response {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if id != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	}
	return send(t, "POST", endpoint, h, strings.NewReader(form.Encode()))
}

// assertTokenResponse requires a successful client-credentials answer and
// returns it.
func assertTokenResponse(t testing.TB, resp testenv.Response, scope string, expiresIn int) map[string]any {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("token endpoint: status %d: %s", resp.Status, resp.Body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	m := resp.JSON(t)
	assertKeys(t, m, "access_token", "token_type", "expires_in", "scope")
	if m["token_type"] != "Bearer" {
		t.Errorf("token_type %v, want Bearer", m["token_type"])
	}
	if got := num(t, m, "expires_in"); got != expiresIn {
		t.Errorf("expires_in %d, want %d", got, expiresIn)
	}
	if m["scope"] != scope {
		t.Errorf("scope %q, want %q", m["scope"], scope)
	}
	return m
}

// assertOAuthError requires an RFC 6749 error answer.
func assertOAuthError(t testing.TB, resp testenv.Response, status int, code string) {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	m := resp.JSON(t)
	if m["error"] != code {
		t.Errorf("error %v, want %s (%s)", m["error"], code, resp.Body)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Errorf("unexpected key %q in %s", k, resp.Body)
		}
	}
	if status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

var tokenIDRE = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

// verifyJWT checks an access token against the JWKS its jku names and
// returns its claims as raw JSON values.
func verifyJWT(t testing.TB, e *env, raw, scope string, lifetime int) map[string]any {
	t.Helper()
	creds := e.node.Creds()
	jwksURL := e.issuer() + "/.well-known/jwks.json"

	resp := send(t, "GET", jwksURL, nil, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("JWKS: status %d: %s", resp.Status, resp.Body)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("JWKS Cache-Control %q has no max-age", cc)
	}
	var rawSet struct{ Keys []map[string]any }
	if err := json.Unmarshal(resp.Body, &rawSet); err != nil || len(rawSet.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", resp.Body, err)
	}
	for _, k := range rawSet.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS publishes private key part %q", private)
			}
		}
		// RS256 signs tokens, ES256 the embedded SDK's request JWTs.
		rsa := k["kty"] == "RSA" && k["alg"] == "RS256"
		ec := k["kty"] == "EC" && k["alg"] == "ES256" && k["crv"] == "P-256"
		if !(rsa || ec) || k["use"] != "sig" || k["kid"] == "" {
			t.Errorf("JWKS key %v", k)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Body, &set); err != nil {
		t.Fatal(err)
	}

	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	h := tok.Headers[0]
	if h.Algorithm != "RS256" {
		t.Errorf("alg %s", h.Algorithm)
	}
	if jku := h.ExtraHeaders["jku"]; jku != jwksURL {
		t.Errorf("jku %v, want %s", jku, jwksURL)
	}
	found := set.Key(h.KeyID)
	if h.KeyID == "" || len(found) != 1 {
		t.Fatalf("kid %q names %d keys of the JWKS", h.KeyID, len(found))
	}
	var claims map[string]any
	if err := tok.Claims(found[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the JWKS key: %v", err)
	}
	var std jwt.Claims
	if err := tok.Claims(found[0].Key, &std); err != nil {
		t.Fatal(err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{
		Issuer: e.issuer(), Subject: creds.ClientID, AnyAudience: jwt.Audience{oauth.ManagementAPI}, Time: time.Now(),
	}, 0); err != nil {
		t.Errorf("standard claims: %v (%v)", err, claims)
	}

	wantIss := e.node.URL + "/v1/tenants/" + creds.TenantID + "/realms/" + creds.RealmID + "/applications/" + creds.ApplicationID
	if claims["iss"] != wantIss {
		t.Errorf("iss %v, want %s", claims["iss"], wantIss)
	}
	if claims["sub"] != creds.ClientID {
		t.Errorf("sub %v, want the client id %s", claims["sub"], creds.ClientID)
	}
	if aud, ok := claims["aud"].([]any); !ok || len(aud) != 1 || aud[0] != "beyondidentity" {
		t.Errorf(`aud %#v, want ["beyondidentity"]`, claims["aud"])
	}
	iat, nbf, exp := num(t, claims, "iat"), num(t, claims, "nbf"), num(t, claims, "exp")
	if d := time.Since(time.Unix(int64(iat), 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("iat %d is not now", iat)
	}
	if nbf != iat || exp-iat != lifetime {
		t.Errorf("iat %d nbf %d exp %d, want nbf = iat and exp = iat + %d", iat, nbf, exp, lifetime)
	}
	if !tokenIDRE.MatchString(str(t, claims, "jti")) {
		t.Errorf("jti %v is not 32 alphanumerics", claims["jti"])
	}
	if claims["scope"] != scope {
		t.Errorf("scope claim %q, want %q", claims["scope"], scope)
	}
	principal := "tenants/" + creds.TenantID + "/realms/" + creds.RealmID + "/applications/" + creds.ApplicationID
	for k, want := range map[string]string{"azp": principal, "bi_p": principal, "bi_t": creds.TenantID, "bi_r": "*"} {
		if claims[k] != want {
			t.Errorf("%s %v, want %s", k, claims[k], want)
		}
	}
	return claims
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		creds := e.node.Creds()
		allScopes := strings.Join(oauth.ManagementScopes, " ")
		const day = 86400
		cc := url.Values{"grant_type": {"client_credentials"}}
		with := func(kv ...string) url.Values {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}

		t.Run("basic auth, every scope", func(t *testing.T) {
			m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, cc, creds.ClientID, creds.ClientSecret), allScopes, day)
			raw := str(t, m, "access_token")
			verifyJWT(t, e, raw, allScopes, day)
			e.api.withToken(raw).get(t, "")
		})

		t.Run("form credentials", func(t *testing.T) {
			form := with("grant_type", "client_credentials", "client_id", creds.ClientID, "client_secret", creds.ClientSecret)
			m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, "", ""), allScopes, day)
			verifyJWT(t, e, str(t, m, "access_token"), allScopes, day)
		})

		t.Run("scope subset", func(t *testing.T) {
			form := with("grant_type", "client_credentials", "scope", "realms:read  identities:read realms:read")
			m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret),
				"realms:read identities:read", day)
			raw := str(t, m, "access_token")
			verifyJWT(t, e, raw, "realms:read identities:read", day)
			api := e.api.withToken(raw)
			api.get(t, "/realms")
			assertBareError(t, api.do(t, "GET", "", nil), http.StatusForbidden, "forbidden", "forbidden")
		})

		t.Run("expiration_time", func(t *testing.T) {
			for _, tc := range []struct {
				value string
				want  int
			}{{"120", 120}, {"86400", day}, {"999999", day}} {
				form := with("grant_type", "client_credentials", "expiration_time", tc.value)
				m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret), allScopes, tc.want)
				verifyJWT(t, e, str(t, m, "access_token"), allScopes, tc.want)
			}
			// A token of SCIM scopes only may outlive the configured lifetime, up to a maximum.
			const maxSCIM = 366 * day
			for _, tc := range []struct {
				scope, value string
				want         int
			}{
				{"scim:all", "31536000", 31536000},
				{"scim:users:read scim:groups:update", "99999999", maxSCIM},
				{"scim:all", "120", 120},
				{"scim:all identities:read", "31536000", day},
			} {
				form := with("grant_type", "client_credentials", "scope", tc.scope, "expiration_time", tc.value)
				m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret), tc.scope, tc.want)
				verifyJWT(t, e, str(t, m, "access_token"), tc.scope, tc.want)
			}
		})

		t.Run("custom_claims", func(t *testing.T) {
			form := with("grant_type", "client_credentials", "scope", "realms:read", "custom_claims", `{"plan":"gold","seats":[1,2]}`)
			m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret), "realms:read", day)
			custom, _ := verifyJWT(t, e, str(t, m, "access_token"), "realms:read", day)["bi_custom"].(map[string]any)
			if seats, _ := custom["seats"].([]any); custom["plan"] != "gold" || len(seats) != 2 {
				t.Errorf("bi_custom %v", custom)
			}
		})

		t.Run("errors", func(t *testing.T) {
			otherApp := e.node.URL + "/v1/tenants/" + creds.TenantID + "/realms/" + creds.RealmID + "/applications/" +
				"00000000-0000-4000-8000-000000000000/token"
			otherTenant := strings.Replace(creds.TokenEndpoint, creds.TenantID, "0001ffffffffffff", 1)
			for _, tc := range []struct {
				name             string
				endpoint         string
				form             url.Values
				id, secret       string
				status           int
				code             string
				noClientIdentity bool
			}{
				{name: "unknown scope", form: with("grant_type", "client_credentials", "scope", "identities:read bogus:scope"),
					status: 400, code: "invalid_scope"},
				{name: "wrong secret", form: cc, secret: "wrong", status: 401, code: "invalid_client"},
				{name: "wrong form secret", form: with("grant_type", "client_credentials", "client_id", creds.ClientID, "client_secret", "x"),
					noClientIdentity: true, status: 401, code: "invalid_client"},
				{name: "unknown client id", form: cc, id: "AYYNcuOSpfqIf33JeegCzDIT", status: 401, code: "invalid_client"},
				{name: "no credentials", form: cc, noClientIdentity: true, status: 401, code: "invalid_client"},
				{name: "unknown application", endpoint: otherApp, form: cc, status: 401, code: "invalid_client"},
				{name: "other tenant", endpoint: otherTenant, form: cc, status: 401, code: "invalid_client"},
				{name: "password grant", form: with("grant_type", "password", "username", "a", "password", "b"),
					status: 400, code: "unsupported_grant_type"},
				{name: "missing grant_type", form: with("scope", "identities:read"), status: 400, code: "invalid_request"},
				{name: "bad expiration_time", form: with("grant_type", "client_credentials", "expiration_time", "soon"),
					status: 400, code: "invalid_request"},
				{name: "zero expiration_time", form: with("grant_type", "client_credentials", "expiration_time", "0"),
					status: 400, code: "invalid_request"},
				{name: "custom_claims not an object", form: with("grant_type", "client_credentials", "custom_claims", `["a"]`),
					status: 400, code: "invalid_request"},
				{name: "custom_claims not JSON", form: with("grant_type", "client_credentials", "custom_claims", `{plan: gold}`),
					status: 400, code: "invalid_request"},
				{name: "custom_claims too long", form: with("grant_type", "client_credentials", "custom_claims",
					`{"x":"`+strings.Repeat("x", 4096)+`"}`), status: 400, code: "invalid_request"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					endpoint := cmp(tc.endpoint, creds.TokenEndpoint)
					id, secret := cmp(tc.id, creds.ClientID), cmp(tc.secret, creds.ClientSecret)
					if tc.noClientIdentity {
						id = ""
					}
					assertOAuthError(t, postToken(t, endpoint, tc.form, id, secret), tc.status, tc.code)
				})
			}
		})
	})
}

// cmp returns a, or b when a is "".
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jwtClaims returns the payload of a JWT, unverified.
func jwtClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// tamper returns the token with one claim of its payload changed and the
// original signature kept.
func tamper(t testing.TB, raw, claim string, value any) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	m := jwtClaims(t, raw)
	m[claim] = value
	b, _ := json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := e.adminRealm()
		idn := newIdentity(t, e.api, realm, "auth-user")
		identityPath := "/realms/" + realm + "/identities/" + str(t, idn, "id")
		unauthorized := func(t *testing.T, c client) {
			t.Helper()
			assertBareError(t, c.do(t, "GET", "/realms", nil), http.StatusUnauthorized, "unauthorized", "unauthorized")
		}
		forbidden := func(t *testing.T, c client, method, path string, body any) {
			t.Helper()
			assertBareError(t, c.do(t, method, path, body), http.StatusForbidden, "forbidden", "forbidden")
		}

		t.Run("no token", func(t *testing.T) { unauthorized(t, e.api.withToken("")) })
		t.Run("garbage token", func(t *testing.T) { unauthorized(t, e.api.withToken("garbage")) })
		t.Run("garbage JWT", func(t *testing.T) { unauthorized(t, e.api.withToken("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")) })
		t.Run("basic scheme", func(t *testing.T) {
			unauthorized(t, e.api.withToken("").withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:b"))))
		})
		t.Run("tampered claims", func(t *testing.T) {
			unauthorized(t, e.api.withToken(tamper(t, e.api.token, "scope", "realms:read")))
		})
		t.Run("lowercase bearer scheme", func(t *testing.T) {
			e.api.withToken("").withHeader("Authorization", "bearer "+e.api.token).get(t, "/realms")
		})

		t.Run("missing scope", func(t *testing.T) {
			c := e.api.withToken(e.node.Token(t, "identities:read"))
			c.get(t, "/realms/"+realm+"/identities")
			c.get(t, identityPath)
			forbidden(t, c, "POST", "/realms/"+realm+"/identities",
				map[string]any{"identity": map[string]any{"display_name": "x", "traits": map[string]any{"username": "x"}}})
			forbidden(t, c, "DELETE", identityPath, nil)
			forbidden(t, c, "GET", "", nil)
			forbidden(t, c, "GET", "/realms", nil)
			// :listGroups needs groups:read as well.
			forbidden(t, c, "GET", identityPath+":listGroups", nil)
			e.api.withToken(e.node.Token(t, "identities:read groups:read")).get(t, identityPath+":listGroups")
		})

		t.Run("other tenant", func(t *testing.T) {
			c := e.api
			c.tenant = "0001ffffffffffff"
			forbidden(t, c, "GET", "", nil)
			forbidden(t, c, "GET", "/realms", nil)
			forbidden(t, c, "GET", "/realms/"+realm+"/identities", nil)
			forbidden(t, c, "PATCH", "", map[string]any{"tenant": map[string]any{"display_name": "Stolen"}})
			if got := str(t, e.api.get(t, ""), "display_name"); got == "Stolen" {
				t.Error("a token of another tenant renamed the tenant")
			}
		})
	})
}

func TestTokenRecords(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		creds := e.node.Creds()
		tokensPath := "/realms/" + creds.RealmID + "/applications/" + creds.ApplicationID + "/tokens"

		// Two tokens whose records the test inspects.
		issue := func(scope string) (raw, jti string, claims map[string]any) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
			m := assertTokenResponse(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret), scope, 86400)
			raw = str(t, m, "access_token")
			claims = verifyJWT(t, e, raw, scope, 86400)
			return raw, str(t, claims, "jti"), claims
		}
		readRaw, readJTI, readClaims := issue("identities:read")
		victimRaw, victimJTI, _ := issue("realms:read")

		all := e.api.listAll(t, tokensPath, "tokens")
		if len(all) < 3 { // the test's own token and the two above
			t.Fatalf("%d token records, want at least 3", len(all))
		}
		var rec map[string]any
		for _, r := range all {
			if r["id"] == readJTI {
				rec = r
			}
		}
		if rec == nil {
			t.Fatalf("no record with id %s in %v", readJTI, ids(all))
		}
		assertKeys(t, rec, "id", "scopes", "token_suffix", "token_format", "token_type", "issued_at", "expires")
		if scopes, _ := rec["scopes"].([]any); len(scopes) != 1 || scopes[0] != "identities:read" {
			t.Errorf("scopes %v", rec["scopes"])
		}
		if suffix := str(t, rec, "token_suffix"); suffix == "" || !strings.HasSuffix(readRaw, suffix) || len(suffix) > 16 {
			t.Errorf("token_suffix %q is not a short end of the token", suffix)
		}
		if rec["token_format"] != "self_contained" || rec["token_type"] != "access" {
			t.Errorf("token_format %v token_type %v", rec["token_format"], rec["token_type"])
		}
		if num(t, rec, "issued_at") != num(t, readClaims, "iat") || num(t, rec, "expires") != num(t, readClaims, "exp") {
			t.Errorf("issued_at %v expires %v, want the token's iat %v and exp %v", rec["issued_at"], rec["expires"], readClaims["iat"], readClaims["exp"])
		}

		t.Run("principal filters", func(t *testing.T) {
			got := e.api.list(t, tokensPath, "principal_type", "application")
			if num(t, got, "total_size") != len(all) {
				t.Errorf("principal_type=application: total_size %v, want %d", got["total_size"], len(all))
			}
			got = e.api.list(t, tokensPath, "principal_type", "identity")
			if len(items(t, got, "tokens")) != 0 || num(t, got, "total_size") != 0 {
				t.Errorf("principal_type=identity: %v", got)
			}
			got = e.api.list(t, tokensPath, "principal_id", creds.ApplicationID)
			if num(t, got, "total_size") != len(all) {
				t.Errorf("principal_id=app: total_size %v", got["total_size"])
			}
			got = e.api.list(t, tokensPath, "principal_id", "someone-else")
			if num(t, got, "total_size") != 0 {
				t.Errorf("principal_id=other: total_size %v", got["total_size"])
			}
			assertInvalid(t, e.api.do(t, "GET", tokensPath+"?principal_type=robot", nil), "principal_type", "")
		})

		t.Run("paging", func(t *testing.T) {
			page := e.api.list(t, tokensPath, "page_size", "1")
			if len(items(t, page, "tokens")) != 1 || str(t, page, "next_page_token") == "" {
				t.Errorf("page_size=1: %v", page)
			}
			page = e.api.list(t, tokensPath, "page_size", "500")
			if len(items(t, page, "tokens")) != len(all) {
				t.Errorf("page_size=500 on %d tokens gave %d", len(all), len(items(t, page, "tokens")))
			}
		})

		t.Run("scopes", func(t *testing.T) {
			c := e.api.withToken(readRaw)
			assertBareError(t, c.do(t, "GET", tokensPath, nil), http.StatusForbidden, "forbidden", "forbidden")
			assertBareError(t, c.do(t, "DELETE", tokensPath+"/"+victimJTI, nil), http.StatusForbidden, "forbidden", "forbidden")
			e.api.withToken(e.node.Token(t, "tokens:read")).get(t, tokensPath)
		})

		t.Run("unknown application", func(t *testing.T) {
			other := "/realms/" + creds.RealmID + "/applications/00000000-0000-4000-8000-000000000000/tokens"
			body := assertError(t, e.api.do(t, "GET", other, nil), http.StatusNotFound, "not_found", "The requested resource was not found.")
			assertKeys(t, body, "code", "message")
			assertError(t, e.api.do(t, "DELETE", other+"/"+victimJTI, nil), http.StatusNotFound, "not_found", "The requested resource was not found.")
		})

		t.Run("delete revokes", func(t *testing.T) {
			victim := e.api.withToken(victimRaw)
			victim.get(t, "/realms")
			e.api.del(t, tokensPath+"/"+victimJTI)
			assertBareError(t, victim.do(t, "GET", "/realms", nil), http.StatusUnauthorized, "unauthorized", "unauthorized")
			for _, r := range e.api.listAll(t, tokensPath, "tokens") {
				if r["id"] == victimJTI {
					t.Error("the deleted token is still listed")
				}
			}
			assertNotFound(t, e.api.do(t, "DELETE", tokensPath+"/"+victimJTI, nil), "Token", victimJTI, "token not found")
			// The other token is untouched.
			e.api.withToken(readRaw).get(t, "/realms/"+creds.RealmID+"/identities")
		})

		t.Run("token deletes itself", func(t *testing.T) {
			raw, jti, _ := issue("tokens:delete realms:read")
			self := e.api.withToken(raw)
			self.del(t, tokensPath+"/"+jti)
			assertBareError(t, self.do(t, "GET", "/realms", nil), http.StatusUnauthorized, "unauthorized", "unauthorized")
		})
	})
}

// TestClientCredentialsLibrary: a real OAuth 2.0 client library
// (x/oauth2/clientcredentials) gets management tokens from the token
// endpoint, by HTTP Basic and by form credentials, and they work.
func TestClientCredentialsLibrary(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		creds := e.node.Creds()
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cc := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
				TokenURL: creds.TokenEndpoint, Scopes: []string{"realms:read"}, AuthStyle: style}
			tok, err := cc.Token(t.Context())
			if err != nil {
				t.Fatalf("auth style %d: %v", style, err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(time.Hour)) || tok.Extra("scope") != "realms:read" {
				t.Errorf("auth style %d: token %+v scope %v", style, tok, tok.Extra("scope"))
			}
			resp, err := cc.Client(t.Context()).Get(e.api.url("/realms"))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("list realms with the library's client: %v %v", resp, err)
			}
			resp.Body.Close()
		}
		bad := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: "wrong", TokenURL: creds.TokenEndpoint}
		var re *oauth2.RetrieveError
		if _, err := bad.Token(t.Context()); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("wrong secret: %v", err)
		}
	})
}
