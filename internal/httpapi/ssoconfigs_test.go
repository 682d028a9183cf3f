package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testCertificate is a self-signed PEM certificate, as a service provider's.
func testCertificate(t testing.TB) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// ssoPayloads are a create body's payload of every type the API names
// (but scim, which Latchkey stores as given), as its examples and bi-mcp send them.
func ssoPayloads(cert string) map[string]map[string]any {
	return map[string]map[string]any{
		"bookmark": {"type": "bookmark", "login_link": "https://wiki.example/login", "icon": "https://wiki.example/icon.png", "is_tile_visible": true},
		"generic_saml": {"type": "saml", "acs_url": "https://sp.example/saml/acs", "override_recipient_and_destination": false,
			"audience_url": "https://sp.example/saml/metadata", "default_relay_state": "", "name_format": "email_address",
			"authentication_context": "x509", "subject_user_name_attribute": "email", "sign_envelope": true, "sign_assertions": true,
			"signature_algorithm": "rsa_sha256", "digest_algorithm": "sha256", "encrypt_assertions": true,
			"assertion_validity_duration_seconds": 300, "assertion_encryption_public_key": cert,
			"sp_signature_certificates": []any{map[string]any{"sp_public_signing_key": cert}}, "enable_single_log_out": true,
			"single_log_out_url": "https://sp.example/saml/slo", "single_log_out_binding": "post",
			"single_logout_sign_request_and_response": true, "validate_signed_requests": true,
			"additional_user_attributes": []any{map[string]any{"name": "firstName", "name_format": "unspecified", "value": "display_name"}}},
		"ws_fed": {"type": "ws_fed", "acs_url": "https://sp.example/wsfed", "audience_url": "urn:sp:example", "expiration_time_seconds": 3600,
			"digest_algorithm": "sha256", "signature_algorithm": "rsa_sha256", "name_format": "unspecified",
			"subject_user_name_attribute": "user_name", "authentication_context": "password_protected_transport",
			"additional_user_attributes": []any{map[string]any{"name": "upn", "name_format": "unspecified", "value": "email", "namespace": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"}}},
		"generic_oidc": {"type": "generic_oidc", "redirect_uris": []string{"https://rp.example/callback"}, "scopes": []string{"openid", "email"},
			"trusted_origins": []string{"https://rp.example"}, "confidentiality": "confidential", "pkce": "s256", "login_link": "https://rp.example/login"},
		"okta_sso_bi_idp": {"type": "okta_sso_bi_idp", "pkce": "s256", "okta_registration": map[string]any{"domain": "acme.okta.com",
			"okta_token": "00secret", "attribute_name": "byndidRegistered", "is_enabled": true}},
		"entra_id_external_auth_methods": {"type": "entra_id_external_auth_methods", "redirect_uris": []string{"https://login.microsoftonline.com/common/federation/externalauthprovider"},
			"discover_endpoint": "global_azure"},
		"generic_oidc_idp": {"type": "generic_oidc_idp", "client_id": "upstream", "client_secret": "shh", "pkce": "s256", "identifying_claim_name": "email",
			"identity_attribute": "email", "authorization_endpoint": "https://idp.example/authorize", "token_endpoint": "https://idp.example/token",
			"jwks_endpoint": "https://idp.example/jwks"},
		"okta_idp": {"type": "okta_idp", "client_id": "okta", "client_secret": "shh", "identifying_claim_name": "email", "identity_attribute": "email",
			"okta_domain": "acme.okta.com"},
	}
}

func ssoConfigBody(name string, payload map[string]any) map[string]any {
	return map[string]any{"sso_config": map[string]any{"display_name": name, "payload": payload}}
}

// TestSSOConfigsAgainstTheSpec calls every one of the 24 operations of SSO
// configs, identity providers and launch mechanisms as the spec describes
// them, each request and answer validated against it, on both engines:
// configs of every type, their assignments directly and through groups,
// the application behind generic_oidc, the lists and their filters.
func TestSSOConfigsAgainstTheSpec(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := newSpecClient(t, e.api)
		realm := newRealm(t, e.api, "Workforce")
		r := "/realms/" + realm
		alice := str(t, newIdentity(t, e.api, realm, "alice"), "id")
		bob := str(t, newIdentity(t, e.api, realm, "bob"), "id")
		staff := newGroup(t, e.api, realm, "Staff")
		e.api.post(t, r+"/groups/"+staff+":addMembers", map[string]any{"identity_ids": []string{bob}})

		cert := testCertificate(t)
		made := map[string]map[string]any{}
		for typ, p := range ssoPayloads(cert) {
			got := c.ok(t, "POST", r+"/sso-configs", ssoConfigBody("App "+strings.ReplaceAll(typ, "_", " "), p))
			payload := obj(t, got, "payload")
			if want := strings.Replace(typ, "saml", "generic_saml", 1); payload["type"] != strings.Replace(want, "generic_generic", "generic", 1) {
				t.Errorf("%s: answered type %v", typ, payload["type"])
			}
			for _, secret := range []string{"okta_token"} {
				if strings.Contains(string(mustJSON(t, got)), "00secret") {
					t.Errorf("%s: the answer shows the %s", typ, secret)
				}
			}
			if typ == "generic_oidc_idp" || typ == "okta_idp" {
				if _, ok := payload["client_secret"]; ok {
					t.Errorf("%s: the answer shows the upstream client secret", typ)
				}
				if str(t, payload, "identity_provider_id") != str(t, got, "id") || !strings.HasSuffix(str(t, payload, "redirect_uri"), "/callback") {
					t.Errorf("%s: identity_provider_id and redirect_uri %v", typ, payload)
				}
			}
			made[typ] = got
		}
		if got := str(t, obj(t, made["okta_idp"], "payload"), "jwks_endpoint"); got != "https://acme.okta.com/oauth2/v1/keys" {
			t.Errorf("okta_idp's JWKS defaults to the org's: %s", got)
		}
		oidc := made["generic_oidc"]
		oidcID, oidcPayload := str(t, oidc, "id"), obj(t, oidc, "payload")
		appID := str(t, oidcPayload, "application_id")
		if str(t, oidcPayload, "client_secret") == "" || !strings.HasSuffix(str(t, obj(t, oidcPayload, "oidc_configuration"), "issuer"), "/applications/"+appID) {
			t.Errorf("generic_oidc answers its application's secret once and its issuer: %v", oidcPayload)
		}
		app := e.api.get(t, r+"/applications/"+appID)
		if pc := obj(t, app, "protocol_config"); str(t, pc, "pkce") != "s256" || str(t, pc, "client_id") != str(t, oidcPayload, "client_id") {
			t.Errorf("the application behind generic_oidc: %v", pc)
		}

		// Lists: all, by type, migrated, a page at a time.
		all := c.ok(t, "GET", r+"/sso-configs", nil)
		if num(t, all, "total_size") != len(made) {
			t.Errorf("total_size %d of %d", num(t, all, "total_size"), len(made))
		}
		some := c.ok(t, "GET", r+"/sso-configs?type=bookmark&type=generic_oidc", nil)
		assertSameSet(t, "bookmark and generic_oidc", ids(items(t, some, "sso_configs")), []string{str(t, made["bookmark"], "id"), oidcID})
		c.ok(t, "PATCH", r+"/sso-configs/"+str(t, made["bookmark"], "id"), map[string]any{"sso_config": map[string]any{"type": "bookmark", "is_migrated": true}})
		migrated := c.ok(t, "GET", r+"/sso-configs?is_migrated=true", nil)
		assertSameSet(t, "migrated", ids(items(t, migrated, "sso_configs")), []string{str(t, made["bookmark"], "id")})
		first := c.ok(t, "GET", r+"/sso-configs?page_size=3", nil)
		second := c.ok(t, "GET", r+"/sso-configs?page_token="+url.QueryEscape(str(t, first, "next_page_token")), nil)
		if len(items(t, first, "sso_configs")) != 3 || len(items(t, second, "sso_configs")) != 3 {
			t.Errorf("pages of 3: %d then %d", len(items(t, first, "sso_configs")), len(items(t, second, "sso_configs")))
		}

		// Get and update; the application follows generic_oidc.
		got := c.ok(t, "GET", r+"/sso-configs/"+oidcID, nil)
		if str(t, got, "display_name") != "App generic oidc" {
			t.Errorf("get: %v", got)
		}
		updated := c.ok(t, "PATCH", r+"/sso-configs/"+oidcID, map[string]any{"sso_config": map[string]any{
			"type": "generic_oidc", "redirect_uris": []string{"https://rp.example/v2/callback"}, "confidentiality": "public"}})
		if p := obj(t, updated, "payload"); p["confidentiality"] != "public" || p["scopes"] == nil {
			t.Errorf("updated generic_oidc keeps what it was not told: %v", p)
		}
		if pc := obj(t, e.api.get(t, r+"/applications/"+appID), "protocol_config"); pc["confidentiality"] != "public" ||
			strings.Join(strs(pc["redirect_uris"]), " ") != "https://rp.example/v2/callback" {
			t.Errorf("the application did not follow: %v", pc)
		}
		if got := c.ok(t, "GET", r+"/applications/"+appID+"/sso-configs-id", nil); str(t, got, "sso_config_id") != oidcID {
			t.Errorf("sso-configs-id: %v", got)
		}
		plain := str(t, e.api.post(t, r+"/applications", map[string]any{"application": map[string]any{"display_name": "Plain",
			"protocol_config": map[string]any{"type": "oauth2", "grant_type": []string{"client_credentials"},
				"token_configuration": map[string]any{"expires_after": 3600}}}}), "id")
		if got := c.ok(t, "GET", r+"/applications/"+plain+"/sso-configs-id", nil); len(got) != 0 {
			t.Errorf("sso-configs-id of an application behind no config: %v", got)
		}
		tested := c.ok(t, "POST", r+"/sso-configs/"+oidcID+"/test", nil)
		if apps := items(t, tested, "oidc_applications"); len(apps) != 1 || apps[0]["is_success"] != true {
			t.Errorf("test: %v", tested)
		}
		c.ok(t, "POST", r+"/sso-configs/"+str(t, made["generic_oidc_idp"], "id")+"/test", nil)

		// Assignments: alice directly, bob through Staff.
		bm := str(t, made["bookmark"], "id")
		if got := c.ok(t, "POST", r+"/sso-configs/"+bm+":addIdentities", map[string]any{"identity_ids": []string{alice}}); got != nil {
			t.Errorf(":addIdentities answers %v", got)
		}
		c.ok(t, "POST", r+"/sso-configs/"+bm+":addGroups", map[string]any{"group_ids": []string{staff}})
		assoc := items(t, c.ok(t, "GET", r+"/sso-configs/"+bm+":listIdentityAssociations", nil), "identities")
		ways := map[string]string{}
		for _, a := range assoc {
			ways[str(t, a, "id")], _ = a["group_display_name"].(string)
		}
		if len(assoc) != 2 || ways[alice] != "" || ways[bob] != "Staff" {
			t.Errorf("associations: %v", assoc)
		}
		groups := items(t, c.ok(t, "GET", r+"/sso-configs/"+bm+":listGroupAssociations", nil), "groups")
		if len(groups) != 1 || str(t, groups[0], "id") != staff || num(t, groups[0], "member_count") != 1 {
			t.Errorf("group associations: %v", groups)
		}
		assigned := func(identity string) bool {
			return c.ok(t, "GET", r+"/identities/"+identity+"/sso-configs/"+bm+"/is-identity-assigned", nil)["is_assigned_to_sso_config"] == true
		}
		if !assigned(alice) || !assigned(bob) {
			t.Error("alice (directly) or bob (through Staff) is not assigned")
		}
		if got := c.ok(t, "POST", r+"/sso-configs/"+bm+"/is-group-assigned", map[string]any{"group_ids": []string{staff}}); got["is_assigned_to_sso_config"] != true {
			t.Errorf("is-group-assigned: %v", got)
		}
		ofBob := c.ok(t, "GET", r+"/identities/"+bob+"/sso-configs", nil)
		assertSameSet(t, "configs of bob", ids(items(t, ofBob, "sso_configs")), []string{bm})
		ofStaff := c.ok(t, "GET", r+"/groups/"+staff+"/sso-configs", nil)
		assertSameSet(t, "configs of Staff", ids(items(t, ofStaff, "sso_configs")), []string{bm})
		c.ok(t, "POST", r+"/sso-configs/"+bm+":deleteIdentities", map[string]any{"identity_ids": []string{alice}})
		c.ok(t, "POST", r+"/sso-configs/"+bm+":deleteGroups", map[string]any{"group_ids": []string{staff}})
		if assigned(alice) || assigned(bob) {
			t.Error("still assigned after :deleteIdentities and :deleteGroups")
		}

		// Deleting a generic_oidc config deletes its application.
		c.ok(t, "DELETE", r+"/sso-configs/"+oidcID, nil)
		if resp := e.api.do(t, "GET", r+"/applications/"+appID, nil); resp.Status != http.StatusNotFound {
			t.Errorf("the application of a deleted config: %d", resp.Status)
		}
		assertNotFound(t, c.do(t, "GET", r+"/sso-configs/"+oidcID, nil), "SsoConfig", oidcID, "sso config not found")

		// Identity providers.
		idp := c.ok(t, "POST", r+"/identity-providers", map[string]any{"display_name": "Entra", "protocol_config": map[string]any{
			"type": "oidc_idp", "client_id": "entra", "client_secret": "upstream-secret", "token_scopes": []string{"openid", "email"},
			"identity_attribute": "email", "pkce": "s256", "jwks_url": "https://login.example/keys", "token_url": "https://login.example/token",
			"authorize_url": "https://login.example/authorize", "identifying_claim_name": "email"}})
		idpID := str(t, idp, "id")
		if pc := obj(t, idp, "protocol_config"); str(t, pc, "client_secret") != "upstream-secret" ||
			str(t, pc, "redirect_url") != e.node.URL+"/v1/tenants/"+e.tenant()+r+"/identity-providers/"+idpID+"/callback" {
			t.Errorf("created identity provider: %v", pc)
		}
		if pc := obj(t, c.ok(t, "GET", r+"/identity-providers/"+idpID, nil), "protocol_config"); pc["client_secret"] != "" {
			t.Errorf("a read shows the client secret: %v", pc)
		}
		listed := c.ok(t, "GET", r+"/identity-providers", nil)
		if num(t, listed, "total_size") != 1 {
			t.Errorf("identity providers: %v", listed)
		}
		patched := c.ok(t, "PATCH", r+"/identity-providers/"+idpID, map[string]any{"identity_provider": map[string]any{
			"display_name": "Entra ID", "protocol_config": map[string]any{"type": "oidc_idp", "identifying_claim_name": "preferred_username"}}})
		if pc := obj(t, patched, "protocol_config"); str(t, patched, "display_name") != "Entra ID" || pc["identifying_claim_name"] != "preferred_username" || pc["client_id"] != "entra" {
			t.Errorf("patched identity provider: %v", patched)
		}
		c.ok(t, "DELETE", r+"/identity-providers/"+idpID, nil)

		// Launch mechanisms: made with their defaults, then changed.
		flows := c.ok(t, "GET", r+"/flow-type-config", nil)
		web := obj(t, obj(t, flows, "platform_config"), "web")
		if obj(t, web, "embedded")["enabled"] != true || obj(t, web, "android_autofill")["valid"] != false {
			t.Errorf("default flows on the web: %v", web)
		}
		changed := c.ok(t, "PATCH", r+"/flow-type-config", map[string]any{"web": map[string]any{"embedded": map[string]any{"enabled": false}}})
		if obj(t, obj(t, obj(t, changed, "platform_config"), "web"), "embedded")["enabled"] != false {
			t.Errorf("flows after the update: %v", changed)
		}
		if again := c.ok(t, "GET", r+"/flow-type-config", nil); str(t, again, "id") != str(t, flows, "id") {
			t.Error("the flow type config changed its id")
		}
	})
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestSSOBadInput: what is wrong with a request is a 400 naming the
// field, or a 404 naming what is missing, never a 500.
func TestSSOBadInput(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Bad")
		r := "/realms/" + realm
		cert := testCertificate(t)
		saml := ssoPayloads(cert)["generic_saml"]
		with := func(p map[string]any, kv ...any) map[string]any {
			out := map[string]any{}
			for k, v := range p {
				out[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(out, kv[i].(string))
				} else {
					out[kv[i].(string)] = kv[i+1]
				}
			}
			return out
		}
		create := func(p map[string]any) (int, map[string]any) {
			resp := c.do(t, "POST", r+"/sso-configs", ssoConfigBody("Bad", p))
			if resp.Status >= 500 {
				t.Fatalf("%v: %d %s", p, resp.Status, resp.Body)
			}
			return resp.Status, resp.JSON(t)
		}
		for _, tc := range []struct {
			payload map[string]any
			field   string
		}{
			{map[string]any{"login_link": "https://a.example"}, "sso_config.payload.type"},
			{map[string]any{"type": "gopher"}, "sso_config.payload.type"},
			{map[string]any{"type": "bookmark", "login_link": "javascript:alert(1)"}, "sso_config.payload.login_link"},
			{map[string]any{"type": "bookmark", "login_link": "https://a.example", "colour": "red"}, "sso_config.payload.colour"},
			{with(saml, "acs_url", "http://sp.example/acs"), "sso_config.payload.acs_url"},
			{with(saml, "sp_signature_certificates", []any{map[string]any{"sp_public_signing_key": "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----"}}), "sso_config.payload.sp_signature_certificates[0].sp_public_signing_key"},
			{with(saml, "assertion_encryption_public_key", nil), "sso_config.payload.assertion_encryption_public_key"},
			{with(saml, "name_format", "emailish"), "sso_config.payload.name_format"},
			{with(saml, "signature_algorithm", "dsa_sha1"), "sso_config.payload.signature_algorithm"},
			{with(saml, "assertion_validity_duration_seconds", -5), "sso_config.payload.assertion_validity_duration_seconds"},
			{with(saml, "sp_signature_certificates", []any{}), "sso_config.payload.sp_signature_certificates"},
			{with(saml, "enable_single_log_out", true, "single_log_out_url", nil), "sso_config.payload.single_log_out_url"},
			{with(saml, "sign_envelope", "yes"), "sso_config.payload.sign_envelope"},
			{with(ssoPayloads(cert)["generic_oidc"], "confidentiality", "public", "pkce", "disabled"), "sso_config.payload.pkce"},
			{with(ssoPayloads(cert)["generic_oidc"], "redirect_uris", []string{}), "sso_config.payload.redirect_uris"},
			{with(ssoPayloads(cert)["ws_fed"], "audience_url", ""), "sso_config.payload.audience_url"},
			{with(ssoPayloads(cert)["entra_id_external_auth_methods"], "discover_endpoint", "moon"), "sso_config.payload.discover_endpoint"},
			{with(ssoPayloads(cert)["okta_idp"], "okta_domain", "https://acme.okta.com/"), "sso_config.payload.okta_domain"},
			{with(ssoPayloads(cert)["generic_oidc_idp"], "jwks_endpoint", "ftp://idp.example/jwks"), "sso_config.payload.jwks_endpoint"},
			{with(ssoPayloads(cert)["generic_oidc_idp"], "identity_attribute", "shoe_size"), "sso_config.payload.identity_attribute"},
		} {
			status, body := create(tc.payload)
			if status != http.StatusBadRequest || !strings.Contains(string(mustJSON(t, body)), `"field":"`+tc.field+`"`) {
				t.Errorf("%v: %d %v, want a 400 naming %s", tc.payload, status, body, tc.field)
			}
		}
		assertInvalid(t, c.do(t, "POST", r+"/sso-configs", map[string]any{"sso_config": map[string]any{"payload": ssoPayloads(cert)["bookmark"]}}),
			"sso_config.display_name", "missing")
		assertInvalid(t, c.do(t, "POST", r+"/sso-configs", map[string]any{"sso_config": map[string]any{"display_name": "x"}}),
			"sso_config.payload", "missing")

		// What the server fills in is ignored in requests: no config takes
		// over another application.
		own := c.post(t, r+"/sso-configs", ssoConfigBody("Own", with(ssoPayloads(cert)["generic_oidc"], "application_id", e.app(), "client_id", "mine")))
		if p := obj(t, own, "payload"); p["application_id"] == e.app() || p["client_id"] == "mine" {
			t.Errorf("a request chose the application behind a config: %v", p)
		}
		bm := str(t, c.post(t, r+"/sso-configs", ssoConfigBody("Wiki", ssoPayloads(cert)["bookmark"])), "id")
		assertInvalid(t, c.do(t, "PATCH", r+"/sso-configs/"+bm, map[string]any{"sso_config": map[string]any{"type": "generic_oidc"}}),
			"sso_config.payload.type", "cannot be changed (it is bookmark)")
		assertInvalid(t, c.do(t, "PATCH", r+"/sso-configs/"+bm, map[string]any{"sso_config": map[string]any{"type": "bookmark", "login_link": ""}}),
			"sso_config.payload.login_link", "missing")
		if resp := c.do(t, "GET", r+"/sso-configs?is_migrated=maybe", nil); resp.Header.Get("X-Correlation-Id") == "" {
			t.Error("no x-correlation-id made for a request without one")
		}
		if resp := c.withHeader("X-Correlation-Id", "bad id!").do(t, "GET", r+"/sso-configs", nil); resp.Header.Get("X-Correlation-Id") == "bad id!" {
			t.Error("a correlation id that is no token is echoed")
		}
		assertInvalid(t, c.do(t, "GET", r+"/sso-configs?is_migrated=maybe", nil), "is_migrated", "must be true or false")
		assertInvalid(t, c.do(t, "GET", r+"/sso-configs?type=gopher", nil), "type", "must be one of bookmark, entra_id_external_auth_methods, generic_oidc, generic_oidc_idp, generic_saml, okta_idp, okta_sso_bi_idp, scim, ws_fed")
		assertInvalid(t, c.do(t, "GET", r+"/sso-configs?order_by=display_name", nil), "order_by", "lists are ordered by id; no other order is supported")
		assertInvalid(t, c.do(t, "GET", r+"/sso-configs?page_token=nope", nil), "page_token", "invalid page token")

		alice := str(t, newIdentity(t, c, realm, "alice"), "id")
		assertInvalid(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addIdentities", map[string]any{"identity_ids": []string{}}), "identity_ids", "missing")
		many := make([]string, 1001)
		for i := range many {
			many[i] = fmt.Sprintf("%016x", i)
		}
		assertInvalid(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addGroups", map[string]any{"group_ids": many}), "group_ids", "array exceeds 1000 elements")
		assertInvalid(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addIdentities", map[string]any{"identity_ids": []string{alice}, "group_ids": []string{}}), "group_ids", "unknown field")
		assertBatchNotFound(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addIdentities", map[string]any{"identity_ids": []string{alice, "ffffffffffffffff"}}),
			"Identity", "identities not found", []string{"ffffffffffffffff"})
		assertBatchNotFound(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addGroups", map[string]any{"group_ids": []string{"ffffffffffffffff"}}),
			"Group", "groups not found", []string{"ffffffffffffffff"})
		assertNotFound(t, c.do(t, "POST", r+"/sso-configs/nope:addIdentities", map[string]any{"identity_ids": []string{alice}}), "SsoConfig", "nope", "sso config not found")
		assertNotFound(t, c.do(t, "GET", r+"/identities/nope/sso-configs", nil), "Identity", "nope", "identity not found")
		assertNotFound(t, c.do(t, "GET", r+"/groups/nope/sso-configs", nil), "Group", "nope", "group not found")
		assertNotFound(t, c.do(t, "GET", r+"/identities/"+alice+"/sso-configs/nope/is-identity-assigned", nil), "SsoConfig", "nope", "sso config not found")
		if resp := c.do(t, "GET", r+"/applications/nope/sso-configs-id", nil); resp.Status != http.StatusNotFound {
			t.Errorf("sso-configs-id of no application: %d", resp.Status)
		}

		// Deleting an identity or a group removes its assignments.
		team := newGroup(t, c, realm, "Team")
		c.post(t, r+"/groups/"+team+":addMembers", map[string]any{"identity_ids": []string{alice}})
		assertEmpty200(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addIdentities", map[string]any{"identity_ids": []string{alice}}))
		assertEmpty200(t, c.do(t, "POST", r+"/sso-configs/"+bm+":addGroups", map[string]any{"group_ids": []string{team}}))
		c.del(t, r+"/identities/"+alice)
		c.del(t, r+"/groups/"+team)
		if got := c.get(t, r+"/sso-configs/"+bm+":listIdentityAssociations"); len(items(t, got, "identities")) != 0 {
			t.Errorf("associations of deleted identities: %v", got)
		}
		if got := c.get(t, r+"/sso-configs/"+bm+":listGroupAssociations"); len(items(t, got, "groups")) != 0 {
			t.Errorf("associations of deleted groups: %v", got)
		}

		idp := map[string]any{"type": "oidc_idp", "client_id": "x", "identity_attribute": "email", "pkce": "disabled",
			"jwks_url": "https://idp.example/keys", "token_url": "https://idp.example/token", "authorize_url": "https://idp.example/authorize",
			"identifying_claim_name": "email"}
		assertInvalid(t, c.do(t, "POST", r+"/identity-providers", map[string]any{"display_name": "X", "protocol_config": idp}),
			"protocol_config.client_secret", "missing: a client without a secret must use PKCE")
		assertInvalid(t, c.do(t, "POST", r+"/identity-providers", map[string]any{"display_name": "X", "protocol_config": with(idp, "type", "saml_idp", "client_secret", "s")}),
			"protocol_config.type", "must be one of oidc_idp")
		assertInvalid(t, c.do(t, "POST", r+"/identity-providers", map[string]any{"display_name": "X", "protocol_config": with(idp, "token_url", "not a url", "client_secret", "s")}),
			"protocol_config.token_url", "not an absolute URI")
		assertNotFound(t, c.do(t, "GET", r+"/identity-providers/nope", nil), "IdentityProvider", "nope", "identity provider not found")
		assertInvalid(t, c.do(t, "PATCH", r+"/flow-type-config", map[string]any{"web": map[string]any{"android_autofill": map[string]any{"enabled": true}}}),
			"web.android_autofill.enabled", "the flow android_autofill does not exist on web")
		assertInvalid(t, c.do(t, "PATCH", r+"/flow-type-config", map[string]any{"amiga": map[string]any{}}),
			"amiga", "unknown platform: one of android, macos, ios, windows, web, linux, chromeos, chromeosweb")
		if resp := c.do(t, "PATCH", r+"/flow-type-config", map[string]any{"web": map[string]any{"embedded": map[string]any{"enabled": "yes"}}}); resp.Status != http.StatusBadRequest {
			t.Errorf("enabled as a string: %d %s", resp.Status, resp.Body)
		}
	})
}

// TestSSOAccess: every SSO route refuses a token without its scopes and a
// token of another tenant (403), and answers 404 for what belongs to
// another realm.
func TestSSOAccess(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		cert := testCertificate(t)
		realm, other := newRealm(t, c, "Mine"), newRealm(t, c, "Theirs")
		r, o := "/realms/"+realm, "/realms/"+other
		bm := str(t, c.post(t, r+"/sso-configs", ssoConfigBody("Wiki", ssoPayloads(cert)["bookmark"])), "id")
		alice := str(t, newIdentity(t, c, realm, "alice"), "id")
		staff := newGroup(t, c, realm, "Staff")
		idp := str(t, c.post(t, r+"/identity-providers", map[string]any{"display_name": "IdP", "protocol_config": map[string]any{
			"type": "oidc_idp", "client_id": "x", "client_secret": "s", "identity_attribute": "email", "jwks_url": "https://idp.example/keys",
			"token_url": "https://idp.example/token", "authorize_url": "https://idp.example/authorize", "identifying_claim_name": "email"}}), "id")
		routes := []struct {
			method, path string
			scopes       string
			body         any
		}{
			{"POST", "/sso-configs", "sso-configs:create", ssoConfigBody("New", ssoPayloads(cert)["bookmark"])},
			{"GET", "/sso-configs", "sso-configs:read", nil},
			{"GET", "/sso-configs/{sso}", "sso-configs:read", nil},
			{"PATCH", "/sso-configs/{sso}", "sso-configs:update", map[string]any{"sso_config": map[string]any{"type": "bookmark", "icon": "https://x.example/i.png"}}},
			{"POST", "/sso-configs/{sso}:addIdentities", "sso-configs:update", map[string]any{"identity_ids": []string{"{alice}"}}},
			{"POST", "/sso-configs/{sso}:deleteIdentities", "sso-configs:update", map[string]any{"identity_ids": []string{"{alice}"}}},
			{"GET", "/sso-configs/{sso}:listIdentityAssociations", "sso-configs:read identities:read groups:read", nil},
			{"POST", "/sso-configs/{sso}:addGroups", "sso-configs:update", map[string]any{"group_ids": []string{"{staff}"}}},
			{"POST", "/sso-configs/{sso}:deleteGroups", "sso-configs:update", map[string]any{"group_ids": []string{"{staff}"}}},
			{"GET", "/sso-configs/{sso}:listGroupAssociations", "sso-configs:read groups:read", nil},
			{"POST", "/sso-configs/{sso}/is-group-assigned", "sso-configs:read", map[string]any{"group_ids": []string{"{staff}"}}},
			{"POST", "/sso-configs/{sso}/test", "sso-configs:read", nil},
			{"GET", "/identities/{alice}/sso-configs", "sso-configs:read", nil},
			{"GET", "/identities/{alice}/sso-configs/{sso}/is-identity-assigned", "sso-configs:read", nil},
			{"GET", "/groups/{staff}/sso-configs", "sso-configs:read", nil},
			{"GET", "/applications/{app}/sso-configs-id", "sso-configs:read", nil},
			{"POST", "/identity-providers", "identity-providers:create", map[string]any{"display_name": "Another", "protocol_config": map[string]any{
				"type": "oidc_idp", "client_id": "x", "client_secret": "s", "identity_attribute": "email", "jwks_url": "https://idp.example/keys",
				"token_url": "https://idp.example/token", "authorize_url": "https://idp.example/authorize", "identifying_claim_name": "email"}}},
			{"GET", "/identity-providers", "identity-providers:read", nil},
			{"GET", "/identity-providers/{idp}", "identity-providers:read", nil},
			{"PATCH", "/identity-providers/{idp}", "identity-providers:update", map[string]any{"identity_provider": map[string]any{"display_name": "Renamed"}}},
			{"GET", "/flow-type-config", "flow-type:read", nil},
			{"PATCH", "/flow-type-config", "flow-type:read flow-type:update", map[string]any{"ios": map[string]any{"copy": map[string]any{"enabled": false}}}},
			{"DELETE", "/identity-providers/{idp}", "identity-providers:delete", nil},
			{"DELETE", "/sso-configs/{sso}", "sso-configs:delete", nil},
		}
		app := str(t, c.post(t, r+"/applications", map[string]any{"application": map[string]any{"display_name": "Plain",
			"protocol_config": map[string]any{"type": "oauth2", "grant_type": []string{"client_credentials"},
				"token_configuration": map[string]any{"expires_after": 3600}}}}), "id")
		fill := strings.NewReplacer("{sso}", bm, "{alice}", alice, "{staff}", staff, "{idp}", idp, "{app}", app)
		body := func(b any) any {
			if b == nil {
				return nil
			}
			return fill.Replace(string(mustJSON(t, b)))
		}
		elsewhere := client{base: c.base, tenant: "0001ffffffffffff", token: c.token}
		for _, rt := range routes {
			path := fill.Replace(rt.path)
			for what, resp := range map[string]func() int{
				"no scope": func() int {
					return c.withToken(e.node.Token(t, "tenants:read")).do(t, rt.method, r+path, body(rt.body)).Status
				},
				"another tenant": func() int { return elsewhere.do(t, rt.method, r+path, body(rt.body)).Status },
			} {
				if status := resp(); status != http.StatusForbidden {
					t.Errorf("%s %s, %s: %d, want 403", rt.method, rt.path, what, status)
				}
			}
			if fields := strings.Fields(rt.scopes); len(fields) > 1 {
				if status := c.withToken(e.node.Token(t, fields[0])).do(t, rt.method, r+path, body(rt.body)).Status; status != http.StatusForbidden {
					t.Errorf("%s %s with %s alone: %d, want 403", rt.method, rt.path, fields[0], status)
				}
			}
			// Another realm has none of these: 404 (the realm's own
			// lists and launch mechanisms answer there).
			if strings.Contains(rt.path, "{") && rt.path != "/applications/{app}/sso-configs-id" {
				if resp := c.do(t, rt.method, o+path, body(rt.body)); resp.Status != http.StatusNotFound {
					t.Errorf("%s %s in another realm: %d %s, want 404", rt.method, rt.path, resp.Status, resp.Body)
				}
			}
			// With exactly its scopes, the route serves.
			if resp := c.withToken(e.node.Token(t, rt.scopes)).do(t, rt.method, r+path, body(rt.body)); resp.Status != http.StatusOK {
				t.Errorf("%s %s with %s: %d %s", rt.method, rt.path, rt.scopes, resp.Status, resp.Body)
			}
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
