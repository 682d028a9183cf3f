package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/testenv"
)

// authz is one authorization request, as the suite builds it: state and
// nonce random, response_type code, scope openid, then the module's
// changes.
type authz struct {
	c        *client
	params   url.Values
	verifier string // the PKCE code_verifier, when the request has a challenge
}

func newAuthz(c *client, scope string) *authz {
	return &authz{c: c, params: url.Values{"client_id": {c.id}, "redirect_uri": {c.redirectURI}, "response_type": {"code"},
		"scope": {scope}, "state": {rand.Text()}, "nonce": {rand.Text()}}}
}

func (a *authz) url() string {
	return a.c.meta["authorization_endpoint"].(string) + "?" + a.params.Encode()
}

// withPKCE adds an S256 challenge (RFC 7636 §4).
func (a *authz) withPKCE() *authz {
	a.verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(a.verifier))
	a.params.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	a.params.Set("code_challenge_method", "S256")
	return a
}

// responseParams are the authorization response's parameters: the form
// of a form_post, else the query.
func responseParams(h *hit) url.Values {
	if h.Method == http.MethodPost {
		return h.Form
	}
	return h.Query
}

// checkSuccess checks a successful authorization response (the suite's
// CheckMatchingCallbackParameters, ValidateIssIfPresent, CheckIfAuthorizationEndpointError,
// CheckStateInAuthorizationResponse, the code's length and entropy) and returns the code.
func checkSuccess(t testing.TB, a *authz, v visit) string {
	t.Helper()
	if v.hit == nil || v.hit.Path != "/callback" {
		t.Fatalf("the browser did not come back to the redirect URI: %v", v)
	}
	q := responseParams(v.hit)
	if q.Get("error") != "" {
		t.Fatalf("the authorization endpoint answered %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if iss := q.Get("iss"); iss != "" && iss != a.c.issuer {
		t.Errorf("iss %q in the authorization response, want %q", iss, a.c.issuer)
	}
	if q.Get("state") != a.params.Get("state") {
		t.Errorf("state %q, want %q", q.Get("state"), a.params.Get("state"))
	}
	code := q.Get("code")
	if len(code)*8 < 128 {
		t.Errorf("the code %q has fewer than 128 bits", code)
	}
	if e := entropy(code); e < 96 {
		t.Errorf("the code %q has about %.0f bits of entropy, want 96 or more", code, e)
	}
	return code
}

// entropy estimates the bits of entropy of a random string from the
// frequency of its characters, as the suite's AbstractEnsureMinimumEntropy.
func entropy(s string) float64 {
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	n := float64(len([]rune(s)))
	var perChar float64
	for _, c := range counts {
		f := float64(c) / n
		perChar -= f * math.Log2(f)
	}
	return perChar * n
}

// checkError checks an error response of the authorization endpoint (the
// suite's performGenericAuthorizationEndpointErrorResponseValidation) and
// that its error is one of want.
func checkError(t testing.TB, a *authz, v visit, want ...string) {
	t.Helper()
	if v.hit == nil || v.hit.Path != "/callback" {
		t.Fatalf("the browser did not come back to the redirect URI with an error: %v", v)
	}
	q := responseParams(v.hit)
	if q.Get("state") != a.params.Get("state") {
		t.Errorf("state %q, want %q", q.Get("state"), a.params.Get("state"))
	}
	if iss := q.Get("iss"); iss != "" && iss != a.c.issuer {
		t.Errorf("iss %q in the error response, want %q", iss, a.c.issuer)
	}
	if q.Has("code") {
		t.Errorf("an error response with a code: %v", q)
	}
	for k := range q {
		if !slices.Contains([]string{"error", "error_description", "error_uri", "state", "session_state", "iss"}, k) {
			t.Logf("warning: unexpected parameter %q in the error response", k)
		}
	}
	checkErrorText(t, q.Get("error"), q.Get("error_description"), q.Get("error_uri"))
	if !slices.Contains(want, q.Get("error")) {
		t.Errorf("error %q (%s), want one of %v", q.Get("error"), q.Get("error_description"), want)
	}
}

// checkErrorText checks error, error_description and error_uri against
// RFC 6749 §4.1.2.1 and §5.2: printable ASCII without " and \.
func checkErrorText(t testing.TB, code, description, uri string) {
	t.Helper()
	if code == "" {
		t.Errorf("no error")
	}
	for _, s := range []string{code, description} {
		if strings.ContainsAny(s, "\r\n\t") {
			t.Logf("warning: %q holds CR, LF or TAB", s)
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
				t.Errorf("%q holds %q, which RFC 6749 forbids", s, r)
				break
			}
		}
	}
	if uri != "" {
		if u, err := url.Parse(uri); err != nil || !u.IsAbs() {
			t.Errorf("error_uri %q is not an absolute URI", uri)
		}
	}
}

// tokens is a token endpoint answer.
type tokens struct {
	body    map[string]any
	access  string
	refresh string
	idToken string
	claims  map[string]any // the ID token's, verified
}

// redeem exchanges the code at the token endpoint with the client's
// authentication (the suite's CreateTokenEndpointRequestForAuthorizationCodeGrant).
func (p *provider) redeem(t testing.TB, a *authz, code, auth string) testenv.Response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.c.redirectURI}}
	if a.verifier != "" {
		form.Set("code_verifier", a.verifier)
	}
	return p.postForm(t, a.c.meta["token_endpoint"].(string), form, a.c, auth, "")
}

// checkTokens checks a successful token answer (CheckTokenEndpointHttpStatus200,
// CheckForAccessTokenValue, ValidateExpiresIn, ExtractIdTokenFromTokenResponse,
// PerformStandardIdTokenChecks, at_hash) and returns it.
func (p *provider) checkTokens(t testing.TB, c *client, resp testenv.Response, nonce string) tokens {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", resp.Status, resp.Body)
	}
	checkJSON(t, resp)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token endpoint Cache-Control %q, want no-store", cc)
	}
	tk := tokens{body: resp.JSON(t)}
	tk.access, _ = tk.body["access_token"].(string)
	tk.refresh, _ = tk.body["refresh_token"].(string)
	tk.idToken, _ = tk.body["id_token"].(string)
	if tk.access == "" {
		t.Fatalf("no access_token in %s", resp.Body)
	}
	if tt, _ := tk.body["token_type"].(string); !strings.EqualFold(tt, "Bearer") {
		t.Errorf("token_type %q, want Bearer", tt)
	}
	if e, ok := tk.body["expires_in"]; ok {
		if f, isNum := e.(float64); !isNum || f <= 0 || f != math.Trunc(f) {
			t.Errorf("expires_in %v is not a positive integer", e)
		}
	}
	for _, s := range []string{tk.access, tk.refresh} {
		if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
			t.Errorf("a token holds characters that RFC 6749 Appendix A forbids: %q", s)
		}
	}
	if tk.idToken == "" {
		t.Fatalf("no id_token in %s", resp.Body)
	}
	tk.claims = p.checkIDToken(t, c, tk.idToken, &nonce)
	if h, ok := tk.claims["at_hash"].(string); ok && h != halfHash(tk.access) {
		t.Errorf("at_hash %q does not match the access token", h)
	}
	return tk
}

// checkJSON checks that an answer is JSON (CheckTokenEndpointReturnedJsonContentType, EnsureContentTypeJson).
func checkJSON(t testing.TB, resp testenv.Response) {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", resp.Header.Get("Content-Type"))
	}
}

func halfHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// keys fetches the issuer's JWKS (FetchServerKeys).
func (p *provider) keys(t testing.TB, c *client) (jose.JSONWebKeySet, testenv.Response) {
	t.Helper()
	resp := p.get(t, c.meta["jwks_uri"].(string))
	var set jose.JSONWebKeySet
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &set) != nil {
		t.Fatalf("JWKS: %d %s", resp.Status, resp.Body)
	}
	return set, resp
}

// checkIDToken verifies an ID token's signature against the JWKS by its
// kid and checks its claims as the suite's ValidateIdToken,
// ValidateIdTokenStandardClaims, ValidateIdTokenNonce (unless nonce is
// nil: a refreshed ID token's is not compared), CheckForSubjectInIdToken
// and EnsureIdTokenUpdatedAtValid do.
func (p *provider) checkIDToken(t testing.TB, c *client, raw string, nonce *string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("ID token is not an RS256 JWS: %v", err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" {
		t.Errorf("the ID token has no kid")
	}
	set, _ := p.keys(t, c)
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		t.Fatalf("the JWKS has %d keys of kid %q", len(found), h.KeyID)
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("the ID token's signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	skew := 5 * time.Minute
	at := func(name string) (time.Time, bool) {
		f, ok := claims[name].(float64)
		if _, present := claims[name]; present && !ok {
			t.Errorf("%s %v is not a number", name, claims[name])
		}
		return time.Unix(int64(f), 0), ok
	}
	if claims["iss"] != c.issuer {
		t.Errorf("iss %v, want %s", claims["iss"], c.issuer)
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud != c.id {
			t.Errorf("aud %q, want %s", aud, c.id)
		}
	case []any:
		if !slices.Contains(aud, any(c.id)) {
			t.Errorf("aud %v does not hold %s", aud, c.id)
		}
		if len(aud) > 1 && claims["azp"] != c.id {
			t.Errorf("aud %v with azp %v", aud, claims["azp"])
		}
	default:
		t.Errorf("aud %v", claims["aud"])
	}
	if azp, ok := claims["azp"]; ok && azp != c.id {
		t.Errorf("azp %v, want %s", azp, c.id)
	}
	if exp, ok := at("exp"); !ok || now.Add(-skew).After(exp) || exp.After(now.AddDate(50, 0, 0)) {
		t.Errorf("exp %v", claims["exp"])
	}
	if iat, ok := at("iat"); !ok || iat.After(now.Add(skew)) || iat.Before(now.Add(-skew)) {
		t.Errorf("iat %v is not now", claims["iat"])
	}
	if authTime, ok := at("auth_time"); ok && (authTime.Before(now.AddDate(-1, 0, 0)) || authTime.After(now.Add(skew))) {
		t.Errorf("auth_time %v", claims["auth_time"])
	}
	if acr, ok := claims["acr"]; ok && acr == "" {
		t.Errorf("acr is empty")
	}
	if got, _ := claims["nonce"].(string); nonce != nil && got != *nonce {
		t.Errorf("nonce %q, want %q", got, *nonce)
	}
	if sub, _ := claims["sub"].(string); sub == "" || len(sub) > 255 {
		t.Errorf("sub %q", claims["sub"])
	}
	checkStandardClaims(t, "ID token", claims)
	return claims
}

// standardClaims are the types of OIDC Core §5.1's claims.
var standardClaims = map[string]string{
	"sub": "string", "name": "string", "given_name": "string", "family_name": "string", "middle_name": "string",
	"nickname": "string", "preferred_username": "string", "profile": "string", "picture": "string", "website": "string",
	"email": "string", "email_verified": "bool", "gender": "string", "birthdate": "string", "zoneinfo": "string",
	"locale": "string", "phone_number": "string", "phone_number_verified": "bool", "address": "object", "updated_at": "number",
}

// checkStandardClaims checks the types of the standard claims present
// (ValidateUserInfoStandardClaims, EnsureUserInfoUpdatedAtValid).
func checkStandardClaims(t testing.TB, where string, claims map[string]any) {
	t.Helper()
	for name, kind := range standardClaims {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var good bool
		switch kind {
		case "string":
			_, good = v.(string)
		case "bool":
			_, good = v.(bool)
		case "object":
			_, good = v.(map[string]any)
		case "number":
			f, isNum := v.(float64)
			good = isNum && f == math.Trunc(f) && f > 0
		}
		if !good {
			t.Errorf("%s: %s is %v, not a valid %s", where, name, v, kind)
		}
	}
}

// userinfo calls the userinfo endpoint: by GET with a bearer header
// ("get"), by POST with the header ("post-header"), or with the token in
// the POST body ("post-body").
func (p *provider) userinfo(t testing.TB, c *client, access, how string) testenv.Response {
	t.Helper()
	u := c.meta["userinfo_endpoint"].(string)
	switch how {
	case "post-header":
		return p.postForm(t, u, url.Values{}, c, "", access)
	case "post-body":
		return p.postForm(t, u, url.Values{"access_token": {access}}, c, "", "")
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	return do(t, p.node.HTTP, req)
}

// checkUserinfo checks a userinfo answer as AbstractOIDCCUserInfoTest does
// and returns its claims.
func checkUserinfo(t testing.TB, resp testenv.Response, idClaims map[string]any) map[string]any {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("userinfo: %d %s", resp.Status, resp.Body)
	}
	checkJSON(t, resp)
	info := resp.JSON(t)
	if info["sub"] == nil || info["sub"] == "" {
		t.Errorf("userinfo without sub: %v", info)
	}
	if info["sub"] != idClaims["sub"] {
		t.Errorf("userinfo sub %v, ID token sub %v", info["sub"], idClaims["sub"])
	}
	checkStandardClaims(t, "userinfo", info)
	return info
}

// scopeClaims are the claims each scope asks for (OIDC Core §5.4), for the
// suite's VerifyScopesReturnedInUserInfoClaims (a warning).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
		"website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

func warnMissingScopeClaims(t testing.TB, scope string, info map[string]any) {
	t.Helper()
	for _, s := range strings.Fields(scope) {
		names := scopeClaims[s]
		if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { _, ok := info[n]; return ok }) {
			t.Logf("warning: userinfo holds none of the claims of scope %s: %v", s, info)
		}
	}
}

// strings of a discovery field that is a list.
func list(meta map[string]any, key string) []string {
	var out []string
	for _, v := range asSlice(meta[key]) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
