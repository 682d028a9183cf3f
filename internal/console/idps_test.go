package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestIdentityProviderPage: an identity provider's page shows its redirect
// URL and settings, never its client secret; its form is told what is
// wrong with a bad protocol config, renames it and changes its settings
// keeping the secret when the field is empty, and seals a new one without
// showing it. An administrator who may only read sees no form, and may not
// post one; another realm's provider is not found.
func TestIdentityProviderPage(t *testing.T) {
	protocol := func(clientID, secret string) map[string]any {
		return map[string]any{"type": "oidc_idp", "client_id": clientID, "client_secret": secret, "pkce": "s256",
			"identity_attribute": "email", "identifying_claim_name": "email", "token_scopes": []string{"email"},
			"authorize_url": "https://acme.okta.com/oauth2/v1/authorize", "token_url": "https://acme.okta.com/oauth2/v1/token",
			"jwks_url": "https://acme.okta.com/oauth2/v1/keys"}
	}
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Apps", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		other := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Others", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		idp := e.api(t, "POST", "/realms/"+realm+"/identity-providers", map[string]any{"display_name": "Okta", "protocol_config": protocol("okta-client", "first-secret")})["id"].(string)
		page := "/console/realms/" + realm + "/identity-providers/" + idp
		wantPage(t, e.get(t, "/console/realms/"+realm+"/sso-configs"), http.StatusOK, `href="`+page+`"`)
		p := e.get(t, page)
		wantPage(t, p, http.StatusOK, "Okta", "/identity-providers/"+idp+"/callback", "okta-client", "Save")
		if strings.Contains(p.body, "first-secret") {
			t.Error("the page shows the client secret")
		}

		bad := protocol("okta-client", "")
		bad["jwks_url"] = "ftp://acme.okta.com/keys"
		b := jsonString(t, bad)
		wantPage(t, e.post(t, page, url.Values{"idp_name": {"Okta"}, "protocol_config": {b}}), http.StatusUnprocessableEntity, "protocol_config.jwks_url")

		keep := jsonString(t, protocol("new-client", ""))
		wantPage(t, e.post(t, page, url.Values{"idp_name": {"Okta EU"}, "protocol_config": {keep}}), http.StatusOK, "Saved", "Okta EU", "new-client")
		got := e.node.SSO
		p2, err := got.IdentityProvider(t.Context(), e.tenant(), realm, idp)
		if err != nil {
			t.Fatal(err)
		}
		if secret, err := got.IdPSecret(p2); err != nil || secret != "first-secret" || p2.DisplayName != "Okta EU" || p2.ProtocolConfig.ClientID != "new-client" {
			t.Errorf("after the edit without a secret: %q %v %+v", secret, err, p2)
		}
		renew := jsonString(t, protocol("new-client", "second-secret"))
		if p := e.post(t, page, url.Values{"idp_name": {"Okta EU"}, "protocol_config": {renew}}); p.status != http.StatusOK || strings.Contains(p.body, "second-secret") {
			t.Errorf("a new secret: %d, shown %v", p.status, strings.Contains(p.body, "second-secret"))
		}
		p2, _ = got.IdentityProvider(t.Context(), e.tenant(), realm, idp)
		if secret, _ := got.IdPSecret(p2); secret != "second-secret" {
			t.Errorf("the new secret is %q", secret)
		}
		wantPage(t, e.get(t, "/console/realms/"+other+"/identity-providers/"+idp), http.StatusNotFound)

		e.signIn(t, e.node.Token(t, "identity-providers:read sso-configs:read realms:read"))
		if p := e.get(t, page); p.status != http.StatusOK || strings.Contains(p.body, ">Save<") {
			t.Errorf("a reader's page: %d, with the form %v", p.status, strings.Contains(p.body, ">Save<"))
		}
		if p := e.post(t, page, url.Values{"idp_name": {"Taken"}, "protocol_config": {keep}}); p.status != http.StatusForbidden {
			t.Errorf("a reader's edit: %d, want 403", p.status)
		}
	})
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
