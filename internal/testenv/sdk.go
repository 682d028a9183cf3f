package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The embedded SDK with its software passkey, as it speaks over HTTP: for
// the tests of one process (internal/httpapi, internal/tracing) and of
// separate processes (cmd/latchkey) alike.

// SoftwareProof is what the SDK's software passkey sends to bind itself
// (a binding job's :bind): an ES256 JWS of the job's subject and token,
// signed by a fresh P-256 key given in its own header. It returns the
// proof and the key, which signs in.
func SoftwareProof(t testing.TB, sub, token string) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, &jose.SignerOptions{EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"sub": sub, "token": token})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return map[string]any{"type": "JWT", "raw": raw}, key
}

// Thumbprint is the SDK's kid for a key: its RFC 7638 thumbprint, base64url.
func Thumbprint(t testing.TB, key crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: key}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// SoftwareClaims is the form field "claims" that a software passkey posts
// to an application's bi-authenticate: claims signed with key under kid
// (the SDK's is Thumbprint of the key).
func SoftwareClaims(t testing.TB, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	out, _ := json.Marshal(map[string]string{"Jwt": raw})
	return string(out)
}

// SDKApp is an OIDC client of a realm whose sign-ins the embedded SDK makes
// with software passkeys, driven over HTTP at the URL of any node (of this
// process or another, of this release or an older one) with only what the
// SDK's protocol has.
type SDKApp struct {
	Tenant, Realm, Config string
	Path                  string // the issuer's path, the same on every node
	Issuer                string // the nodes' public URL + Path
	ClientID, Secret      string
}

const (
	sdkOrigin   = "https://app.example.com"
	sdkVerifier = "testenv-pkce-verifier-of-more-than-43-characters"
)

// NewSDKApp registers, through the API at base with a management token,
// an embedded authenticator config and a confidential client of the realm
// that signs in with it, and lets every identity of the realm use it.
// publicURL is the nodes' --public-url, on which the issuer is.
func NewSDKApp(t testing.TB, base, token, publicURL, tenant, realm string) SDKApp {
	t.Helper()
	a := SDKApp{Tenant: tenant, Realm: realm}
	api := base + "/v1/tenants/" + tenant + "/realms/" + realm
	a.Config = str(t, expect(t, http.MethodPost, api+"/authenticator-configs", token, map[string]any{"authenticator_config": map[string]any{
		"display_name": "App", "config": map[string]any{"type": "embedded", "invoke_url": sdkOrigin, "trusted_origins": []string{sdkOrigin}}}}), "id")
	app := expect(t, http.MethodPost, api+"/applications", token, map[string]any{"application": map[string]any{
		"display_name": "Pet App", "authenticator_config_id": a.Config, "protocol_config": map[string]any{
			"type": "oidc", "grant_type": []string{"authorization_code"}, "redirect_uris": []string{sdkOrigin + "/callback"},
			"pkce": "s256", "token_configuration": map[string]any{"expires_after": 3600, "subject_field": "username"}}}})
	pc, _ := app["protocol_config"].(map[string]any)
	a.ClientID, a.Secret = str(t, pc, "client_id"), str(t, pc, "client_secret")
	a.Path = "/v1/tenants/" + tenant + "/realms/" + realm + "/applications/" + str(t, app, "id")
	a.Issuer = publicURL + a.Path
	expect(t, http.MethodPut, api+"/policy", token, map[string]any{"default_effect": "allow"})
	return a
}

// subject is how the SDK names the identity in its proofs.
func (a SDKApp) subject(identity string) string {
	return "CN=" + identity + ", OU=" + a.Realm + ", O=" + a.Tenant
}

// Bind creates a credential binding job (RETURN) for the identity through
// the API at base and binds a software passkey with the job's link there,
// as the SDK does; it returns the passkey's key.
func (a SDKApp) Bind(t testing.TB, base, token, identity string) *ecdsa.PrivateKey {
	t.Helper()
	jobs := base + "/v1/tenants/" + a.Tenant + "/realms/" + a.Realm + "/identities/" + identity + "/credential-binding-jobs"
	out := expect(t, http.MethodPost, jobs, token, map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": a.Config}})
	link, err := url.Parse(str(t, out, "credential_binding_link"))
	if err != nil {
		t.Fatal(err)
	}
	linkToken := link.Query().Get("token")
	proof, key := SoftwareProof(t, a.subject(identity), linkToken)
	job, _ := out["credential_binding_job"].(map[string]any)
	expect(t, http.MethodPost, jobs+"/"+str(t, job, "id")+":bind", linkToken, proof)
	return key
}

// SignIn signs the identity in at base with its software passkey, as the
// SDK does: /authorize hands the sign-in to the app with a request JWT,
// which the SDK verifies with the JWKS at keys (a node's URL, maybe
// another's), and the passkey's proof at bi-authenticate, with the
// request's correlation id in X-Correlation-Id, answers a code. It returns
// the code and the request JWT's claims.
func (a SDKApp) SignIn(t testing.TB, base, keys, identity string, key *ecdsa.PrivateKey) (code string, request map[string]any) {
	t.Helper()
	challenge := sha256.Sum256([]byte(sdkVerifier))
	q := url.Values{"client_id": {a.ClientID}, "redirect_uri": {sdkOrigin + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"}}
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(base + a.Path + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), sdkOrigin+"/bi-authenticate?") {
		t.Fatalf("authorize at %s: %s to %q", base, resp.Status, resp.Header.Get("Location"))
	}
	request = VerifiedClaims(t, keys+a.Path+"/.well-known/jwks.json", to.Query().Get("request"))
	authn, _ := request["authn"].(map[string]any)
	action, _ := authn["action"].(map[string]any)
	prove, _ := action["prove"].(map[string]any)
	now := time.Now().Unix()
	claims := SoftwareClaims(t, key, Thumbprint(t, &key.PublicKey), map[string]any{
		"sub": a.subject(identity), "aud": []string{a.Issuer + "/bi-authenticate"}, "exp": now + 300, "iat": now,
		"jti": rand.Text(), "bi_tid": request["transaction_id"], "bi_non": prove["nonce"]})
	cid, _ := request["correlation_id"].(string)
	answer := a.post(t, base, "/bi-authenticate", http.Header{"X-Correlation-Id": {cid}}, url.Values{"claims": {claims}})
	if answer["type"] != "allow" {
		t.Fatalf("bi-authenticate at %s: %v", base, answer)
	}
	return str(t, answer, "code"), request
}

// Redeem redeems a code at base and returns the ID token.
func (a SDKApp) Redeem(t testing.TB, base, code string) string {
	t.Helper()
	tokens := a.post(t, base, "/token", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(a.ClientID+":"+a.Secret))}},
		url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {sdkOrigin + "/callback"}, "code_verifier": {sdkVerifier}})
	return str(t, tokens, "id_token")
}

// post posts a form to the application's endpoint at base and requires 200
// and a JSON object.
func (a SDKApp) post(t testing.TB, base, endpoint string, h http.Header, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+a.Path+endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if r.Status != http.StatusOK {
		t.Fatalf("POST %s at %s: %d %s", endpoint, base, r.Status, body)
	}
	return r.JSON(t)
}

// VerifiedClaims verifies a JWT (ES256 or RS256) with the JWKS at jwksURL
// and returns its claims.
func VerifiedClaims(t testing.TB, jwksURL, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	var set jose.JSONWebKeySet
	if resp := Do(t, http.MethodGet, jwksURL, "", nil); resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &set) != nil {
		t.Fatalf("GET %s: %d %s", jwksURL, resp.Status, resp.Body)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	var claims map[string]any
	if len(keys) != 1 || tok.Claims(keys[0].Key, &claims) != nil {
		t.Fatalf("a JWT of key %q that %s does not verify", tok.Headers[0].KeyID, jwksURL)
	}
	return claims
}

// expect sends a request (Do) and requires 200 and a JSON object.
func expect(t testing.TB, method, url, token string, body any) map[string]any {
	t.Helper()
	resp := Do(t, method, url, token, body)
	if resp.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %.500s", method, url, resp.Status, resp.Body)
	}
	return resp.JSON(t)
}

// str is m[key], which must be a non-empty string.
func str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, _ := m[key].(string)
	if s == "" {
		t.Fatalf("no %s in %v", key, m)
	}
	return s
}
