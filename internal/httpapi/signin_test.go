package httpapi_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/testenv"
)

// bindOnHostedPage opens a binding link in the browser and creates the passkey.
func bindOnHostedPage(t testing.TB, ctx context.Context, link string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.Click(chromedp.ID("create"))); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("status").className === "done"`, 30*time.Second); !ok {
		t.Fatalf("no passkey made; the page says %q", page)
	}
}

// adaWithPasskey is the start of the browser sign-in tests: a browser
// with a virtual authenticator, a new realm named name where the identity
// ada (ada@example.com, of the group Engineers) binds her passkey on the
// hosted page of a hosted-web config.
func adaWithPasskey(t testing.TB, c client, name string) (ctx context.Context, realm, ada string) {
	t.Helper()
	ctx = browsertest.Start(t)
	browsertest.AddAuthenticator(t, ctx)
	realm = newRealm(t, c, name)
	ada = str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
	group := newGroup(t, c, realm, "Engineers")
	c.ok(t, "POST", "/realms/"+realm+"/groups/"+group+":addMembers", map[string]any{"identity_ids": []string{ada}})
	bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
	return ctx, realm, ada
}

// oidcClient registers a confidential OIDC client of the realm, for
// authorization codes with PKCE and refresh tokens, and returns its id,
// client id and secret.
func oidcClient(t testing.TB, n *testenv.Node, realm, redirectURI string) (id, clientID, secret string) {
	t.Helper()
	id, clientID, secret = latchkey.NewUUID(), latchkey.RandomString(24), latchkey.RandomString(48)
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := n.Store.CreateApplication(context.Background(), oauth.Application{ID: id, RealmID: realm, TenantID: n.Creds().TenantID,
		DisplayName: "Pet App", ProtocolConfig: oauth.ProtocolConfig{Type: "oidc", AllowedScopes: []string{}, ClientID: clientID,
			Confidentiality: "confidential", TokenEndpointAuthMethod: "client_secret_basic", GrantType: []string{"authorization_code", "refresh_token"},
			RedirectURIs: []string{redirectURI}, PKCE: "s256", TokenFormat: "self_contained",
			TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600, TokenSigningAlgorithm: "RS256", SubjectField: "id"}},
		CreateTime: now, UpdateTime: now}, n.OAuth.Box().Seal([]byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return id, clientID, secret
}

// relyingParty is a web app that signs its users in through Latchkey with
// go-oidc and x/oauth2, as any OIDC app would; it serves /login and
// /callback on localhost and records the outcome of each sign-in.
type relyingParty struct {
	URL      string
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	outcomes chan outcome
	state    string
	pkce     string
	nonce    string
	http     *http.Client // to reach Latchkey
}

type outcome struct {
	err      string // the error the provider redirected with, or what failed here
	idToken  *oidc.IDToken
	claims   map[string]any
	userinfo map[string]any
	token    *oauth2.Token
}

// startRelyingParty starts the app on ln; hc reaches Latchkey (it trusts
// the node's certificate).
func startRelyingParty(t *testing.T, ln net.Listener, issuer, clientID, secret string, hc *http.Client) *relyingParty {
	t.Helper()
	provider, err := oidc.NewProvider(oidc.ClientContext(context.Background(), hc), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp := &relyingParty{URL: "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), provider: provider, outcomes: make(chan outcome, 1), http: hc,
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID})}
	rp.config = oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		rp.state, rp.nonce, rp.pkce = rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oidc.Nonce(rp.nonce), oauth2.S256ChallengeOption(rp.pkce)}
		for k, v := range r.URL.Query() { // prompt, max_age, id_token_hint…: passed on as given
			opts = append(opts, oauth2.SetAuthURLParam(k, v[0]))
		}
		http.Redirect(w, r, rp.config.AuthCodeURL(rp.state, opts...), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		o := rp.finish(r)
		w.Write([]byte("done"))
		rp.outcomes <- o
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rp
}

func (rp *relyingParty) finish(r *http.Request) outcome {
	q := r.URL.Query()
	switch {
	case q.Get("state") != rp.state:
		return outcome{err: "state mismatch"}
	case q.Get("error") != "":
		return outcome{err: q.Get("error") + ": " + q.Get("error_description")}
	}
	ctx := oidc.ClientContext(r.Context(), rp.http)
	tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(rp.pkce))
	if err != nil {
		return outcome{err: "exchange: " + err.Error()}
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return outcome{err: "id token: " + err.Error()}
	}
	o := outcome{idToken: id, token: tok}
	if err := id.Claims(&o.claims); err != nil || id.Nonce != rp.nonce {
		return outcome{err: fmt.Sprintf("nonce %q, want %q (%v)", id.Nonce, rp.nonce, err)}
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		return outcome{err: "at_hash: " + err.Error()}
	}
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return outcome{err: "userinfo: " + err.Error()}
	}
	info.Claims(&o.userinfo)
	return o
}

// signInThrough drives one sign-in from the app's /login (with the
// authorization request's extra parameters in query) through the hosted
// page's button in the browser and returns its outcome.
func (rp *relyingParty) signInThrough(t *testing.T, ctx context.Context, query ...string) outcome {
	t.Helper()
	rp.pressSignIn(t, ctx, query...)
	return rp.outcome(t, ctx)
}

// pressSignIn opens the app's /login and presses the hosted page's "Sign
// in with a passkey", in a browser without passkey autofill (which the
// virtual authenticator would answer by itself).
func (rp *relyingParty) pressSignIn(t *testing.T, ctx context.Context, query ...string) {
	t.Helper()
	browsertest.WithoutAutofill(t, ctx)
	rp.openSignInPage(t, ctx, query...)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
}

// TestSignInWithPasskey: a real OIDC relying party (go-oidc, x/oauth2)
// signs a user in with authorization code + PKCE through the hosted page,
// in Chromium with a virtual authenticator, verifies the ID token against
// the JWKS and calls userinfo; policy first denies, then allows.
func TestSignInWithPasskey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticator(t, ctx)

		realm := newRealm(t, c, "Pets")
		ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
		bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)

		ln, base := testenv.Listen(t)
		callback := base + "/callback"
		app, clientID, secret := oidcClient(t, n, realm, callback)
		issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app
		rp := startRelyingParty(t, ln, issuer, clientID, secret, http.DefaultClient)

		// A realm without a policy denies: a page says so, in words, and
		// sends the refusal back to the app.
		rp.pressSignIn(t, ctx)
		if o := rp.backFromRefusal(t, ctx, "denied", "Pet App", ""); o.err != "access_denied: "+oauth.DeniedDescription {
			t.Fatalf("sign-in without a policy: %+v", o)
		}
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "allow", "applications": []string{app}, "identities": []string{ada}}}})

		// The denied sign-in started the browser's session: prompt=login asks the passkey again.
		o := rp.signInThrough(t, ctx, "prompt", "login")
		if o.err != "" {
			t.Fatalf("sign-in: %s", o.err)
		}
		if o.idToken.Subject != ada || o.claims["preferred_username"] != "ada" || o.claims["email"] != "ada@example.com" ||
			o.claims["name"] != "Identity ada" || o.claims["auth_time"] == nil || o.claims["amr"] == nil {
			t.Errorf("ID token claims %v", o.claims)
		}
		if o.userinfo["sub"] != ada || o.userinfo["preferred_username"] != "ada" {
			t.Errorf("userinfo %v", o.userinfo)
		}
		tokens := c.list(t, "/realms/"+realm+"/applications/"+app+"/tokens", "principal_type", "identity", "principal_id", ada)
		if num(t, tokens, "total_size") != 2 {
			t.Errorf("token records of the sign-in %v", tokens)
		}
		// The sign-in log: the denial with policy's reason, and the
		// allowed sign-in's steps tied by one correlation id.
		assertDeniedSignIn(t, c, realm, app, "no rule matches; the realm's default is deny")
		assertAllowedSignIn(t, c, realm, app, ada)
	})
}
