package httpapi_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/emersion/go-smtp"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// embeddedConfig creates an embedded-SDK authenticator config in the realm
// whose app runs at origin, and returns its id.
func embeddedConfig(t testing.TB, c client, realm, origin string) string {
	t.Helper()
	a := c.post(t, "/realms/"+realm+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
		"display_name": "App", "config": map[string]any{"type": "embedded", "invoke_url": origin, "trusted_origins": []string{origin}},
	}})
	return str(t, a, "id")
}

// hostedConfig creates a hosted-web authenticator config and returns its id.
func hostedConfig(t testing.TB, c client, realm string) string {
	t.Helper()
	a := c.post(t, "/realms/"+realm+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
		"display_name": "Hosted", "config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}},
	}})
	return str(t, a, "id")
}

// binding is a job created with RETURN, with what its link holds.
type binding struct {
	realm, identity, job, token, link string
}

func (b binding) jobPath() string {
	return "/realms/" + b.realm + "/identities/" + b.identity + "/credential-binding-jobs/" + b.job
}

// newBinding creates a RETURN job for the identity with the config.
func newBinding(t testing.TB, c client, realm, identity, config string) binding {
	t.Helper()
	out := c.post(t, "/realms/"+realm+"/identities/"+identity+"/credential-binding-jobs",
		map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config}})
	link := str(t, out, "credential_binding_link")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return binding{realm: realm, identity: identity, job: str(t, obj(t, out, "credential_binding_job"), "id"),
		token: u.Query().Get("token"), link: link}
}

// call sends a binding request authorised by the link's token (or another).
func (b binding) call(t testing.TB, c client, verb, token string, body any) testenv.Response {
	t.Helper()
	return c.withToken(token).do(t, "POST", b.jobPath()+":"+verb, body)
}

func (b binding) state(t testing.TB, c client) string {
	t.Helper()
	return str(t, c.get(t, b.jobPath()), "state")
}

func (b binding) subject(c client) string {
	return "CN=" + b.identity + ", OU=" + b.realm + ", O=" + c.tenant
}

// appBinding is an adaBinding under an embedded config whose app is
// https://app.example.com.
func appBinding(t testing.TB, c client, realmName string) (realm, ada string, b binding) {
	t.Helper()
	return adaBinding(t, c, realmName, func(t testing.TB, c client, realm string) string {
		return embeddedConfig(t, c, realm, "https://app.example.com")
	})
}

// adaBinding makes a realm, the identity "ada" in it, and a RETURN binding
// job for her under the authenticator config that config makes in the realm.
func adaBinding(t testing.TB, c client, realmName string, config func(testing.TB, client, string) string) (realm, ada string, b binding) {
	t.Helper()
	realm = newRealm(t, c, realmName)
	ada = str(t, newIdentity(t, c, realm, "ada"), "id")
	return realm, ada, newBinding(t, c, realm, ada, config(t, c, realm))
}

// softwareProof is what the SDK's software passkey sends to bind itself.
var softwareProof = testenv.SoftwareProof

// webauthnProof makes a WebAuthn registration for the options of :getInfo
// on origin, as the SDK sends it (standard base64 inside a JSON string).
func webauthnProof(t testing.TB, info map[string]any, origin string) map[string]any {
	t.Helper()
	return webauthnProofWith(t, info, origin, virtualwebauthn.NewAuthenticator(), newCredential(t))
}

// newCredential is a virtual authenticator's P-256 credential whose public
// key it encodes correctly. virtualwebauthn writes the key's coordinates
// without their leading zero bytes, so that one key in about 128 has a
// coordinate of 31 bytes, which go-webauthn rightly refuses ("EC2 key x or
// y coordinate has invalid length"): such keys are drawn again.
func newCredential(t testing.TB) virtualwebauthn.Credential {
	t.Helper()
	for {
		cred := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		key, err := x509.ParsePKCS8PrivateKey(cred.Key.Data)
		if err != nil {
			t.Fatal(err)
		}
		if pub := key.(*ecdsa.PrivateKey); len(pub.X.Bytes()) == 32 && len(pub.Y.Bytes()) == 32 {
			return cred
		}
	}
}

// webauthnProofWith is webauthnProof made by a given authenticator and
// credential, which can then sign in.
func webauthnProofWith(t testing.TB, info map[string]any, origin string, auth virtualwebauthn.Authenticator, cred virtualwebauthn.Credential) map[string]any {
	t.Helper()
	options, _ := json.Marshal(info["webauthn_options"])
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(origin)
	rp := virtualwebauthn.RelyingParty{ID: u.Hostname(), Name: "test", Origin: origin}
	var resp struct {
		Response struct{ ClientDataJSON, AttestationObject string }
	}
	json.Unmarshal([]byte(virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *opts)), &resp)
	std := func(s string) string {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	raw, _ := json.Marshal(map[string]string{
		"client_data_json_base64": std(resp.Response.ClientDataJSON),
		"attestation_object":      std(resp.Response.AttestationObject),
	})
	return map[string]any{"type": "WEBAUTHN", "raw": string(raw)}
}

func enrollment(t testing.TB, c client, realm, identity string) string {
	t.Helper()
	return str(t, c.get(t, "/realms/"+realm+"/identities/"+identity), "enrollment_status")
}

func TestAuthenticatorConfigs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Configs")
		base := "/realms/" + realm + "/authenticator-configs"

		t.Run("pages of 100", func(t *testing.T) {
			paged := newRealm(t, c, "Paged")
			for range 101 {
				hostedConfig(t, c, paged)
			}
			for _, q := range [][]string{nil, {"page_size", "500"}} {
				l := c.list(t, "/realms/"+paged+"/authenticator-configs", q...)
				if len(items(t, l, "authenticator_configs")) != 100 || l["next_page_token"] == nil || num(t, l, "total_size") != 101 {
					t.Errorf("list %v: %d configs, next %v", q, len(items(t, l, "authenticator_configs")), l["next_page_token"])
				}
			}
		})

		a := c.post(t, base, map[string]any{"authenticator_config": map[string]any{"display_name": "Web app",
			"config": map[string]any{"type": "embedded", "invoke_url": "https://app.example.com/", "trusted_origins": []string{"https://app.example.com"}}}})
		assertKeys(t, a, "config", "display_name", "id", "realm_id", "tenant_id")
		id := str(t, a, "id")
		if len(id) != 36 || a["realm_id"] != realm || a["tenant_id"] != c.tenant {
			t.Errorf("config %v", a)
		}
		cfg := obj(t, a, "config")
		if cfg["invocation_type"] != "automatic" || len(cfg["authentication_methods"].([]any)) != 3 {
			t.Errorf("defaults not filled in: %v", cfg)
		}
		hosted := hostedConfig(t, c, realm)

		// PATCH without config.type changes only the fields it names.
		p := c.patch(t, base+"/"+id, map[string]any{"authenticator_config": map[string]any{
			"display_name": "Renamed", "config": map[string]any{"invoke_url": "https://new.example.com"}}})
		pc := obj(t, p, "config")
		if p["display_name"] != "Renamed" || pc["invoke_url"] != "https://new.example.com" || pc["type"] != "embedded" ||
			len(pc["trusted_origins"].([]any)) != 1 {
			t.Errorf("patched %v", p)
		}
		if got := c.get(t, base+"/"+id); got["display_name"] != "Renamed" {
			t.Errorf("get after patch %v", got)
		}
		list := c.list(t, base)
		if num(t, list, "total_size") != 2 {
			t.Errorf("list %v", list)
		}
		assertSameSet(t, "configs", ids(items(t, list, "authenticator_configs")), []string{id, hosted})
		filtered := c.list(t, base, "filter", `config.type eq "hosted_web"`)
		assertSameSet(t, "hosted configs", ids(items(t, filtered, "authenticator_configs")), []string{hosted})

		bad := []struct {
			config      map[string]any
			field, desc string
		}{
			{map[string]any{}, "authenticator_config.config.type", "empty string"},
			{map[string]any{"type": "nfc"}, "authenticator_config.config.type", "must be one of…"},
			{map[string]any{"type": "embedded", "trusted_origins": []string{"https://a.example"}}, "authenticator_config.config.invoke_url", "empty string"},
			{map[string]any{"type": "embedded", "invoke_url": "ftp://x", "trusted_origins": []string{"https://a.example"}}, "authenticator_config.config.invoke_url", "not an absolute http or https URL"},
			{map[string]any{"type": "embedded", "invoke_url": "https://a.example"}, "authenticator_config.config.trusted_origins", "must list at least one origin"},
			{map[string]any{"type": "embedded", "invoke_url": "https://a.example", "trusted_origins": []string{"https://a.example/path"}}, "authenticator_config.config.trusted_origins[0]", "not an origin (scheme://host[:port])"},
			{map[string]any{"type": "embedded", "invoke_url": "https://a.example", "trusted_origins": []string{"https://a.example"}, "invocation_type": "sometimes"}, "authenticator_config.config.invocation_type", "must be…"},
			{map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "password"}}}, "authenticator_config.config.authentication_methods[0].type", "must be one of…"},
			{map[string]any{"type": "hosted_web", "colour": "red"}, "authenticator_config.config.colour", "unknown field"},
		}
		for _, b := range bad {
			resp := c.do(t, "POST", base, map[string]any{"authenticator_config": map[string]any{"display_name": "X", "config": b.config}})
			assertInvalid(t, resp, b.field, b.desc)
		}
		assertInvalid(t, c.do(t, "POST", base, map[string]any{"authenticator_config": map[string]any{"display_name": "",
			"config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}}}}),
			"authenticator_config.display_name", "empty string")
		if n := num(t, c.list(t, base), "total_size"); n != 2 {
			t.Errorf("bad requests created configs: %d", n)
		}

		// A config an open job uses cannot be deleted; once the job is revoked it can.
		i := str(t, newIdentity(t, c, realm, "ada"), "id")
		b := newBinding(t, c, realm, i, id)
		assertError(t, c.do(t, "DELETE", base+"/"+id, nil), http.StatusConflict, "conflict",
			"authenticator config is used by an application or a pending credential binding job")
		c.post(t, b.jobPath()+":revoke", map[string]any{})
		c.del(t, base+"/"+id)
		assertNotFound(t, c.do(t, "GET", base+"/"+id, nil), "AuthenticatorConfig", id, "authenticator config not found")
		assertNotFound(t, c.do(t, "PATCH", base+"/"+id, map[string]any{"authenticator_config": map[string]any{"display_name": "Y"}}),
			"AuthenticatorConfig", id, "authenticator config not found")

		readOnly := c.withToken(e.node.Token(t, "authenticator-configs:read"))
		assertBareError(t, readOnly.do(t, "DELETE", base+"/"+hosted, nil), http.StatusForbidden, "forbidden", "forbidden")
	})
}

func TestCredentialBindingJobs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Jobs")
		config := hostedConfig(t, c, realm)
		ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
		bob := str(t, newIdentity(t, c, realm, "bob"), "id")
		jobs := func(identity string) string {
			return "/realms/" + realm + "/identities/" + identity + "/credential-binding-jobs"
		}
		if s := enrollment(t, c, realm, ada); s != "UNENROLLED" {
			t.Errorf("new identity enrollment %s", s)
		}

		out := c.post(t, jobs(ada), map[string]any{"job": map[string]any{"delivery_method": "RETURN",
			"authenticator_config_id": config, "post_binding_redirect_uri": "https://app.example.com/done"}})
		assertKeys(t, out, "credential_binding_job", "credential_binding_link")
		j := obj(t, out, "credential_binding_job")
		assertKeys(t, j, "authenticator_config_id", "create_time", "delivery_method", "expire_time", "id", "identity_id",
			"post_binding_redirect_uri", "realm_id", "state", "tenant_id", "update_time")
		id := str(t, j, "id")
		assertHexID(t, id)
		if j["state"] != "LINK_SENT" || j["delivery_method"] != "RETURN" || j["identity_id"] != ada {
			t.Errorf("job %v", j)
		}
		expires, _ := time.Parse(time.RFC3339Nano, str(t, j, "expire_time"))
		if d := expires.Sub(assertTime(t, j, "create_time")); d != 7*24*time.Hour {
			t.Errorf("link lifetime %v, want 7 days", d)
		}
		link := str(t, out, "credential_binding_link")
		prefix := e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/identities/" + ada + "/credential-binding-jobs/" + id + ":invokeAuthenticator?token="
		if !strings.HasPrefix(link, prefix) || len(strings.TrimPrefix(link, prefix)) != 64 {
			t.Errorf("link %s, want %s + 64 characters", link, prefix)
		}
		if s := enrollment(t, c, realm, ada); s != "PENDING" {
			t.Errorf("enrollment with a pending job %s", s)
		}
		pending := c.list(t, "/realms/"+realm+"/identities", "filter", `enrollment_status eq "PENDING"`)
		assertSameSet(t, "pending identities", ids(items(t, pending, "identities")), []string{ada})

		// Refusals change nothing.
		noMail := assertError(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "EMAIL", "authenticator_config_id": config}}),
			http.StatusUnprocessableEntity, "unprocessable_entity", "Identity missing email address")
		if d := detail(t, noMail, "ResourceInfo"); d["resource_type"] != "Identity" || d["id"] != bob {
			t.Errorf("422 detail %v, want the identity %s", d, bob)
		}
		assertInvalid(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN"}}),
			"job.authenticator_config_id", "empty string")
		assertInvalid(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "FAX", "authenticator_config_id": config}}),
			"job.delivery_method", `must be "RETURN" or "EMAIL"`)
		assertInvalid(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN",
			"authenticator_config": map[string]any{"config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}}}}}),
			"job.authenticator_config.config.type", "a hosted_web config cannot be given inline; use authenticator_config_id")
		assertInvalid(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN",
			"authenticator_config_id": config, "post_binding_redirect_uri": "/relative"}}), "job.post_binding_redirect_uri", "not an absolute URI")
		missing := "00000000-0000-4000-8000-000000000000"
		assertNotFound(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": missing}}),
			"AuthenticatorConfig", missing, "authenticator config not found")
		assertNotFound(t, c.do(t, "POST", jobs("0123456789abcdef"), map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config}}),
			"Identity", "0123456789abcdef", "identity not found")
		c.patch(t, "/realms/"+realm+"/identities/"+bob, map[string]any{"identity": map[string]any{"status": "suspended"}})
		assertError(t, c.do(t, "POST", jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config}}),
			http.StatusUnprocessableEntity, "unprocessable_entity", "identity is suspended")
		c.patch(t, "/realms/"+realm+"/identities/"+bob, map[string]any{"identity": map[string]any{"status": "active"}})

		// An inline embedded config works without an id.
		inline := c.post(t, jobs(bob), map[string]any{"job": map[string]any{"delivery_method": "RETURN",
			"authenticator_config": map[string]any{"config": map[string]any{"type": "embedded", "invoke_url": "https://app.example.com", "trusted_origins": []string{"https://app.example.com"}}}}})
		bobJob := obj(t, inline, "credential_binding_job")
		if obj(t, obj(t, bobJob, "authenticator_config"), "config")["invocation_type"] != "automatic" {
			t.Errorf("inline config %v", bobJob)
		}

		if l := c.list(t, jobs(ada)); num(t, l, "total_size") != 1 {
			t.Errorf("ada's jobs %v", l)
		}
		all := c.list(t, jobs("-"))
		assertSameSet(t, "all jobs", ids(items(t, all, "credential_binding_jobs")), []string{id, str(t, bobJob, "id")})
		byState := c.list(t, jobs("-"), "filter", `state eq "LINK_SENT" and identity_id eq "`+bob+`"`)
		assertSameSet(t, "bob's sent jobs", ids(items(t, byState, "credential_binding_jobs")), []string{str(t, bobJob, "id")})
		if got := c.get(t, jobs("-")+"/"+id); got["id"] != id {
			t.Errorf("get through - %v", got)
		}
		assertNotFound(t, c.do(t, "GET", jobs(bob)+"/"+id, nil), "CredentialBindingJob", id, "credential binding job not found")

		revoked := c.post(t, jobs(ada)+"/"+id+":revoke", map[string]any{})
		if revoked["state"] != "REVOKED" {
			t.Errorf("revoked %v", revoked)
		}
		assertError(t, c.do(t, "POST", jobs(ada)+"/"+id+":revoke", map[string]any{}), http.StatusConflict, "conflict",
			"credential binding job is REVOKED and cannot be revoked")
		if s := enrollment(t, c, realm, ada); s != "UNENROLLED" {
			t.Errorf("enrollment after revoke %s", s)
		}
	})
}

func TestBindSoftwarePasskey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm, ada, b := appBinding(t, c, "Software")
		app := "https://app.example.com"

		// The SDK opens the link asking for JSON and gets its instruction.
		resp := send(t, "GET", b.link, http.Header{"Accept": {"application/json"}}, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("open link: %d %s", resp.Status, resp.Body)
		}
		instruction := resp.JSON(t)
		want := map[string]any{"tenant_id": c.tenant, "realm_id": realm, "identity_id": ada, "job_id": b.job, "token": b.token, "api_base_url": e.node.URL}
		if len(instruction) != len(want) {
			t.Errorf("instruction %v, want %v", instruction, want)
		}
		for k, v := range want {
			if instruction[k] != v {
				t.Errorf("instruction %s = %v, want %v", k, instruction[k], v)
			}
		}
		if s := b.state(t, c); s != "LINK_OPENED" {
			t.Errorf("state after opening %s", s)
		}
		// A browser is sent on to the app's /bind page with the same values.
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", b.link, nil)
		req.Header.Set("Accept", "text/html")
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || loc.Scheme+"://"+loc.Host+loc.Path != app+"/bind" || loc.Query().Get("token") != b.token ||
			loc.Query().Get("job_id") != b.job || loc.Query().Get("api_base_url") != e.node.URL {
			t.Errorf("browser: %d to %s", r.StatusCode, loc)
		}

		info := b.call(t, c, "getInfo", b.token, nil)
		if info.Status != http.StatusOK {
			t.Fatalf("getInfo: %d %s", info.Status, info.Body)
		}
		got := info.JSON(t)
		if obj(t, got, "identity")["id"] != ada || obj(t, obj(t, got, "identity"), "traits")["username"] != "ada" ||
			obj(t, got, "realm")["id"] != realm || obj(t, got, "tenant")["id"] != c.tenant ||
			obj(t, obj(t, got, "authenticator_config"), "config")["type"] != "embedded" {
			t.Errorf("getInfo %s", info.Body)
		}
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("state after getInfo %s", s)
		}
		// The SDK requires every theme URL: an unthemed realm gets Latchkey's.
		theme := obj(t, got, "theme")
		if theme["logo_url_light"] != e.node.URL+"/assets/logo.svg" || theme["support_url"] != e.node.URL {
			t.Errorf("default theme %v", theme)
		}
		if logo := send(t, "GET", str(t, theme, "logo_url_dark"), nil, nil); logo.Status != http.StatusOK ||
			logo.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("logo: %d %s", logo.Status, logo.Header.Get("Content-Type"))
		}

		// Refused proofs leave the job as it was.
		proof, _ := softwareProof(t, b.subject(c), b.token)
		assertError(t, b.call(t, c, "bind", strings.Repeat("x", 64), proof), http.StatusUnauthorized, "unauthorized", "the binding link's token is not valid")
		other, _ := softwareProof(t, b.subject(c), strings.Repeat("y", 64))
		assertInvalid(t, b.call(t, c, "bind", b.token, other), "raw", "the proof is for another binding link")
		stranger, _ := softwareProof(t, "CN=0123456789abcdef, OU="+realm+", O="+c.tenant, b.token)
		assertInvalid(t, b.call(t, c, "bind", b.token, stranger), "raw", "the proof is for another identity")
		assertInvalid(t, b.call(t, c, "bind", b.token, map[string]any{"type": "JWT", "raw": "not.a.jws"}), "raw", "not a compact ES256 JWS")
		tampered := proof["raw"].(string)
		tampered = tampered[:len(tampered)-4] + "AAAA"
		assertInvalid(t, b.call(t, c, "bind", b.token, map[string]any{"type": "JWT", "raw": tampered}), "raw", "the signature does not verify")
		assertInvalid(t, b.call(t, c, "bind", b.token, map[string]any{"type": "X509", "raw": "x"}), "type", `must be "JWT" or "WEBAUTHN"`)
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("state after refused proofs %s", s)
		}

		bound := b.call(t, c, "bind", b.token, proof)
		if bound.Status != http.StatusOK {
			t.Fatalf("bind: %d %s", bound.Status, bound.Body)
		}
		flat := bound.JSON(t)
		if flat["state"] != "ACTIVE" || flat["id"] == nil || flat["credential"] != nil {
			t.Errorf("bind answered %s, want a flat ACTIVE credential", bound.Body)
		}
		credID := str(t, flat, "id")
		job := c.get(t, b.jobPath())
		if job["state"] != "COMPLETE" || job["credential_id"] != credID {
			t.Errorf("job after bind %v", job)
		}
		cred := c.get(t, "/realms/"+realm+"/identities/"+ada+"/credentials/"+credID)
		assertKeys(t, cred, "backup_eligible", "backup_state", "create_time", "csr_type", "display_name", "id", "identity_id", "jwk_json",
			"jwk_thumbprint", "realm_id", "state", "tenant_id", "transports", "update_time")
		var jwk jose.JSONWebKey
		if err := json.Unmarshal([]byte(str(t, cred, "jwk_json")), &jwk); err != nil {
			t.Fatalf("jwk_json %v: %v", cred["jwk_json"], err)
		}
		tp, _ := jwk.Thumbprint(crypto.SHA256)
		if cred["csr_type"] != "JWT" || cred["state"] != "ACTIVE" || cred["jwk_thumbprint"] != base64.URLEncoding.EncodeToString(tp) {
			t.Errorf("credential %v (thumbprint want %s)", cred, base64.URLEncoding.EncodeToString(tp))
		}
		if s := enrollment(t, c, realm, ada); s != "ENROLLED" {
			t.Errorf("enrollment after bind %s", s)
		}

		// The link is spent.
		again, _ := softwareProof(t, b.subject(c), b.token)
		assertError(t, b.call(t, c, "bind", b.token, again), http.StatusGone, "gone", "this binding link was already used to bind a passkey")
		assertError(t, send(t, "GET", b.link, http.Header{"Accept": {"application/json"}}, nil), http.StatusGone, "gone",
			"this binding link was already used to bind a passkey")

		all := c.list(t, "/realms/"+realm+"/identities/-/credentials", "filter", `state eq "ACTIVE"`)
		assertSameSet(t, "active credentials", ids(items(t, all, "credentials")), []string{credID})
		revoked := c.post(t, "/realms/"+realm+"/identities/"+ada+"/credentials/"+credID+":revoke", nil)
		if revoked["state"] != "REVOKED" {
			t.Errorf("revoked %v", revoked)
		}
		assertError(t, c.do(t, "POST", "/realms/"+realm+"/identities/"+ada+"/credentials/"+credID+":revoke", nil),
			http.StatusConflict, "conflict", "credential is already revoked")
		if s := enrollment(t, c, realm, ada); s != "UNENROLLED" {
			t.Errorf("enrollment after revoking the only passkey %s", s)
		}
	})
}

func TestBindWebAuthnPasskey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm, ada, b := adaBinding(t, c, "WebAuthn", hostedConfig)
		info := b.call(t, c, "getInfo", b.token, nil).JSON(t)

		// Only trusted origins: the hosted page's own is.
		assertInvalid(t, b.call(t, c, "bind", b.token, webauthnProof(t, info, "https://evil.example")), "raw",
			"origin https://evil.example is not trusted by the authenticator config")
		malformed, _ := json.Marshal(map[string]string{"client_data_json_base64": "e30=", "attestation_object": "oA=="})
		assertInvalid(t, b.call(t, c, "bind", b.token, map[string]any{"type": "WEBAUTHN", "raw": string(malformed)}), "raw", "the challenge is not the binding's claims")
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("state after refused proofs %s", s)
		}

		// The browser's transports come along (the hosted pages send them);
		// unknown and repeated ones are dropped.
		proof := webauthnProof(t, info, e.node.URL)
		var raw map[string]any
		json.Unmarshal([]byte(proof["raw"].(string)), &raw)
		raw["transports"] = []string{"hybrid", "pigeon", "internal", "hybrid"}
		withTransports, _ := json.Marshal(raw)
		proof["raw"] = string(withTransports)
		bound := b.call(t, c, "bind", b.token, proof)
		if bound.Status != http.StatusOK {
			t.Fatalf("bind: %d %s", bound.Status, bound.Body)
		}
		cred := c.get(t, "/realms/"+realm+"/identities/"+ada+"/credentials/"+str(t, bound.JSON(t), "id"))
		var jwk jose.JSONWebKey
		if cred["csr_type"] != "WEBAUTHN" || json.Unmarshal([]byte(str(t, cred, "jwk_json")), &jwk) != nil || !jwk.Valid() {
			t.Errorf("credential %v", cred)
		}
		if tr := fmt.Sprint(cred["transports"]); tr != "[hybrid internal]" {
			t.Errorf("the passkey's transports: %s", tr)
		}
		if s := b.state(t, c); s != "COMPLETE" {
			t.Errorf("state after bind %s", s)
		}
	})
}

// TestConcurrentBinds: of concurrent binds of one job, exactly one wins.
func TestConcurrentBinds(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm, ada, b := appBinding(t, c, "Race")
		const n = 8
		proofs := make([]map[string]any, n)
		for i := range proofs {
			proofs[i], _ = softwareProof(t, b.subject(c), b.token)
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses[i] = b.call(t, c, "bind", b.token, proofs[i]).Status })
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusGone:
			default:
				t.Errorf("a concurrent bind answered %d", s)
			}
		}
		creds := c.list(t, "/realms/"+realm+"/identities/"+ada+"/credentials")
		if won != 1 || num(t, creds, "total_size") != 1 {
			t.Errorf("%d binds won, %d credentials; want 1 and 1 (%v)", won, num(t, creds, "total_size"), statuses)
		}
	})
}

// TestBindingLinkExpiry moves the nodes' clock (one for both engines: it
// only moves forward, past every link either made) instead of sleeping.
func TestBindingLinkExpiry(t *testing.T) {
	t.Parallel()
	clock := testenv.NewClock()
	forEachEngine(t, func(cfg *server.Config) { cfg.BindingLinkTTL, cfg.Clock = time.Minute, clock.Now }, func(t *testing.T, e *env) {
		c := e.api
		realm, ada, b := appBinding(t, c, "Expiry")
		clock.Advance(time.Minute)
		if s := b.state(t, c); s != "EXPIRED" {
			t.Errorf("state after expiry %s", s)
		}
		proof, _ := softwareProof(t, b.subject(c), b.token)
		assertError(t, b.call(t, c, "bind", b.token, proof), http.StatusGone, "gone", "this binding link has expired; ask for a new one")
		assertError(t, c.do(t, "POST", b.jobPath()+":revoke", map[string]any{}), http.StatusConflict, "conflict",
			"credential binding job is EXPIRED and cannot be revoked")
		// The first administrator's link, made at the node's start, expired too.
		if n, err := e.node.Passkeys.ExpireBindingJobs(t.Context()); err != nil || n != 2 {
			t.Errorf("sweep expired %d jobs (%v), want 2", n, err)
		}
		if s := enrollment(t, c, realm, ada); s != "UNENROLLED" {
			t.Errorf("enrollment after expiry %s", s)
		}
	})
}

func TestBindingCORS(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		_, _, b := appBinding(t, c, "CORS")
		app := "https://app.example.com"
		preflight := func(origin string) testenv.Response {
			return send(t, "OPTIONS", c.url(b.jobPath()+":bind"), http.Header{"Origin": {origin},
				"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type,x-correlation-id"}}, nil)
		}
		ok := preflight(app)
		if ok.Status != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != app ||
			!strings.Contains(strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "x-correlation-id") {
			t.Errorf("trusted preflight: %d %v", ok.Status, ok.Header)
		}
		if h := preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"); h != "" {
			t.Errorf("untrusted origin allowed: %s", h)
		}
		info := c.withToken(b.token).withHeader("Origin", app).do(t, "POST", b.jobPath()+":getInfo", nil)
		if info.Status != http.StatusOK || info.Header.Get("Access-Control-Allow-Origin") != app {
			t.Errorf("getInfo from the app: %d %v", info.Status, info.Header)
		}
	})
}

// linkIn finds the binding link in an e-mail's text.
func linkIn(t testing.TB, text string) string {
	t.Helper()
	m := regexp.MustCompile(`https?://\S+:invokeAuthenticator\?token=[A-Za-z0-9]{64}`).FindString(text)
	if m == "" {
		t.Fatalf("no binding link in the e-mail:\n%s", text)
	}
	return m
}

// mailNode starts a node of the engine that sends its e-mail to a capture
// SMTP server of its own, and returns a client with an all-scopes token.
func mailNode(t *testing.T, engine string, smtp testenv.SMTPConfig) (client, *testenv.Node, *testenv.SMTPCapture) {
	t.Helper()
	capture := testenv.StartSMTPWith(t, smtp)
	n := testenv.StartNode(t, engine, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.SMTPURL = capture.URL
	})
	return client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}, n, capture
}

func TestBindingEmail(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, _, capture := mailNode(t, eng.Name, testenv.SMTPConfig{})
			realm := newRealm(t, c, "Mailed")
			c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"email_realm_name": "Acme Corp"}})
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			out := c.post(t, "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs",
				map[string]any{"job": map[string]any{"delivery_method": "EMAIL", "authenticator_config_id": embeddedConfig(t, c, realm, "https://app.example.com")}})
			if _, ok := out["credential_binding_link"]; ok {
				t.Errorf("an EMAIL job's response shows the link: %v", out)
			}
			job := obj(t, out, "credential_binding_job")
			if job["delivery_method"] != "EMAIL" || job["state"] != "LINK_SENT" {
				t.Errorf("job %v", job)
			}

			msg := capture.Wait(t, 1)[0]
			if len(msg.To) != 1 || msg.To[0] != "ada@example.com" || !strings.Contains(msg.Subject, "Acme Corp") ||
				!strings.Contains(msg.HTML, "Acme Corp") {
				t.Errorf("e-mail to %v, subject %q", msg.To, msg.Subject)
			}
			link := linkIn(t, msg.Text)
			if !strings.Contains(msg.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
				t.Errorf("the HTML part lacks the link %s", link)
			}
			u, _ := url.Parse(link)
			b := binding{realm: realm, identity: ada, job: str(t, job, "id"), token: u.Query().Get("token"), link: link}
			proof, _ := softwareProof(t, b.subject(c), b.token)
			if resp := b.call(t, c, "bind", b.token, proof); resp.Status != http.StatusOK {
				t.Fatalf("bind with the e-mailed link: %d %s", resp.Status, resp.Body)
			}
			if s := b.state(t, c); s != "COMPLETE" {
				t.Errorf("state %s", s)
			}
		})
	}
}

// TestBindingEmailUndeliverable: an e-mail the server refuses for good
// leaves its job FAILED_TO_SEND and the identity INVITE_FAILED.
func TestBindingEmailUndeliverable(t *testing.T) {
	t.Parallel()
	c, _, capture := mailNode(t, "sqlite", testenv.SMTPConfig{Refuse: func(int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}})
	realm := newRealm(t, c, "Bounced")
	ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@nowhere.example"), "id")
	out := c.post(t, "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs",
		map[string]any{"job": map[string]any{"delivery_method": "EMAIL", "authenticator_config_id": hostedConfig(t, c, realm)}})
	job := "/realms/" + realm + "/identities/" + ada + "/credential-binding-jobs/" + str(t, obj(t, out, "credential_binding_job"), "id")
	deadline := time.Now().Add(10 * time.Second)
	for str(t, c.get(t, job), "state") != "FAILED_TO_SEND" {
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after the SMTP server refused its e-mail %d times", str(t, c.get(t, job), "state"), capture.Attempts())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := enrollment(t, c, realm, ada); s != "INVITE_FAILED" {
		t.Errorf("enrollment %s, want INVITE_FAILED", s)
	}
}

// TestSuspendedIdentityCannotBind: a link made before the identity was
// suspended binds nothing until it is active again.
func TestSuspendedIdentityCannotBind(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm, ada, b := appBinding(t, c, "Suspended")
		status := func(s string) {
			c.patch(t, "/realms/"+realm+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": s}})
		}
		status("suspended")
		proof, _ := softwareProof(t, b.subject(c), b.token)
		assertError(t, b.call(t, c, "bind", b.token, proof), http.StatusForbidden, "forbidden", "the identity is suspended and cannot bind a passkey")
		if s := b.state(t, c); s != "LINK_SENT" {
			t.Errorf("state after a refused bind %s", s)
		}
		status("active")
		if resp := b.call(t, c, "bind", b.token, proof); resp.Status != http.StatusOK {
			t.Errorf("bind once active again: %d %s", resp.Status, resp.Body)
		}
	})
}
