package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestSSOConfigPages: an administrator creates an OIDC app's SSO config
// (its client secret shown once), is told what is wrong with a bad payload,
// assigns an identity and a group and sees who may use it, tests it, adds
// and deletes an identity provider (its redirect URL shown, its secret
// not), and deletes the config.
func TestSSOConfigPages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Apps", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		ada := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada"}}})["id"].(string)
		bob := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Bob",
			"traits": map[string]any{"type": "traits_v0", "username": "bob"}}})["id"].(string)
		staff := e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Staff"}})["id"].(string)
		e.api(t, "POST", "/realms/"+realm+"/groups/"+staff+":addMembers", map[string]any{"identity_ids": []string{bob}})
		base := "/console/realms/" + realm + "/sso-configs"
		wantPage(t, e.get(t, base), http.StatusOK, "This realm has no SSO configs yet", "Create SSO config")

		p := e.post(t, base, url.Values{"display_name": {"Expenses"}, "payload": {`{"type":"saml","acs_url":"ftp://x","audience_url":"urn:x"}`}})
		wantPage(t, p, http.StatusUnprocessableEntity, "payload.acs_url")

		p = e.post(t, base, url.Values{"display_name": {"Chat"}, "payload": {`{"type":"generic_oidc","redirect_uris":["https://chat.example/cb"],"scopes":["openid"],"confidentiality":"confidential","pkce":"s256"}`}})
		wantPage(t, p, http.StatusCreated, "shown only this once", "client_secret", "application_id")
		id := regexp.MustCompile(`/sso-configs/([0-9a-f-]{36})/test`).FindStringSubmatch(p.body)
		if id == nil {
			t.Fatalf("no config id on %s", excerpt(p.body))
		}
		page := base + "/" + id[1]
		if got := e.get(t, page); strings.Contains(got.body, "shown only this once") {
			t.Error("the created notice shows again")
		}
		p = e.post(t, page+"/assign", url.Values{"identity_ids": {ada}, "group_ids": {staff}, "action": {"add"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("assign: %d %s", p.status, excerpt(p.body))
		}
		wantPage(t, e.get(t, page), http.StatusOK, "Ada", "directly", "Bob", "group Staff")
		wantPage(t, e.post(t, page+"/test", url.Values{}), http.StatusOK, "Application Chat: ok")
		e.post(t, page+"/assign", url.Values{"identity_ids": {ada}, "action": {"remove"}})
		if got := e.get(t, page); strings.Contains(got.body, ">Ada<") {
			t.Error("Ada is still listed after unassigning")
		}
		wantPage(t, e.get(t, base), http.StatusOK, "Chat", "generic_oidc")
		// Identity providers, on the same page.
		p = e.post(t, "/console/realms/"+realm+"/identity-providers", url.Values{"idp_name": {"Okta"}, "protocol_config": {`{"type":"oidc_idp","client_id":"c"}`}})
		wantPage(t, p, http.StatusUnprocessableEntity, "protocol_config.identifying_claim_name")
		p = e.post(t, "/console/realms/"+realm+"/identity-providers", url.Values{"idp_name": {"Okta"}, "protocol_config": {`{"type":"oidc_idp",
			"client_id":"okta-client","client_secret":"upstream-secret","identity_attribute":"email","identifying_claim_name":"email",
			"authorize_url":"https://acme.okta.com/oauth2/v1/authorize","token_url":"https://acme.okta.com/oauth2/v1/token","jwks_url":"https://acme.okta.com/oauth2/v1/keys"}`}})
		wantPage(t, p, http.StatusCreated, "Register this redirect URL", "/identity-providers/", "okta-client")
		if strings.Contains(p.body, "upstream-secret") {
			t.Error("the page shows the upstream client secret")
		}
		idp := regexp.MustCompile(`/identity-providers/([0-9a-f-]{36})/delete`).FindStringSubmatch(p.body)
		if idp == nil {
			t.Fatalf("no identity provider on %s", excerpt(p.body))
		}
		if p := e.post(t, "/console/realms/"+realm+"/identity-providers/"+idp[1]+"/delete", url.Values{}); p.status != http.StatusSeeOther {
			t.Fatalf("delete the identity provider: %d", p.status)
		}
		wantPage(t, e.get(t, base), http.StatusOK, "No identity providers")

		if p := e.post(t, page+"/delete", url.Values{}); p.status != http.StatusSeeOther {
			t.Fatalf("delete: %d %s", p.status, excerpt(p.body))
		}
		wantPage(t, e.get(t, base), http.StatusOK, "This realm has no SSO configs yet")
	})
}
