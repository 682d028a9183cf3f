package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// appForm is the application form as a browser posts it, for a confidential
// client_credentials client; change overrides fields.
func appForm(change url.Values) url.Values {
	v := url.Values{"display_name": {"Billing"}, "protocol_config.type": {"oauth2"}, "protocol_config.confidentiality": {"confidential"},
		"protocol_config.grant_type": {"client_credentials"}, "protocol_config.pkce": {"disabled"}, "protocol_config.redirect_uris": {""},
		"protocol_config.allowed_scopes": {""}, "protocol_config.token_configuration.expires_after": {"600"},
		"protocol_config.token_configuration.subject_field": {"id"}, "protocol_config.token_format": {"self_contained"},
		"protocol_config.token_configuration.token_signing_algorithm": {"RS256"}, "authenticator_config_id": {""}, "resource_server_id": {""}}
	for k, vs := range change {
		v[k] = vs
	}
	return v
}

// tokenStatus is the token endpoint's status for a client_credentials grant of the client.
func (e *env) tokenStatus(t *testing.T, realm, app, clientID, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", e.node.URL+"/v1/tenants/"+e.tenant()+"/realms/"+realm+"/applications/"+app+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var secretRE = regexp.MustCompile(`<pre id="client-secret">([^<]+)</pre>`)

func TestApplications(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Shop", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		base := "/console/realms/" + realm + "/applications"
		wantPage(t, e.get(t, base+"/new"), http.StatusOK, `value="3600"`, `value="authorization_code" checked`, `value="2592000"`, `value="rotating" selected`)

		// Refused fields are shown on theirs, a redirect URI by its line, with what was typed kept.
		p := e.post(t, base, appForm(url.Values{"protocol_config.grant_type": {"authorization_code", "refresh_token"},
			"protocol_config.redirect_uris": {"https://shop.example/cb\nnot a uri"}, "protocol_config.token_configuration.expires_after": {"soon"},
			"protocol_config.token_configuration.token_signing_algorithm": {"HS256"}}))
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-protocol_config.redirect_uris"`, "entry 2: not an absolute URI",
			`id="e-protocol_config.token_configuration.token_signing_algorithm"`, "must be one of RS256, ES256",
			`id="e-protocol_config.token_configuration.expires_after"`, "https://shop.example/cb\nnot a uri",
			`value="refresh_token" checked`, `value="Billing"`)
		p = e.post(t, base, appForm(url.Values{"protocol_config.grant_type": nil}))
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-protocol_config.grant_type"`, "must list at least one grant")

		// Created: the secret is shown this once, and never again.
		p = e.post(t, base, appForm(nil))
		wantPage(t, p, http.StatusCreated, "Client secret: shown only now")
		shown := secretRE.FindStringSubmatch(p.body)
		apps := e.api(t, "GET", "/realms/"+realm+"/applications", nil)["applications"].([]any)
		if len(apps) == 1 {
			p := e.get(t, base+"/"+apps[0].(map[string]any)["id"].(string))
			if secretRE.MatchString(p.body) || shown != nil && strings.Contains(p.body, shown[1]) || !strings.Contains(p.body, "shown once, when it is made") {
				t.Fatal("the application page shows the secret again, or does not say it was shown once")
			}
		}
		if len(apps) != 1 {
			t.Fatalf("the API lists %d applications", len(apps))
		}
		app := apps[0].(map[string]any)
		id, pc := app["id"].(string), app["protocol_config"].(map[string]any)
		if pc["type"] != "oauth2" || pc["token_configuration"].(map[string]any)["expires_after"] != 600.0 || pc["grant_type"].([]any)[0] != "client_credentials" {
			t.Fatalf("the API shows %v", app)
		}
		clientID, oldSecret := pc["client_id"].(string), pc["client_secret"].(string)
		if shown == nil || shown[1] != oldSecret {
			t.Fatalf("the secret shown at creation %v is not the application's", shown)
		}

		// Edit.
		refresh := url.Values{"protocol_config.refresh_token_configuration.expires_after": {"7200"},
			"protocol_config.refresh_token_configuration.absolute_lifetime": {"never"}, "protocol_config.refresh_token_configuration.rotation_type": {"non_rotating"}}
		p = e.post(t, base+"/"+id, appForm(refresh))
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-protocol_config.refresh_token_configuration.absolute_lifetime"`, `value="never"`)
		refresh.Set("protocol_config.refresh_token_configuration.absolute_lifetime", "86400")
		refresh.Set("display_name", "Billing service")
		refresh.Set("protocol_config.token_configuration.expires_after", "900")
		refresh.Set("protocol_config.token_format", "referential")
		refresh.Set("protocol_config.token_configuration.token_signing_algorithm", "ES256")
		p = e.follow(t, base+"/"+id, appForm(refresh))
		wantPage(t, p, http.StatusOK, "Saved.", `value="900"`, `value="ES256" selected`, `value="referential" selected`, `value="7200"`, `value="86400"`, `value="non_rotating" selected`)
		got := e.api(t, "GET", "/realms/"+realm+"/applications/"+id, nil)
		if gpc := got["protocol_config"].(map[string]any); got["display_name"] != "Billing service" ||
			gpc["token_configuration"].(map[string]any)["expires_after"] != 900.0 || gpc["token_format"] != "referential" ||
			gpc["token_configuration"].(map[string]any)["token_signing_algorithm"] != "ES256" ||
			gpc["refresh_token_configuration"].(map[string]any)["absolute_lifetime"] != 86400.0 ||
			gpc["refresh_token_configuration"].(map[string]any)["rotation_type"] != "non_rotating" {
			t.Fatalf("the API shows %v", got)
		}
		p = e.post(t, base+"/"+id, appForm(url.Values{"display_name": {"Billing service"}, "protocol_config.confidentiality": {"public"}}))
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-protocol_config.pkce"`, "public clients must use PKCE")

		// No page reveals it again; regenerating replaces it, and the old one gets no token.
		if p = e.post(t, base+"/"+id+"/secret", url.Values{}); p.status < 400 || strings.Contains(p.body, oldSecret) {
			t.Fatalf("a post to reveal the secret: %d %s", p.status, excerpt(p.body))
		}
		if s := e.tokenStatus(t, realm, id, clientID, oldSecret); s != http.StatusOK {
			t.Fatalf("the secret gets no token: %d", s)
		}
		wantPage(t, e.get(t, base+"/"+id+"/regenerate-secret"), http.StatusOK, "stops working at once")
		p = e.post(t, base+"/"+id+"/regenerate-secret", url.Values{})
		m := secretRE.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil || m[1] == oldSecret {
			t.Fatalf("regenerate: %d %s", p.status, excerpt(p.body))
		}
		if s := e.tokenStatus(t, realm, id, clientID, oldSecret); s != http.StatusUnauthorized {
			t.Fatalf("the old secret still answers %d", s)
		}
		if s := e.tokenStatus(t, realm, id, clientID, m[1]); s != http.StatusOK {
			t.Fatalf("the new secret answers %d", s)
		}

		// Delete with the typed name only.
		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"Billing"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Type the name exactly")
		e.api(t, "GET", "/realms/"+realm+"/applications/"+id, nil)
		p = e.follow(t, base+"/"+id+"/delete", url.Values{"confirm": {"Billing service"}})
		wantPage(t, p, http.StatusOK, "Application Billing service deleted.")
		wantPage(t, e.get(t, base+"/"+id), http.StatusNotFound, "The requested resource was not found: it may have been deleted meanwhile.")
	})
}

// The management API application is shown read-only, and the service
// refuses to change, re-key or delete it: the console would lock itself out.
func TestManagedApplication(t *testing.T) {
	e := start(t, "sqlite", "")
	base := "/console/realms/" + e.admin() + "/applications/" + e.node.Creds().ApplicationID
	p := e.get(t, base)
	wantPage(t, p, http.StatusOK, "Latchkey manages this application")
	for _, s := range []string{"Save changes", "Regenerate secret", "/delete"} {
		if strings.Contains(p.body, s) {
			t.Fatalf("the managed application's page offers %q", s)
		}
	}
	p = e.post(t, base, appForm(url.Values{"display_name": {"Hijacked"}}))
	wantPage(t, p, http.StatusUnprocessableEntity, "managed applications cannot be changed or deleted")
	p = e.post(t, base+"/regenerate-secret", url.Values{})
	wantPage(t, p, http.StatusConflict, "Managed applications cannot be changed or deleted.")
	p = e.post(t, base+"/delete", url.Values{"confirm": {"Latchkey Management API"}})
	wantPage(t, p, http.StatusConflict, "Managed applications cannot be changed or deleted.")
	creds := e.node.Creds()
	if s := e.tokenStatus(t, creds.RealmID, creds.ApplicationID, creds.ClientID, creds.ClientSecret); s != http.StatusOK {
		t.Fatalf("the management application answers %d", s)
	}
	if got := e.api(t, "GET", "/realms/"+e.admin()+"/applications/"+creds.ApplicationID, nil); got["display_name"] != "Latchkey Management API" {
		t.Fatalf("the API shows %v", got)
	}
	// Neither the API nor the console answers its secret, to anyone.
	for _, p := range []page{e.get(t, base), e.post(t, base+"/secret", url.Values{})} {
		if strings.Contains(p.body, creds.ClientSecret) {
			t.Fatalf("the console shows the management application's secret (%d)", p.status)
		}
	}
}

// TestApplicationLogoutURIs: the form edits an application's post-logout
// redirect URIs and back-channel logout URI, refused as the API refuses them.
func TestApplicationLogoutURIs(t *testing.T) {
	e := start(t, "sqlite", "")
	realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Shop", "classification": "SECURE_CUSTOMER"}})["id"].(string)
	base := "/console/realms/" + realm + "/applications"
	signsIn := url.Values{"protocol_config.type": {"oidc"}, "protocol_config.grant_type": {"authorization_code"},
		"protocol_config.redirect_uris": {"https://shop.example/cb"}, "protocol_config.post_logout_redirect_uris": {"https://shop.example/bye\njavascript:alert(1)"},
		"protocol_config.backchannel_logout_uri": {"com.example.shop:/logout"}}
	p := e.post(t, base, appForm(signsIn))
	wantPage(t, p, http.StatusUnprocessableEntity, `id="e-protocol_config.post_logout_redirect_uris"`, "entry 2: the scheme javascript: is not allowed",
		`id="e-protocol_config.backchannel_logout_uri"`, "must be an https URL")
	signsIn["protocol_config.post_logout_redirect_uris"] = []string{"https://shop.example/bye\ncom.example.shop:/bye"}
	signsIn["protocol_config.backchannel_logout_uri"] = []string{"https://shop.example/backchannel"}
	p = e.post(t, base, appForm(signsIn))
	wantPage(t, p, http.StatusCreated, "Application Billing created.", "Client secret: shown only now", "https://shop.example/bye\ncom.example.shop:/bye", `value="https://shop.example/backchannel"`)
	pc := e.api(t, "GET", "/realms/"+realm+"/applications", nil)["applications"].([]any)[0].(map[string]any)["protocol_config"].(map[string]any)
	if uris := pc["post_logout_redirect_uris"].([]any); len(uris) != 2 || uris[1] != "com.example.shop:/bye" || pc["backchannel_logout_uri"] != "https://shop.example/backchannel" {
		t.Errorf("the API shows %v", pc)
	}
}
