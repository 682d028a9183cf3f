package httpapi_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// upstreamRealm makes a realm of n a real upstream OIDC provider: an
// identity (ada@example.com) with a passkey bound in the browser, and an
// OIDC application (PKCE S256) whose redirect URI is redirectURI. It
// returns the realm and the application's issuer, client id and secret.
func upstreamRealm(t *testing.T, n *testenv.Node, c client, ctx context.Context, redirectURI string) (realm, issuer, clientID, secret string) {
	t.Helper()
	realm = newRealm(t, c, "Upstream")
	c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
	config := hostedConfig(t, c, realm)
	ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
	bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, config).link)
	app, clientID, secret := oidcClient(t, n, realm, redirectURI)
	return realm, n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app, clientID, secret
}

// upstreamPayload is a generic_oidc_idp payload for the provider at issuer
// (a Latchkey application), identifying users by their e-mail address.
func upstreamPayload(issuer, clientID, secret string) map[string]any {
	return map[string]any{"type": "generic_oidc_idp", "client_id": clientID, "client_secret": secret, "pkce": "s256",
		"id_token_scopes": []string{"email"}, "identifying_claim_name": "email", "identity_attribute": "email",
		"authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token", "jwks_endpoint": issuer + "/.well-known/jwks.json"}
}

// TestSignInThroughUpstream: in Chromium, an OIDC app of one realm signs a
// user in through a generic_oidc_idp SSO config whose upstream provider is
// another realm of Latchkey (its own OIDC application, a passkey on its
// hosted page): the hosted page offers "Sign in with <config>", the
// upstream vouches for ada@example.com, who is the realm's ADA@example.com,
// assigned to the config; the ID token says amr fed and the upstream acr,
// and a sign_in.allowed event names the application. Then, with the upstream's
// session (no ceremony there), the identity unassigned, suspended, and no
// longer holding the address is refused on its page, with events saying why.
func TestSignInThroughUpstream(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			ctx := browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)

			pets := newRealm(t, c, "Pets")
			c.ok(t, "PUT", "/realms/"+pets+"/policy", map[string]any{"default_effect": "allow"})
			ada := str(t, newIdentity(t, c, pets, "ada", "primary_email_address", "ADA@example.com"), "id")
			made := c.post(t, "/realms/"+pets+"/sso-configs", ssoConfigBody("Upstream Co", upstreamPayload("https://idp.example", "x", "y")))
			config, callback := str(t, made, "id"), str(t, obj(t, made, "payload"), "redirect_uri")
			_, issuer, clientID, secret := upstreamRealm(t, n, c, ctx, callback)
			c.patch(t, "/realms/"+pets+"/sso-configs/"+config, map[string]any{"sso_config": map[string]any{"payload": upstreamPayload(issuer, clientID, secret)}})
			assertEmpty200(t, c.do(t, "POST", "/realms/"+pets+"/sso-configs/"+config+":addIdentities", map[string]any{"identity_ids": []string{ada}}))
			rp, app := startOIDCApp(t, n, c.tenant, pets)

			browsertest.WithoutAutofill(t, ctx)
			through := func() {
				t.Helper()
				rp.openSignInPage(t, ctx, "prompt", "login") // past the realm's own session
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("upstream-"+config))); err != nil {
					t.Fatal(err)
				}
			}
			through()
			signInOnHostedPage(t, ctx) // the upstream realm's page
			o := rp.outcome(t, ctx)
			signedIn(t, "through the upstream", o, ada)
			if amr, _ := o.claims["amr"].([]any); !slices.Equal(amr, []any{"fed"}) || o.claims["acr"] != "urn:latchkey:acr:upstream-idp" {
				t.Errorf("ID token amr %v acr %v, want [fed] and the upstream acr", o.claims["amr"], o.claims["acr"])
			}
			if allowed := signInEvents(t, c, pets, `action eq "sign_in.allowed" and identity_id eq "`+ada+`" and application_id eq "`+app+`"`); len(allowed) != 1 {
				t.Errorf("sign_in.allowed events %v, want one", allowed)
			}

			refusedBy := func(what, kind, reason string) {
				t.Helper()
				through() // the upstream's session answers at once
				refused(t, what, rp.backFromRefusal(t, ctx, kind, "Pet App", ""), "access_denied")
				events := signInEvents(t, c, pets, `action eq "sign_in.denied" and application_id eq "`+app+`"`)
				if len(events) == 0 || !strings.Contains(events[0]["reason"].(string), reason) {
					t.Errorf("%s: sign-in events %v, want the newest denied saying %q", what, events, reason)
				}
			}
			assertEmpty200(t, c.do(t, "POST", "/realms/"+pets+"/sso-configs/"+config+":deleteIdentities", map[string]any{"identity_ids": []string{ada}}))
			refusedBy("unassigned", "upstream_denied", "not assigned")
			assertEmpty200(t, c.do(t, "POST", "/realms/"+pets+"/sso-configs/"+config+":addIdentities", map[string]any{"identity_ids": []string{ada}}))
			c.patch(t, "/realms/"+pets+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "suspended"}})
			refusedBy("suspended", "suspended", "suspended")
			c.patch(t, "/realms/"+pets+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "active",
				"traits": map[string]any{"type": "traits_v0", "username": "ada", "primary_email_address": "ada@pets.example"}}})
			refusedBy("no identity with the address", "upstream_unknown", "no identity")
		})
	}
}
