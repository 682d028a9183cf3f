package console

import (
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
)

// connectView is an application's "Connect your app" panel: what a
// developer configures in an OpenID Connect library or the embedded SDK.
// Each application is an issuer of its own.
type connectView struct {
	Issuer, Discovery string
	Endpoints         []option // label, URL, from the application's discovery document
	Public            bool     // a public client: no secret, PKCE
	Snippets          []snippet
}

// snippet is a copyable sample configuration.
type snippet struct{ ID, Title, Code string }

// endpointLabels name the discovery document's endpoints, in the order shown.
var endpointLabels = []option{
	{"authorization_endpoint", "Authorization"}, {"token_endpoint", "Token"}, {"userinfo_endpoint", "UserInfo"},
	{"jwks_uri", "JWKS (signing keys)"}, {"end_session_endpoint", "End session (sign-out)"},
	{"revocation_endpoint", "Revocation"}, {"introspection_endpoint", "Introspection"},
}

func (c *Console) connectPanel(q *request, a oauth.Application) (*connectView, error) {
	meta, err := c.OAuth.Metadata(q.Context(), q.tenantID, q.realm.ID, a.ID)
	if err != nil {
		return nil, err
	}
	issuer, _ := meta["issuer"].(string)
	v := &connectView{Issuer: issuer, Discovery: issuer + "/.well-known/openid-configuration", Public: a.ProtocolConfig.Confidentiality == "public"}
	for _, e := range endpointLabels {
		if u, ok := meta[e.Value].(string); ok {
			v.Endpoints = append(v.Endpoints, option{Value: u, Label: e.Label})
		}
	}
	redirect := "https://app.example.com/callback"
	if uris := a.ProtocolConfig.RedirectURIs; len(uris) > 0 {
		redirect = uris[0]
	}
	scopes := []string{"openid", "profile", "email"}
	if a.ProtocolConfig.Type != "oidc" {
		scopes = nil
	}
	if slices.Contains(a.ProtocolConfig.GrantType, "refresh_token") && scopes != nil {
		scopes = append(scopes, "offline_access")
	}
	v.Snippets = []snippet{
		{"snippet-node", "Node.js: openid-client 6", openidClientSnippet(issuer, a.ProtocolConfig.ClientID, redirect, strings.Join(scopes, " "), v.Public)},
		{"snippet-go", "Go: github.com/coreos/go-oidc/v3", goOIDCSnippet(issuer, a.ProtocolConfig.ClientID, redirect, scopes, v.Public)},
		{"snippet-sdk", "Browser: the embedded SDK (@beyondidentity/bi-sdk-js)", sdkSnippet(q.c.PublicURL)},
	}
	return v, nil
}

func openidClientSnippet(issuer, clientID, redirect, scope string, public bool) string {
	auth := "process.env.CLIENT_SECRET"
	if public {
		auth = "undefined, client.None()"
	}
	return fmt.Sprintf(`import * as client from "openid-client";

const config = await client.discovery(new URL(%q), %q, %s);
const verifier = client.randomPKCECodeVerifier();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: %q, scope: %q,
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
});
// … the browser signs in with a passkey and comes back to redirect_uri:
const tokens = await client.authorizationCodeGrant(config, new URL(callbackURL), { pkceCodeVerifier: verifier });
console.log(tokens.claims());`, issuer, clientID, auth, redirect, scope)
}

func goOIDCSnippet(issuer, clientID, redirect string, scopes []string, public bool) string {
	secret := `os.Getenv("CLIENT_SECRET")`
	if public {
		secret = `"" // a public client: PKCE, no secret`
	}
	quoted := make([]string, len(scopes))
	for i, s := range scopes {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf(`provider, err := oidc.NewProvider(ctx, %q)
if err != nil {
	return err
}
conf := oauth2.Config{
	ClientID:     %q,
	ClientSecret: %s,
	Endpoint:     provider.Endpoint(),
	RedirectURL:  %q,
	Scopes:       []string{%s},
}
verifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID})
pkce := oauth2.GenerateVerifier()
http.Redirect(w, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)), http.StatusFound)
// In the redirect URL's handler:
token, err := conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(pkce))
idToken, err := verifier.Verify(ctx, token.Extra("id_token").(string))`, issuer, clientID, secret, redirect, strings.Join(quoted, ", "))
}

func sdkSnippet(publicURL string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(publicURL, "https://"), "http://")
	if i := strings.IndexAny(host, ":/"); i >= 0 {
		host = host[:i]
	}
	return fmt.Sprintf(`import { Embedded } from "@beyondidentity/bi-sdk-js";

// With an authenticator config of type "embedded" whose invoke_url is your app:
const sdk = await Embedded.initialize({ allowedDomains: [%q] });
const { passkey } = await sdk.bindPasskey(bindingLink);          // a link of a credential binding job
const passkeys = await sdk.getPasskeys();
const { redirectUrl } = await sdk.authenticate(authenticateUrl, passkeys[0].id); // the /authorize hand-off`, host)
}
