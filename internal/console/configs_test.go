package console_test

import (
	"net/http"
	"net/url"
	"testing"
)

func TestAuthenticatorConfigs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Shop", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		base := "/console/realms/" + realm + "/authenticator-configs"

		// Refused fields are shown on theirs, an origin by its line, with what was typed kept.
		p := e.post(t, base, url.Values{"display_name": {"Shop app"}, "config.type": {"embedded"}, "config.invoke_url": {""},
			"config.trusted_origins": {"https://shop.example\nhttps://shop.example/path"}, "config.invocation_type": {"manual"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-config.invoke_url"`, `id="e-config.trusted_origins"`,
			"entry 2: not an origin", "https://shop.example\nhttps://shop.example/path", `value="Shop app"`, `value="manual" selected`)
		p = e.post(t, base, url.Values{"display_name": {"Hosted"}, "config.type": {"hosted_web"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-config.authentication_methods"`, "must list at least one method")

		wantPage(t, e.get(t, base+"/new"), http.StatusOK, `value="required" selected`)
		p = e.follow(t, base, url.Values{"display_name": {"Hosted"}, "config.type": {"hosted_web"}, "config.user_verification": {"preferred"},
			"config.authentication_methods": {"webauthn_passkey", "email_one_time_password"}, "config.invoke_url": {"https://ignored.example"}})
		wantPage(t, p, http.StatusOK, "Authenticator config Hosted created.", `value="email_one_time_password" checked`, `value="preferred" selected`)
		configs := e.api(t, "GET", "/realms/"+realm+"/authenticator-configs", nil)["authenticator_configs"].([]any)
		if len(configs) != 1 {
			t.Fatalf("the API lists %d configs", len(configs))
		}
		cfg := configs[0].(map[string]any)
		id := cfg["id"].(string)
		if c := cfg["config"].(map[string]any); c["type"] != "hosted_web" || len(c["authentication_methods"].([]any)) != 2 || c["invoke_url"] != nil ||
			c["user_verification"] != "preferred" {
			t.Fatalf("the API shows %v", cfg)
		}

		// Edit into an embedded config.
		p = e.follow(t, base+"/"+id, url.Values{"display_name": {"Shop app"}, "config.type": {"embedded"}, "config.invoke_url": {"https://shop.example/bind"},
			"config.trusted_origins": {"https://shop.example/\n"}, "config.invocation_type": {"manual"}})
		wantPage(t, p, http.StatusOK, "Saved.", `value="https://shop.example/bind"`)
		c := e.api(t, "GET", "/realms/"+realm+"/authenticator-configs/"+id, nil)["config"].(map[string]any)
		if c["type"] != "embedded" || c["invoke_url"] != "https://shop.example/bind" || c["trusted_origins"].([]any)[0] != "https://shop.example" || c["invocation_type"] != "manual" {
			t.Fatalf("the API shows %v", c)
		}

		// Authenticator rules: a bad AAGUID shown on its line; saved ones shown as the API has them.
		p = e.post(t, base+"/"+id, url.Values{"display_name": {"Shop app"}, "config.type": {"embedded"}, "config.invoke_url": {"https://shop.example/bind"},
			"config.trusted_origins": {"https://shop.example"}, "config.invocation_type": {"manual"}, "config.denied_aaguids": {"cb69481e-8ff7-4039-93ec-0a2729a154a8\nyubikey"}})
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-config.denied_aaguids"`, "entry 2: not an AAGUID")
		p = e.follow(t, base+"/"+id, url.Values{"display_name": {"Shop app"}, "config.type": {"embedded"}, "config.invoke_url": {"https://shop.example/bind"},
			"config.trusted_origins": {"https://shop.example"}, "config.invocation_type": {"manual"}, "config.device_bound_only": {"true"},
			"config.allowed_aaguids": {"CB69481E-8FF7-4039-93EC-0A2729A154A8\n"}})
		wantPage(t, p, http.StatusOK, "Saved.", `value="true" checked`, ">cb69481e-8ff7-4039-93ec-0a2729a154a8</textarea>")
		c = e.api(t, "GET", "/realms/"+realm+"/authenticator-configs/"+id, nil)["config"].(map[string]any)
		if c["device_bound_only"] != true || len(c["allowed_aaguids"].([]any)) != 1 || c["denied_aaguids"] != nil {
			t.Fatalf("the API shows %v", c)
		}

		// A config an application uses is refused deletion, with the reason.
		app := e.api(t, "POST", "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
			"display_name": "Shop", "authenticator_config_id": id, "protocol_config": map[string]any{"type": "oidc",
				"grant_type": []string{"authorization_code"}, "redirect_uris": []string{"https://shop.example/cb"},
				"token_configuration": map[string]any{"expires_after": 600}}}})["id"].(string)
		wantPage(t, e.get(t, base+"/"+id+"/delete"), http.StatusOK, "Type Shop app to confirm")
		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"Shop app"}})
		wantPage(t, p, http.StatusConflict, "Authenticator config is used by an application")
		e.api(t, "DELETE", "/realms/"+realm+"/applications/"+app, nil)

		p = e.post(t, base+"/"+id+"/delete", url.Values{"confirm": {"Hosted"}})
		wantPage(t, p, http.StatusUnprocessableEntity, "Type the name exactly")
		e.api(t, "GET", "/realms/"+realm+"/authenticator-configs/"+id, nil)
		p = e.follow(t, base+"/"+id+"/delete", url.Values{"confirm": {"Shop app"}})
		wantPage(t, p, http.StatusOK, "Authenticator config Shop app deleted.")
		wantPage(t, e.get(t, base+"/"+id), http.StatusNotFound, "Authenticator config not found: it may have been deleted meanwhile.")
	})
}
