package httpapi_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// startOIDCApp registers an OIDC client of the realm and starts its relying
// party (go-oidc) against the issuer on node.
func startOIDCApp(t *testing.T, n *testenv.Node, tenant, realm string) (rp *relyingParty, appID string) {
	t.Helper()
	ln, base := testenv.Listen(t)
	callback := base + "/callback"
	appID, clientID, secret := oidcClient(t, n, realm, callback)
	return startRelyingParty(t, ln, n.URL+"/v1/tenants/"+tenant+"/realms/"+realm+"/applications/"+appID, clientID, secret, n.HTTP), appID
}

// visit opens the app's /login (with the authorization request's extra
// parameters in query) and returns the outcome that comes back without
// any sign-in ceremony; it fails when the hosted sign-in page shows.
func (rp *relyingParty) visit(t *testing.T, ctx context.Context, query ...string) outcome {
	t.Helper()
	browsertest.WithoutAutofill(t, ctx) // no passkey signs in by itself
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login"+queryString(query...))); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-rp.outcomes:
		return rp.loaded(t, ctx, o)
	case <-time.After(15 * time.Second):
		_, page := browsertest.WaitFor(ctx, "false", 0)
		t.Fatalf("no answer without a ceremony; the browser shows %q", page)
	}
	return outcome{}
}

// signedIn fails unless the outcome is a sign-in of identity.
func signedIn(t *testing.T, what string, o outcome, identity string) {
	t.Helper()
	if o.err != "" || o.idToken == nil || o.idToken.Subject != identity {
		t.Fatalf("%s: %+v, want %s signed in", what, o, identity)
	}
}

func refused(t *testing.T, what string, o outcome, code string) {
	t.Helper()
	if !strings.HasPrefix(o.err, code+":") {
		t.Fatalf("%s: %+v, want %s", what, o, code)
	}
}

// TestSingleSignOn: in Chromium with a virtual authenticator, a passkey's
// sign-in to one application signs the browser in to another of the realm
// without a ceremony (one session: the same sid); prompt=none with and
// without a session, prompt=login, max_age, an id_token_hint of another
// user, policy denying the second application despite the session, and
// the realm's idle timeout, the identity's suspension or its passkey's
// revocation ending the session.
func TestSingleSignOn(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			clock := testenv.NewClock()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.Clock = slog.New(slog.DiscardHandler), clock.Now
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			ctx := browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)

			realm := newRealm(t, c, "Pets")
			// The realm's session lifetimes (an hour unused, a day in all).
			if got := c.patch(t, "/realms/"+realm, map[string]any{"realm": map[string]any{"session_idle_timeout": 3600, "session_lifetime": 86400}}); num(t, got, "session_idle_timeout") != 3600 || num(t, got, "session_lifetime") != 86400 {
				t.Errorf("the realm with session lifetimes: %v", got)
			}
			assertInvalid(t, c.do(t, "PATCH", "/realms/"+realm, map[string]any{"realm": map[string]any{"session_idle_timeout": 5}}),
				"realm.session_idle_timeout", "must be 0 (the default) or 60 to 2592000 seconds")
			config := hostedConfig(t, c, realm)
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			bea := str(t, newIdentity(t, c, realm, "bea"), "id")
			bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, config).link)
			wiki, wikiID := startOIDCApp(t, n, c.tenant, realm)
			mail, mailID := startOIDCApp(t, n, c.tenant, realm)
			payroll, _ := startOIDCApp(t, n, c.tenant, realm) // no rule lets anyone in
			c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
				map[string]any{"effect": "allow", "applications": []string{wikiID, mailID}, "identities": []string{ada, bea}}}})

			refused(t, "prompt=none before any sign-in", wiki.visit(t, ctx, "prompt", "none"), "login_required")
			first := wiki.signInThrough(t, ctx)
			signedIn(t, "the passkey's sign-in to the wiki", first, ada)
			sid, _ := first.claims["sid"].(string)
			if sid == "" || first.claims["acr"] != "phr" || first.claims["amr"] == nil {
				t.Errorf("ID token claims %v: want sid, acr and amr", first.claims)
			}

			// Single sign-on: the mail app, without a ceremony, in the same session.
			o := mail.visit(t, ctx)
			signedIn(t, "the mail app with the session", o, ada)
			if o.claims["sid"] != sid || o.claims["auth_time"] != first.claims["auth_time"] {
				t.Errorf("the mail app's sign-in: sid %v auth_time %v, want the session's %s and %v", o.claims["sid"], o.claims["auth_time"], sid, first.claims["auth_time"])
			}
			signedIn(t, "prompt=none with the session", mail.visit(t, ctx, "prompt", "none"), ada)
			signedIn(t, "a login_hint naming the user", mail.visit(t, ctx, "login_hint", "ADA@example.com", "prompt", "none"), ada)

			// Policy is decided for each application: the session does not open the payroll.
			// (A page says so before the browser goes back.)
			if err := chromedp.Do(ctx, chromedp.Navigate(payroll.URL+"/login")); err != nil {
				t.Fatal(err)
			}
			refused(t, "the payroll app with the session", payroll.backFromRefusal(t, ctx, "denied", "Pet App", ""), "access_denied")
			refused(t, "the payroll app with the session and prompt=none", payroll.visit(t, ctx, "prompt", "none"), "access_denied")

			// prompt=login and max_age ask the passkey again.
			clock.Advance(2 * time.Minute)
			o = mail.signInThrough(t, ctx, "prompt", "login")
			signedIn(t, "prompt=login", o, ada)
			if o.claims["sid"] != sid || o.claims["auth_time"].(float64) <= first.claims["auth_time"].(float64) {
				t.Errorf("after prompt=login: sid %v, auth_time %v; want the session %s renewed after %v", o.claims["sid"], o.claims["auth_time"], sid, first.claims["auth_time"])
			}
			clock.Advance(2 * time.Minute)
			refused(t, "max_age=60 with prompt=none two minutes after", wiki.visit(t, ctx, "max_age", "60", "prompt", "none"), "login_required")
			signedIn(t, "max_age=60 two minutes after", wiki.signInThrough(t, ctx, "max_age", "60"), ada)
			signedIn(t, "max_age=3600", wiki.visit(t, ctx, "max_age", "3600"), ada)
			adaHint, _ := first.token.Extra("id_token").(string)
			signedIn(t, "the user's own id_token_hint", wiki.visit(t, ctx, "id_token_hint", adaHint, "prompt", "none"), ada)

			// Another user, in another browser, with its own passkey.
			other := browsertest.Start(t)
			browsertest.AddAuthenticator(t, other)
			refused(t, "prompt=none in a browser without a session", wiki.visit(t, other, "prompt", "none"), "login_required")
			bindOnHostedPage(t, other, newBinding(t, c, realm, bea, config).link)
			beaSignIn := wiki.signInThrough(t, other)
			signedIn(t, "bea's sign-in", beaSignIn, bea)
			beaHint, _ := beaSignIn.token.Extra("id_token").(string)
			refused(t, "ada's session with bea's id_token_hint", wiki.visit(t, ctx, "id_token_hint", beaHint, "prompt", "none"), "login_required")
			refused(t, "ada's session with bea's login_hint", wiki.visit(t, ctx, "login_hint", "bea", "prompt", "none"), "interaction_required")

			// Suspending ada ends her session at once; bea's lives on.
			c.patch(t, "/realms/"+realm+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "suspended"}})
			refused(t, "prompt=none after the suspension", mail.visit(t, ctx, "prompt", "none"), "login_required")
			signedIn(t, "bea's session after ada's suspension", mail.visit(t, other, "prompt", "none"), bea)

			// Unused for longer than the realm's idle timeout, the session is over.
			clock.Advance(time.Hour + time.Second)
			refused(t, "prompt=none after the realm's idle timeout", mail.visit(t, other, "prompt", "none"), "login_required")
			signedIn(t, "bea's sign-in after the idle timeout", mail.signInThrough(t, other), bea)

			// Revoking the passkey that began bea's session ends it.
			creds := c.list(t, "/realms/"+realm+"/identities/"+bea+"/credentials")
			c.post(t, "/realms/"+realm+"/identities/"+bea+"/credentials/"+str(t, items(t, creds, "credentials")[0], "id")+":revoke", nil)
			refused(t, "prompt=none after the passkey's revocation", mail.visit(t, other, "prompt", "none"), "login_required")
		})
	}
}

// TestSessionsAcrossNodes: two nodes on one PostgreSQL share the sessions:
// signed in on one, the browser is signed in to another application on the
// other without a ceremony; the identity suspended through one node (by a
// CSV import), its session is gone on the other at once.
func TestSessionsAcrossNodes(t *testing.T) {
	t.Parallel()
	masterKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	quiet := func(cfg *server.Config) { cfg.Logger, cfg.MasterKey = slog.New(slog.DiscardHandler), masterKey }
	a := testenv.StartNode(t, "postgres", quiet)
	b := testenv.StartNodeWith(t, server.Config{DataDir: t.TempDir(), Database: a.Config.Database}, quiet)
	c := client{base: a.URL, tenant: a.Creds().TenantID, token: a.Token(t, "")}
	ctx := browsertest.Start(t)
	browsertest.AddAuthenticator(t, ctx)

	realm := newRealm(t, c, "Pets")
	ada := str(t, newIdentity(t, c, realm, "ada"), "id")
	bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
	wiki, wikiID := startOIDCApp(t, a, c.tenant, realm)
	mail, mailID := startOIDCApp(t, b, c.tenant, realm)
	c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
		map[string]any{"effect": "allow", "applications": []string{wikiID, mailID}, "identities": []string{ada}}}})

	first := wiki.signInThrough(t, ctx)
	signedIn(t, "the sign-in on node A", first, ada)
	o := mail.visit(t, ctx)
	signedIn(t, "single sign-on on node B", o, ada)
	if o.claims["sid"] != first.claims["sid"] || !strings.HasPrefix(o.idToken.Issuer, b.URL) {
		t.Errorf("node B's sign-in: sid %v issuer %s; want node A's session %v", o.claims["sid"], o.idToken.Issuer, first.claims["sid"])
	}
	// Suspended by a CSV import on node A.
	c.importFile(t, realm, "?update_existing=true", "username,status\nada,suspended\n")
	refused(t, "prompt=none on node B after the suspension on node A", mail.visit(t, ctx, "prompt", "none"), "login_required")
	if r := testenv.Do(t, http.MethodGet, b.URL+"/v1/tenants/"+c.tenant+"/realms/"+realm+"/applications/"+mailID+"/.well-known/openid-configuration", "", nil); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"sid"`) {
		t.Errorf("node B's discovery: %d %s", r.Status, r.Body)
	}
}

// TestSessionCookie: the hosted page's sign-in sets the session cookie
// HttpOnly, SameSite=Lax, for the realm's paths only, until the session's
// absolute expiry, not Secure on an http:// node, its value sealed.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	n := testenv.StartNode(t, "sqlite", func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
	realm := newRealm(t, c, "Pets")
	h := newPasskeyHolder(t, n.URL, c, realm, "ada")
	callback := "https://app.example.com/callback"
	appID, clientID, _ := oidcClient(t, n, realm, callback)
	c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
	answer := h.signInAnswer(t, n.URL+"/v1/tenants/"+c.tenant+"/realms/"+realm+"/applications/"+appID, signInQuery(clientID, callback))
	cookies := (&http.Response{Header: answer.Header}).Cookies()
	if answer.Status != http.StatusOK || len(cookies) != 1 {
		t.Fatalf("sign-in: %d, cookies %v", answer.Status, answer.Header["Set-Cookie"])
	}
	k := cookies[0]
	if k.Name != "latchkey_session" || !k.HttpOnly || k.SameSite != http.SameSiteLaxMode || k.Secure ||
		k.Path != "/v1/tenants/"+c.tenant+"/realms/"+realm+"/" || k.Expires.Before(time.Now().Add(11*time.Hour)) || strings.Contains(k.Value, realm) {
		t.Errorf("session cookie %s", answer.Header.Get("Set-Cookie"))
	}
}
