package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestRealmThatWorks: a realm made in the console has an authenticator
// config at once; its Getting started checklist ticks itself off as the
// realm fills; an application's page shows how to connect, with an issuer
// that an OIDC library (go-oidc) discovers, and says that nobody may sign
// in until the policy allows it, which one click does.
func TestRealmThatWorks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		p := e.post(t, "/console/realms", url.Values{"display_name": {"Fresh"}, "classification": {"SECURE_CUSTOMER"}})
		if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "/start") {
			t.Fatalf("create: %d %s", p.status, p.location)
		}
		start := p.location
		realm := strings.TrimSuffix(strings.TrimPrefix(start, "/console/realms/"), "/start")
		configs := e.api(t, "GET", "/realms/"+realm+"/authenticator-configs", nil)["authenticator_configs"].([]any)
		if len(configs) != 1 || configs[0].(map[string]any)["config"].(map[string]any)["type"] != "hosted_web" {
			t.Fatalf("a new realm's configs: %v", configs)
		}
		step := func(page page, key string) string {
			t.Helper()
			m := regexp.MustCompile(`data-step="` + key + `" data-done="(true|false)"`).FindStringSubmatch(page.body)
			if m == nil {
				t.Fatalf("no step %s on %s", key, excerpt(page.body))
			}
			return m[1]
		}
		page := e.get(t, start)
		wantPage(t, page, http.StatusOK, "Realm Fresh created, with the authenticator config Hosted sign-in.", "0 of 5 steps done")
		for _, k := range []string{"identities", "application", "policy", "passkey", "signin"} {
			if step(page, k) != "false" {
				t.Fatalf("step %s done in an empty realm", k)
			}
		}

		e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada"}}})
		p = e.post(t, "/console/realms/"+realm+"/applications", appForm(url.Values{"protocol_config.type": {"oidc"},
			"protocol_config.grant_type": {"authorization_code"}, "protocol_config.redirect_uris": {"https://app.example/cb"},
			// as the new-application form fills it in: 0 is no bound, not a refused value
			"protocol_config.refresh_token_configuration.absolute_lifetime": {"0"}}))
		wantPage(t, p, http.StatusCreated, `id="connect"`, "Discovery URL", `data-access="denied"`, "Nobody may sign in yet", "openid-client", "oidc.NewProvider", "bi-sdk-js")
		issuer := regexp.MustCompile(`<code id="issuer">([^<]+)</code>`).FindStringSubmatch(p.body)
		if issuer == nil {
			t.Fatalf("no issuer on %s", excerpt(p.body))
		}
		provider, err := oidc.NewProvider(context.Background(), issuer[1])
		if err != nil {
			t.Fatalf("go-oidc discovery of the issuer shown: %v", err)
		}
		if !strings.Contains(p.body, "<code>"+provider.Endpoint().TokenURL+"</code>") {
			t.Fatalf("the page lacks the token endpoint %s", provider.Endpoint().TokenURL)
		}
		app := strings.TrimPrefix(issuer[1], e.node.URL+"/v1/tenants/"+e.tenant()+"/realms/"+realm+"/applications/")
		page = e.get(t, start)
		if step(page, "identities") != "true" || step(page, "application") != "true" || step(page, "policy") != "false" {
			t.Fatalf("after an identity and an application: %s", excerpt(page.body))
		}

		p = e.follow(t, "/console/realms/"+realm+"/applications/"+app+"/allow-everyone", url.Values{})
		wantPage(t, p, http.StatusOK, "may now sign in to Billing", `data-access="allowed"`)
		if step(e.get(t, start), "policy") != "true" {
			t.Fatal("the policy step is not done after allowing everyone")
		}
		rules := e.api(t, "GET", "/realms/"+realm+"/policy", nil)["rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["applications"].([]any)[0] != app {
			t.Fatalf("policy rules: %v", rules)
		}
	})
}

// TestStartScopes: the checklist reads identities, applications, the
// policy and configs; allowing everyone needs policy:update.
func TestStartScopes(t *testing.T) {
	e := start(t, "sqlite", "realms:read identities:read applications:read authenticator-configs:read resource-servers:read policy:read")
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/start"), http.StatusOK, "Getting started")
	base := "/console/realms/" + e.admin() + "/applications/" + e.node.Creds().ApplicationID
	wantPage(t, e.post(t, base+"/allow-everyone", url.Values{}), http.StatusForbidden, "does not grant")
	e = start(t, "sqlite", "realms:read identities:read")
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/start"), http.StatusForbidden, "does not grant")
}
