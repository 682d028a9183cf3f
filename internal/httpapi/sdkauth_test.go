package httpapi_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// sdkFixture is a realm whose OIDC client signs in through the embedded
// SDK of https://app.example.com, with ada's software passkey and bea's
// WebAuthn passkey bound through it.
type sdkFixture struct {
	e                                            *env
	realm, config, app, clientID, secret, issuer string
	ada, bea                                     string
	adaKey                                       *ecdsa.PrivateKey
	beaAuth                                      virtualwebauthn.Authenticator
	beaCred                                      virtualwebauthn.Credential
}

const sdkOrigin = "https://app.example.com"

func newSDKFixture(t *testing.T, e *env) sdkFixture {
	t.Helper()
	c := e.api
	f := sdkFixture{e: e, realm: newRealm(t, c, "Embedded")}
	f.config = embeddedConfig(t, c, f.realm, sdkOrigin)
	f.ada = str(t, newIdentity(t, c, f.realm, "ada"), "id")
	b := newBinding(t, c, f.realm, f.ada, f.config)
	var proof map[string]any
	proof, f.adaKey = softwareProof(t, b.subject(c), b.token)
	if resp := b.call(t, c, "bind", b.token, proof); resp.Status != http.StatusOK {
		t.Fatalf("bind ada: %d %s", resp.Status, resp.Body)
	}
	f.bea = str(t, newIdentity(t, c, f.realm, "bea"), "id")
	b = newBinding(t, c, f.realm, f.bea, f.config)
	f.beaAuth, f.beaCred = virtualwebauthn.NewAuthenticator(), newCredential(t)
	info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
	if resp := b.call(t, c, "bind", b.token, webauthnProofWith(t, info, sdkOrigin, f.beaAuth, f.beaCred)); resp.Status != http.StatusOK {
		t.Fatalf("bind bea: %d %s", resp.Status, resp.Body)
	}
	f.app, f.clientID, f.secret = sdkApp(t, c, f.realm, f.config, sdkOrigin+"/callback")
	f.issuer = e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + f.realm + "/applications/" + f.app
	c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
	return f
}

var sdkVerifier = strings.Repeat("s", 43)

func (f sdkFixture) authorizeQuery() url.Values {
	return url.Values{"client_id": {f.clientID}, "redirect_uri": {sdkOrigin + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "nonce": {"n0"}, "login_hint": {"ada"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(sdkVerifier)}, "code_challenge_method": {"S256"}}
}

// sdkRequestClaims is what the SDK reads of the request JWT.
type sdkRequestClaims struct {
	jwt.Claims
	TransactionID string `json:"transaction_id"`
	Authn         struct {
		BaseURL     string `json:"base_url"`
		TID         string `json:"tid"`
		RID         string `json:"rid"`
		AID         string `json:"aid"`
		RedirectURI string `json:"redirect_uri"`
		State       string `json:"state"`
		LoginHint   string `json:"login_hint"`
		Application struct {
			DisplayName string `json:"display_name"`
		} `json:"application"`
		AuthenticatorConfig struct {
			ID     string `json:"id"`
			Config struct {
				Type string `json:"type"`
			} `json:"config"`
		} `json:"authenticator_config"`
		Action struct {
			Prove struct {
				TransactionID string `json:"transaction_id"`
				Nonce         string `json:"nonce"`
				PolicyVersion string `json:"bi_pol_ver"`
			} `json:"prove"`
		} `json:"action"`
	} `json:"authn"`
}

// start opens /authorize and returns the request JWT's claims, having
// verified it as the SDK does: by a key of the jku's JWKS (ES256, which
// the SDK accepts as it does RS256).
func (f sdkFixture) start(t *testing.T) sdkRequestClaims {
	t.Helper()
	resp := authorize(t, f.issuer, f.authorizeQuery())
	to, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || to.Scheme+"://"+to.Host+to.Path != sdkOrigin+"/bi-authenticate" {
		t.Fatalf("authorize: %d to %s", resp.StatusCode, to)
	}
	return f.verifyRequest(t, to.Query().Get("request"))
}

func (f sdkFixture) verifyRequest(t *testing.T, raw string) sdkRequestClaims {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("request JWT: %v", err)
	}
	h := tok.Headers[0]
	if h.ExtraHeaders["jku"] != f.issuer+"/.well-known/jwks.json" || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("request JWT header %+v", h)
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(send(t, "GET", f.issuer+"/.well-known/jwks.json", nil, nil).Body, &keys); err != nil || len(keys.Key(h.KeyID)) != 1 {
		t.Fatalf("no key %s in the JWKS (%v)", h.KeyID, err)
	}
	var c sdkRequestClaims
	if err := tok.Claims(keys.Key(h.KeyID)[0].Key, &c); err != nil {
		t.Fatalf("request JWT signature: %v", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: f.issuer, Time: time.Now()}, 0); err != nil {
		t.Errorf("request JWT claims: %v", err)
	}
	a := c.Authn
	if a.BaseURL != f.e.node.URL || a.TID != f.e.api.tenant || a.RID != f.realm || a.AID != f.app || a.RedirectURI != sdkOrigin+"/callback" ||
		a.State != "st" || a.LoginHint != "ada" || a.Application.DisplayName != "Pet App" || a.AuthenticatorConfig.ID != f.config ||
		a.AuthenticatorConfig.Config.Type != "embedded" || a.Action.Prove.TransactionID != c.TransactionID ||
		a.Action.Prove.Nonce == "" || a.Action.Prove.PolicyVersion != "v3" {
		t.Errorf("request JWT claims %+v", c)
	}
	return c
}

// proofClaims are the claims the SDK signs for the sign-in of req by id.
func (f sdkFixture) proofClaims(req sdkRequestClaims, identity string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": "sdk:3.0.6", "sub": "CN=" + identity + ", OU=" + f.realm + ", O=" + f.e.api.tenant,
		"aud": []string{f.issuer + "/bi-authenticate"}, "exp": now + 300, "nbf": now - 60, "iat": now, "jti": "j1",
		"bi_tid": req.TransactionID, "bi_non": req.Authn.Action.Prove.Nonce, "bi_prf": "W10=", "bi_pol_ver": "v3", "flow_type": "embedded"}
}

// thumbprint is the SDK's kid for a key; softwareClaims, the form field a
// software passkey posts.
var thumbprint, softwareClaims = testenv.Thumbprint, testenv.SoftwareClaims

// webauthnClaims is the form field a WebAuthn passkey posts: an assertion
// on origin whose challenge is the header and claims.
func (f sdkFixture) webauthnClaims(t *testing.T, origin string, claims map[string]any) string {
	t.Helper()
	claims["pub_key_cred_id"] = base64.RawStdEncoding.EncodeToString(f.beaCred.ID)
	challenge, _ := json.Marshal(map[string]any{"header": map[string]string{"alg": "ES256", "kid": "x"}, "claims": claims})
	u, _ := url.Parse(origin)
	var a struct {
		Response struct{ AuthenticatorData, ClientDataJSON, Signature string }
	}
	json.Unmarshal([]byte(virtualwebauthn.CreateAssertionResponse(virtualwebauthn.RelyingParty{ID: u.Hostname(), Name: "x", Origin: origin},
		f.beaAuth, f.beaCred, virtualwebauthn.AssertionOptions{Challenge: challenge, RelyingPartyID: u.Hostname()})), &a)
	std := func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return base64.StdEncoding.EncodeToString(b)
	}
	inner, _ := json.Marshal(map[string]string{"authenticator_data": std(a.Response.AuthenticatorData),
		"client_data": std(a.Response.ClientDataJSON), "signature": std(a.Response.Signature)})
	out, _ := json.Marshal(map[string]string{"WebAuthn": string(inner)})
	return string(out)
}

// post sends claims to bi-authenticate from the app's origin.
func (f sdkFixture) post(t *testing.T, claims string) testenv.Response {
	t.Helper()
	return send(t, "POST", f.issuer+"/bi-authenticate", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
		"Origin": {sdkOrigin}, "X-Correlation-Id": {"c1"}}, strings.NewReader(url.Values{"claims": {claims}}.Encode()))
}

// allowed requires an allow answer and redeems its code with PKCE.
func (f sdkFixture) allowed(t *testing.T, resp testenv.Response, want string) map[string]any {
	t.Helper()
	answer := resp.JSON(t)
	if resp.Status != http.StatusOK || answer["type"] != "allow" || answer["code"] == nil {
		t.Fatalf("bi-authenticate: %d %s", resp.Status, resp.Body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != sdkOrigin {
		t.Errorf("no CORS for the app's origin: %v", resp.Header)
	}
	status, tokens := redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"authorization_code"},
		"code": {str(t, answer, "code")}, "redirect_uri": {sdkOrigin + "/callback"}, "code_verifier": {sdkVerifier}})
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tokens)
	}
	var id map[string]any
	tok, _ := jwt.ParseSigned(str(t, tokens, "id_token"), []jose.SignatureAlgorithm{jose.RS256})
	tok.UnsafeClaimsWithoutVerification(&id)
	if id["sub"] != want || id["nonce"] != "n0" {
		t.Errorf("ID token %v, want sub %s", id, want)
	}
	return tokens
}

// TestEmbeddedSignIn: sign-in through the embedded SDK's protocol with a
// software and a WebAuthn passkey, manual invocation, CORS, and every bad
// proof refused with nothing issued.
func TestEmbeddedSignIn(t *testing.T) {
	t.Parallel()
	masterKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	forEachEngine(t, func(cfg *server.Config) { cfg.MasterKey = masterKey }, func(t *testing.T, e *env) {
		c := e.api
		f := newSDKFixture(t, e)
		adaKid := thumbprint(t, &f.adaKey.PublicKey)

		if e.node.Config.Database != "" {
			// A sign-in begun on one node finishes on another of the cluster.
			other := testenv.StartNodeWith(t, server.Config{DataDir: t.TempDir(), Database: e.node.Config.Database, MasterKey: masterKey},
				func(cfg *server.Config) { cfg.Logger, cfg.PublicURL = slog.New(slog.DiscardHandler), e.node.URL })
			req := f.start(t)
			resp := send(t, "POST", strings.Replace(f.issuer, e.node.URL, "http://"+other.Config.Listen, 1)+"/bi-authenticate",
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {sdkOrigin}},
				strings.NewReader(url.Values{"claims": {softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.ada))}}.Encode()))
			f.allowed(t, resp, "ada")
		}

		// The usernames of the subjects (subject_field "username").
		req := f.start(t)
		f.allowed(t, f.post(t, softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.ada))), "ada")
		req = f.start(t)
		f.allowed(t, f.post(t, f.webauthnClaims(t, sdkOrigin, f.proofClaims(req, f.bea))), "bea")

		// A replayed proof: its sign-in has finished.
		req = f.start(t)
		proof := softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.ada))
		f.allowed(t, f.post(t, proof), "ada")
		assertInvalid(t, f.post(t, proof), "claims", "this sign-in has finished or expired; start again from the application")

		// Bad proofs, each for a fresh sign-in.
		for name, bad := range map[string]func(req sdkRequestClaims) (string, string){
			"not JSON": func(sdkRequestClaims) (string, string) { return "{", `must be a JSON object with "Jwt" or "WebAuthn"` },
			"neither kind": func(sdkRequestClaims) (string, string) {
				return `{"Other":"x"}`, `must be a JSON object with "Jwt" or "WebAuthn"`
			},
			"not a JWS": func(sdkRequestClaims) (string, string) { return `{"Jwt":"a.b.c"}`, "Jwt is not a compact ES256 JWS" },
			"tampered signature": func(req sdkRequestClaims) (string, string) {
				var p map[string]string
				json.Unmarshal([]byte(softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.ada))), &p)
				parts := strings.Split(p["Jwt"], ".")
				claims := f.proofClaims(req, f.ada)
				claims["bi_non"] = "forged"
				forged, _ := json.Marshal(claims)
				parts[1] = base64.RawURLEncoding.EncodeToString(forged)
				out, _ := json.Marshal(map[string]string{"Jwt": strings.Join(parts, ".")})
				return string(out), "the signature does not verify"
			},
			"signed by another key under ada's kid": func(req sdkRequestClaims) (string, string) {
				_, key := softwareProof(t, "x", "y")
				return softwareClaims(t, key, adaKid, f.proofClaims(req, f.ada)), "the signature does not verify"
			},
			"another sign-in's nonce": func(req sdkRequestClaims) (string, string) {
				claims := f.proofClaims(req, f.ada)
				claims["bi_non"] = "bm9ub25jZQ"
				return softwareClaims(t, f.adaKey, adaKid, claims), "the proof does not sign this sign-in's nonce"
			},
			"another application's audience": func(req sdkRequestClaims) (string, string) {
				claims := f.proofClaims(req, f.ada)
				claims["aud"] = []string{e.node.URL + "/elsewhere"}
				return softwareClaims(t, f.adaKey, adaKid, claims), "the proof's claims are not for this sign-in: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)"
			},
			"another identity's subject": func(req sdkRequestClaims) (string, string) {
				return softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.bea)), "the proof's claims are not for this sign-in: go-jose/go-jose/jwt: validation failed, invalid subject claim (sub)"
			},
			"expired": func(req sdkRequestClaims) (string, string) {
				claims := f.proofClaims(req, f.ada)
				claims["exp"] = time.Now().Add(-time.Hour).Unix()
				return softwareClaims(t, f.adaKey, adaKid, claims), "the proof's claims are not for this sign-in: go-jose/go-jose/jwt: validation failed, token is expired (exp)"
			},
			"WebAuthn from an untrusted origin": func(req sdkRequestClaims) (string, string) {
				return f.webauthnClaims(t, "https://evil.example", f.proofClaims(req, f.bea)), "origin https://evil.example is not trusted by the authenticator config"
			},
		} {
			t.Run(name, func(t *testing.T) {
				claims, want := bad(f.start(t))
				assertInvalid(t, f.post(t, claims), "claims", want)
			})
		}

		// Refusals the SDK shows its user: answered "deny", with the reason.
		deny := func(what, claims, want string) {
			t.Helper()
			resp := f.post(t, claims)
			answer := resp.JSON(t)
			if resp.Status != http.StatusOK || answer["type"] != "deny" || answer["message"] != want || answer["code"] != nil {
				t.Errorf("%s: %d %s, want deny %q", what, resp.Status, resp.Body, want)
			}
		}
		_, stranger := softwareProof(t, "x", "y")
		deny("an unknown key", softwareClaims(t, stranger, thumbprint(t, &stranger.PublicKey), f.proofClaims(f.start(t), f.ada)),
			"no passkey on this device is registered here — ask for a new binding link")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow", "rules": []any{
			map[string]any{"effect": "deny", "applications": []string{"*"}, "identities": []string{f.bea}}}})
		deny("policy", f.webauthnClaims(t, sdkOrigin, f.proofClaims(f.start(t), f.bea)), "access denied by policy: rule 1 (deny) names the identity")
		c.patch(t, "/realms/"+f.realm+"/identities/"+f.ada, map[string]any{"identity": map[string]any{"status": "suspended"}})
		deny("a suspended identity", softwareClaims(t, f.adaKey, adaKid, f.proofClaims(f.start(t), f.ada)),
			"the identity is suspended and cannot sign in")
		c.patch(t, "/realms/"+f.realm+"/identities/"+f.ada, map[string]any{"identity": map[string]any{"status": "active"}})
		creds := c.list(t, "/realms/"+f.realm+"/identities/"+f.ada+"/credentials")
		c.post(t, "/realms/"+f.realm+"/identities/"+f.ada+"/credentials/"+str(t, items(t, creds, "credentials")[0], "id")+":revoke", map[string]any{})
		deny("a revoked passkey", softwareClaims(t, f.adaKey, adaKid, f.proofClaims(f.start(t), f.ada)),
			"this passkey was revoked — ask for a new binding link")

		// The sign-in log has the SDK's sign-ins, allowed and denied, with why.
		assertAllowedSignIn(t, c, f.realm, f.app, f.bea)
		for _, why := range []string{"no passkey on this device is registered here", "rule 1 (deny) names the identity",
			"the identity is suspended", "this passkey was revoked", "the signature does not verify"} {
			assertDeniedSignIn(t, c, f.realm, f.app, why)
		}

		// Manual invocation: the URL comes back as JSON, for the app to open.
		c.patch(t, "/realms/"+f.realm+"/authenticator-configs/"+f.config, map[string]any{"authenticator_config": map[string]any{
			"config": map[string]any{"type": "embedded", "invoke_url": sdkOrigin, "trusted_origins": []string{sdkOrigin}, "invocation_type": "manual"}}})
		resp := send(t, "GET", f.issuer+"/authorize?"+f.authorizeQuery().Encode(), nil, nil)
		to, err := url.Parse(str(t, resp.JSON(t), "authenticate_url"))
		if resp.Status != http.StatusOK || err != nil || !strings.HasPrefix(to.String(), sdkOrigin+"/bi-authenticate?request=") {
			t.Fatalf("manual authorize: %d %s", resp.Status, resp.Body)
		}
		f.verifyRequest(t, to.Query().Get("request"))

		// CORS: the app's origin may call bi-authenticate, another may not.
		preflight := func(origin string) testenv.Response {
			return send(t, "OPTIONS", f.issuer+"/bi-authenticate", http.Header{"Origin": {origin},
				"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type,x-correlation-id"}}, nil)
		}
		if ok := preflight(sdkOrigin); ok.Status != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != sdkOrigin {
			t.Errorf("preflight from the app: %d %v", ok.Status, ok.Header)
		}
		if h := preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"); h != "" {
			t.Errorf("preflight from another origin allowed: %q", h)
		}

		// An application of the hosted page has no bi-authenticate.
		hosted, _, _ := oidcClient(t, e.node, f.realm, sdkOrigin+"/callback")
		resp = send(t, "POST", e.node.URL+"/v1/tenants/"+c.tenant+"/realms/"+f.realm+"/applications/"+hosted+"/bi-authenticate",
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader("claims=%7B%7D"))
		assertError(t, resp, http.StatusBadRequest, "bad_request", "the application does not sign in through the embedded SDK")
		resp = send(t, "POST", f.issuer+"/bi-authenticate", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader("x=1"))
		assertInvalid(t, resp, "claims", "the form field claims is missing")
	})
}

// TestApplicationDeletedOnAnotherNode: a node that authenticated an
// application's client a moment ago (and caches it) refuses that
// application's code and refresh token once another node has deleted it,
// and issues nothing.
func TestApplicationDeletedOnAnotherNode(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSDKFixture(t, e)
		otherIssuer := strings.Replace(f.issuer, e.node.URL, e.anotherNode(t).URL, 1)
		adaKid := thumbprint(t, &f.adaKey.PublicKey)
		code := func() string {
			req := f.start(t)
			return str(t, f.post(t, softwareClaims(t, f.adaKey, adaKid, f.proofClaims(req, f.ada))).JSON(t), "code")
		}
		codeGrant := func(code string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {sdkOrigin + "/callback"}, "code_verifier": {sdkVerifier}}
		}
		status, tokens := redeem(t, otherIssuer, f.clientID, f.secret, codeGrant(code()))
		if status != http.StatusOK {
			t.Fatalf("redeem on the other node: %d %v", status, tokens)
		}
		unredeemed := code()

		e.api.del(t, "/realms/"+f.realm+"/applications/"+f.app)
		for name, grant := range map[string]url.Values{
			"code":          codeGrant(unredeemed),
			"refresh token": {"grant_type": {"refresh_token"}, "refresh_token": {str(t, tokens, "refresh_token")}},
		} {
			if status, body := redeem(t, otherIssuer, f.clientID, f.secret, grant); status != http.StatusUnauthorized ||
				body["error"] != "invalid_client" || body["access_token"] != nil {
				t.Errorf("%s of the deleted application on the other node: %d %v", name, status, body)
			}
		}
	})
}
