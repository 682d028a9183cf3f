package oidctest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// library is a relying-party library, used unchanged as its documentation
// shows, by a web app of two applications of the realm.
type library interface {
	// authorize returns where the app sends the browser to sign in
	// (authorization code with PKCE S256, state and nonce), with prompt if set.
	authorize(t testing.TB, app *client, prompt string) string
	// callback redeems the code of the redirect URI's query and verifies
	// the ID token as the library does.
	callback(t testing.TB, app *client, query url.Values) libTokens
	refresh(t testing.TB, app *client, refreshToken string) libTokens
	revoke(t testing.TB, app *client, token string)
	// introspect asks whether a token is active, authenticated as the app.
	introspect(t testing.TB, app *client, token string) bool
	// endSession returns where the app sends the browser to sign out.
	endSession(t testing.TB, app *client, idToken, postLogout, state string) string
}

type libTokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	IDToken string `json:"id_token"`
	Sub     string `json:"sub"`
}

// TestRPLibraries: go-oidc with x/oauth2, zitadel/oidc's RP, openid-client
// and oauth4webapi each sign in to an application with code + PKCE, reach
// a second one by single sign-on, sign in again silently with prompt=none,
// refresh, revoke, introspect with the application's own credentials, and
// sign out (RP-initiated), after which both applications receive a
// back-channel logout token; then all again with applications that sign
// their tokens with ES256.
func TestRPLibraries(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			p := startProvider(t, eng.Name)
			libs := []struct {
				name string
				lib  func(t *testing.T) library
			}{
				{"go-oidc", func(t *testing.T) library { return &goOIDC{p: p} }},
				{"zitadel-oidc", func(t *testing.T) library { return &zitadelRP{p: p} }},
				{"openid-client", func(t *testing.T) library { return newNodeLib(t, p, "openid-client") }},
				{"oauth4webapi", func(t *testing.T) library { return newNodeLib(t, p, "oauth4webapi") }},
			}
			for _, l := range libs {
				t.Run(l.name, func(t *testing.T) { runLibrary(t, p, l.lib(t), "RS256") })
				// The Latchkey extension: the same library, unchanged, with ES256 tokens.
				t.Run(l.name+"-ES256", func(t *testing.T) { runLibrary(t, p, l.lib(t), "ES256") })
			}
		})
	}
}

// runLibrary is one web app's life with the library: each step a subtest,
// the steps after a failed one skipped.
func runLibrary(t *testing.T, p *provider, lib library, alg string) {
	p.signOutBrowser(t)
	changes := map[string]any{"pkce": "s256", "token_configuration": map[string]any{"expires_after": 3600, "token_signing_algorithm": alg}}
	a := p.newClient(t, "RP app A", changes)
	b := p.newClient(t, "RP app B", changes)
	if got := list(a.meta, "id_token_signing_alg_values_supported"); !slices.Equal(got, []string{alg}) {
		t.Fatalf("discovery's id_token_signing_alg_values_supported %v, want %s", got, alg)
	}
	var first, current libTokens
	signedIn := map[*client]string{} // the applications the session signed in to, and their latest ID token
	signIn := func(t *testing.T, app *client, prompt string, ceremony bool) libTokens {
		t.Helper()
		v := p.browse(t, lib.authorize(t, app, prompt), false, ceremony)
		if v.hit == nil || v.hit.Path != "/callback" || v.ceremony != ceremony {
			t.Fatalf("want the redirect URI reached with a passkey ceremony %v, got %v", ceremony, v)
		}
		tk := lib.callback(t, app, v.hit.Query)
		if tk.Sub != p.user || tk.Access == "" || tk.IDToken == "" {
			t.Fatalf("tokens %+v, want sub %s", tk, p.user)
		}
		if h := jwtHeader(t, tk.IDToken); h["alg"] != alg {
			t.Errorf("ID token signed with %v, want %s", h["alg"], alg)
		}
		signedIn[app] = tk.IDToken
		return tk
	}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"code-pkce", func(t *testing.T) { first = signIn(t, a, "", true); current = first }},
		{"rp-sso", func(t *testing.T) { signIn(t, b, "", false) }},
		{"rp-prompt-none", func(t *testing.T) { signIn(t, a, "none", false) }},
		{"refresh", func(t *testing.T) {
			if first.Refresh == "" {
				t.Fatalf("no refresh token for an application with the refresh_token grant")
			}
			current = lib.refresh(t, a, first.Refresh)
			if current.Access == "" || current.Access == first.Access {
				t.Fatalf("refresh answered %+v", current)
			}
			if ui := p.userinfo(t, a, current.Access, "get"); ui.Status != http.StatusOK {
				t.Errorf("userinfo with the refreshed token: %d %s", ui.Status, ui.Body)
			}
		}},
		{"rp-introspection", func(t *testing.T) {
			if !lib.introspect(t, a, current.Access) {
				t.Errorf("a live access token is inactive")
			}
		}},
		{"revocation", func(t *testing.T) {
			lib.revoke(t, a, current.Access)
			if ui := p.userinfo(t, a, current.Access, "get"); ui.Status != http.StatusUnauthorized {
				t.Errorf("userinfo with a revoked access token: %d %s", ui.Status, ui.Body)
			}
			if lib.introspect(t, a, current.Access) {
				t.Errorf("a revoked access token is active")
			}
		}},
		{"rp-logout", func(t *testing.T) {
			for _, app := range []*client{a, b} {
				p.patchClient(t, app, map[string]any{"post_logout_redirect_uris": []string{p.rp.URL + "/post_logout_redirect"},
					"backchannel_logout_uri": p.rp.URL + "/backchannel"})
			}
			state := rand.Text()
			v := p.confirmIfAsked(t, p.browse(t, lib.endSession(t, a, first.IDToken, p.rp.URL+"/post_logout_redirect", state), false, false))
			if v.hit == nil || v.hit.Path != "/post_logout_redirect" || v.hit.Query.Get("state") != state {
				t.Fatalf("want the post-logout redirect URI with state %s, got %v", state, v)
			}
			// Signed out: a silent sign-in needs the user now.
			v = p.browse(t, lib.authorize(t, a, "none"), false, false)
			if v.hit == nil || !slices.Contains(userInterfaceErrors, v.hit.Query.Get("error")) {
				t.Errorf("prompt=none after logout: %v", v)
			}
		}},
		{"rp-backchannel-logout", func(t *testing.T) {
			receiveLogoutTokens(t, p, signedIn)
		}},
	}
	failed := false
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if failed {
				t.Skip("an earlier step failed")
			}
			defer func() { failed = failed || t.Failed() }()
			s.run(t)
		})
	}
}

// receiveLogoutTokens waits for a back-channel logout token for each of
// the applications (by their client id) and checks it against the ID token
// the application got in the session, as checkLogoutToken does.
func receiveLogoutTokens(t *testing.T, p *provider, idTokens map[*client]string) {
	t.Helper()
	want := map[string]*client{}
	for app := range idTokens {
		want[app.id] = app
	}
	deadline := time.After(60 * time.Second)
	for len(want) > 0 {
		select {
		case h := <-p.rp.logouts:
			app, claims := p.checkLogoutToken(t, h, want)
			if app == nil {
				continue // another application's, from an earlier library
			}
			var id map[string]any
			json.Unmarshal(unverifiedPayload(t, idTokens[app]), &id)
			if claims["sub"] != nil && claims["sub"] != id["sub"] {
				t.Errorf("logout token sub %v, the ID token's %v", claims["sub"], id["sub"])
			}
			if claims["sid"] != nil && claims["sid"] != id["sid"] {
				t.Errorf("logout token sid %v, the ID token's %v", claims["sid"], id["sid"])
			}
			delete(want, app.id)
		case <-deadline:
			t.Fatalf("no back-channel logout token for %d application(s)", len(want))
		}
	}
}

// checkLogoutToken checks a back-channel logout request to one of apps
// (by client id) as the suite's OIDCCBackChannelRpInitiatedLogout does:
// ExtractLogoutTokenFromBackchannelLogoutRequest, ValidateLogoutTokenSignature,
// ValidateLogoutTokenClaims, CheckLogoutTokenNoNonce, CheckLogoutTokenHasSubOrSid.
// It returns the application (nil when the token is for none of apps) and
// the token's claims.
func (p *provider) checkLogoutToken(t testing.TB, h hit, apps map[string]*client) (*client, map[string]any) {
	t.Helper()
	raw := h.Form.Get("logout_token")
	for k := range h.Form {
		if k != "logout_token" {
			t.Logf("warning: unexpected parameter %q in the back-channel logout request", k)
		}
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("logout_token %q: %v", raw, err)
	}
	var claims map[string]any
	json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims)
	var app *client
	for _, aud := range append(asSlice(claims["aud"]), claims["aud"]) {
		if id, ok := aud.(string); ok && apps[id] != nil {
			app = apps[id]
		}
	}
	if app == nil {
		return nil, claims
	}
	set, _ := p.keys(t, app)
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("no key of kid %q for the logout token", jws.Signatures[0].Header.KeyID)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	now := time.Now()
	iat, _ := claims["iat"].(float64)
	switch at := time.Unix(int64(iat), 0); {
	case claims["iss"] != app.issuer:
		t.Errorf("logout token iss %v, want %s", claims["iss"], app.issuer)
	case iat == 0 || at.After(now.Add(5*time.Minute)) || at.Before(now.AddDate(0, 0, -1)):
		t.Errorf("logout token iat %v", claims["iat"])
	case claims["jti"] == nil:
		t.Errorf("logout token without jti")
	}
	events, _ := claims["events"].(map[string]any)
	event, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	if len(events) != 1 || !ok || len(event) != 0 {
		t.Errorf("logout token events %v, want only the back-channel logout event, an empty object", claims["events"])
	}
	if _, ok := claims["nonce"]; ok {
		t.Errorf("a logout token with a nonce")
	}
	if claims["sub"] == nil && claims["sid"] == nil {
		t.Errorf("a logout token with neither sub nor sid")
	}
	return app, claims
}

func unverifiedPayload(t testing.TB, raw string) []byte {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("JWT %q: %v", raw, err)
	}
	return jws.UnsafePayloadWithoutVerification()
}

// goOIDC is coreos/go-oidc with x/oauth2, as internal/httpapi's sign-in
// test uses them; what they lack (revocation, introspection, the end-session
// URL) the app does with plain HTTP as their docs leave it to.
type goOIDC struct {
	p                      *provider
	state, nonce, verifier string
}

func (g *goOIDC) setup(t testing.TB, app *client) (context.Context, *oidc.Provider, oauth2.Config) {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), g.p.node.HTTP)
	provider, err := oidc.NewProvider(ctx, app.issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	return ctx, provider, oauth2.Config{ClientID: app.id, ClientSecret: app.secret, Endpoint: provider.Endpoint(),
		RedirectURL: app.redirectURI, Scopes: libScopes(app)}
}

// libScopes are what a web app asks for: offline_access too when the
// provider says it supports it.
func libScopes(app *client) []string {
	scopes := []string{oidc.ScopeOpenID, "profile", "email"}
	if slices.Contains(list(app.meta, "scopes_supported"), oidc.ScopeOfflineAccess) {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	return scopes
}

func (g *goOIDC) authorize(t testing.TB, app *client, prompt string) string {
	_, _, cfg := g.setup(t, app)
	g.state, g.nonce, g.verifier = rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(g.nonce), oauth2.S256ChallengeOption(g.verifier)}
	if prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
	}
	return cfg.AuthCodeURL(g.state, opts...)
}

func (g *goOIDC) callback(t testing.TB, app *client, q url.Values) libTokens {
	t.Helper()
	if q.Get("state") != g.state || q.Get("error") != "" {
		t.Fatalf("callback %v", q)
	}
	ctx, provider, cfg := g.setup(t, app)
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(g.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := provider.Verifier(&oidc.Config{ClientID: app.id}).Verify(ctx, raw)
	if err != nil || id.Nonce != g.nonce {
		t.Fatalf("ID token: %v (nonce %q)", err, id.Nonce)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	return libTokens{Access: tok.AccessToken, Refresh: tok.RefreshToken, IDToken: raw, Sub: id.Subject}
}

func (g *goOIDC) refresh(t testing.TB, app *client, refreshToken string) libTokens {
	t.Helper()
	ctx, provider, cfg := g.setup(t, app)
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	out := libTokens{Access: tok.AccessToken, Refresh: tok.RefreshToken}
	if raw, ok := tok.Extra("id_token").(string); ok {
		id, err := provider.Verifier(&oidc.Config{ClientID: app.id}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		out.IDToken, out.Sub = raw, id.Subject
	}
	return out
}

// endpoint reads a discovery field go-oidc does not expose.
func (g *goOIDC) endpoint(t testing.TB, app *client, name string) string {
	t.Helper()
	_, provider, _ := g.setup(t, app)
	var meta map[string]any
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	u, _ := meta[name].(string)
	if u == "" {
		t.Fatalf("discovery has no %s", name)
	}
	return u
}

func (g *goOIDC) revoke(t testing.TB, app *client, token string) {
	t.Helper()
	resp := g.p.postForm(t, g.endpoint(t, app, "revocation_endpoint"), url.Values{"token": {token}}, app, "basic", "")
	if resp.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
	}
}

func (g *goOIDC) introspect(t testing.TB, app *client, token string) bool {
	t.Helper()
	resp := g.p.postForm(t, g.endpoint(t, app, "introspection_endpoint"), url.Values{"token": {token}}, app, "basic", "")
	if resp.Status != http.StatusOK {
		t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(t)["active"] == true
}

func (g *goOIDC) endSession(t testing.TB, app *client, idToken, postLogout, state string) string {
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {postLogout}, "state": {state}}
	return g.endpoint(t, app, "end_session_endpoint") + "?" + q.Encode()
}

// zitadelRP is zitadel/oidc's relying party and resource server clients.
// As its apps do, it gives the verifier the sign-in's nonce through the
// context of the code exchange (a refreshed ID token has none).
type zitadelRP struct {
	p                      *provider
	state, nonce, verifier string
}

type nonceKey struct{}

func (z *zitadelRP) party(t testing.TB, app *client) rp.RelyingParty {
	t.Helper()
	party, err := rp.NewRelyingPartyOIDC(t.Context(), app.issuer, app.id, app.secret, app.redirectURI, libScopes(app),
		rp.WithHTTPClient(z.p.node.HTTP), rp.WithSigningAlgsFromDiscovery(), rp.WithVerifierOpts(rp.WithNonce(func(ctx context.Context) string { n, _ := ctx.Value(nonceKey{}).(string); return n })))
	if err != nil {
		t.Fatalf("zitadel RP: %v", err)
	}
	return party
}

func (z *zitadelRP) authorize(t testing.TB, app *client, prompt string) string {
	z.state, z.nonce, z.verifier = rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	opts := []rp.AuthURLOpt{rp.WithCodeChallenge(oauth2.S256ChallengeFromVerifier(z.verifier)), rp.AuthURLOpt(rp.WithURLParam("nonce", z.nonce))}
	if prompt != "" {
		opts = append(opts, rp.WithPrompt(prompt))
	}
	return rp.AuthURL(z.state, z.party(t, app), opts...)
}

func (z *zitadelRP) callback(t testing.TB, app *client, q url.Values) libTokens {
	t.Helper()
	if q.Get("state") != z.state || q.Get("error") != "" {
		t.Fatalf("callback %v", q)
	}
	ctx := context.WithValue(t.Context(), nonceKey{}, z.nonce)
	tk, err := rp.CodeExchange[*zoidc.IDTokenClaims](ctx, q.Get("code"), z.party(t, app), rp.WithCodeVerifier(z.verifier))
	if err != nil {
		t.Fatalf("zitadel code exchange: %v", err)
	}
	return libTokens{Access: tk.AccessToken, Refresh: tk.RefreshToken, IDToken: tk.IDToken, Sub: tk.IDTokenClaims.Subject}
}

func (z *zitadelRP) refresh(t testing.TB, app *client, refreshToken string) libTokens {
	t.Helper()
	tk, err := rp.RefreshTokens[*zoidc.IDTokenClaims](t.Context(), z.party(t, app), refreshToken, "", "")
	if err != nil && err != rp.ErrMissingIDToken {
		t.Fatalf("zitadel refresh: %v", err)
	}
	out := libTokens{Access: tk.AccessToken, Refresh: tk.RefreshToken, IDToken: tk.IDToken}
	if tk.IDTokenClaims != nil {
		out.Sub = tk.IDTokenClaims.Subject
	}
	return out
}

func (z *zitadelRP) revoke(t testing.TB, app *client, token string) {
	t.Helper()
	if err := rp.RevokeToken(t.Context(), z.party(t, app), token, "access_token"); err != nil {
		t.Fatalf("zitadel revoke: %v", err)
	}
}

func (z *zitadelRP) introspect(t testing.TB, app *client, token string) bool {
	t.Helper()
	server, err := rs.NewResourceServerClientCredentials(t.Context(), app.issuer, app.id, app.secret, rs.WithClient(z.p.node.HTTP))
	if err != nil {
		t.Fatalf("zitadel resource server: %v", err)
	}
	answer, err := rs.Introspect[*zoidc.IntrospectionResponse](t.Context(), server, token)
	if err != nil {
		t.Fatalf("zitadel introspect: %v", err)
	}
	return answer.Active
}

func (z *zitadelRP) endSession(t testing.TB, app *client, idToken, postLogout, state string) string {
	t.Helper()
	u, err := rp.EndSession(t.Context(), z.party(t, app), idToken, postLogout, state, "", nil)
	if err != nil {
		t.Fatalf("zitadel end session: %v", err)
	}
	return u.String()
}

// nodeLib is openid-client or oauth4webapi, run by testdata/npm/rp.mjs in
// one Node process that answers a line of JSON for each step; the node's
// self-signed certificate is trusted through NODE_EXTRA_CA_CERTS.
type nodeLib struct {
	name    string
	in      io.Writer
	read    func() map[string]any
	session map[string]any // state, nonce, verifier of the sign-in under way
}

func newNodeLib(t *testing.T, p *provider, name string) *nodeLib {
	t.Helper()
	in, read := testenv.StartNodeJS(t, "testdata/npm", "rp.mjs", name,
		"NODE_EXTRA_CA_CERTS="+filepath.Join(p.node.Config.DataDir, server.SelfSignedCert))
	return &nodeLib{name: name, in: in, read: read}
}

// run sends a step for the app and returns its answer.
func (n *nodeLib) run(t testing.TB, app *client, step string, fields map[string]any) map[string]any {
	t.Helper()
	in := map[string]any{"library": n.name, "step": step, "issuer": app.issuer, "client_id": app.id, "client_secret": app.secret,
		"redirect_uri": app.redirectURI, "scope": strings.Join(libScopes(app), " ")}
	for k, v := range fields {
		in[k] = v
	}
	line, _ := json.Marshal(in)
	if _, err := n.in.Write(append(line, '\n')); err != nil {
		t.Fatalf("%s %s: %v", n.name, step, err)
	}
	answer := n.read()
	if answer["error"] != nil {
		t.Fatalf("%s %s: %v", n.name, step, answer)
	}
	return answer
}

func (n *nodeLib) tokens(t testing.TB, m map[string]any) libTokens {
	t.Helper()
	var tk libTokens
	b, _ := json.Marshal(m)
	json.Unmarshal(b, &tk)
	return tk
}

func (n *nodeLib) authorize(t testing.TB, app *client, prompt string) string {
	n.session = n.run(t, app, "authorize", map[string]any{"prompt": prompt})
	return n.session["url"].(string)
}

func (n *nodeLib) callback(t testing.TB, app *client, q url.Values) libTokens {
	return n.tokens(t, n.run(t, app, "callback", map[string]any{"callback_url": app.redirectURI + "?" + q.Encode(),
		"state": n.session["state"], "nonce": n.session["nonce"], "verifier": n.session["verifier"]}))
}

func (n *nodeLib) refresh(t testing.TB, app *client, refreshToken string) libTokens {
	return n.tokens(t, n.run(t, app, "refresh", map[string]any{"refresh_token": refreshToken}))
}

func (n *nodeLib) revoke(t testing.TB, app *client, token string) {
	n.run(t, app, "revoke", map[string]any{"token": token})
}

func (n *nodeLib) introspect(t testing.TB, app *client, token string) bool {
	return n.run(t, app, "introspect", map[string]any{"token": token})["active"] == true
}

func (n *nodeLib) endSession(t testing.TB, app *client, idToken, postLogout, state string) string {
	return n.run(t, app, "end_session", map[string]any{"id_token_hint": idToken, "post_logout_redirect_uri": postLogout, "state": state})["url"].(string)
}
