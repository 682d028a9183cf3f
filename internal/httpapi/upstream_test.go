package httpapi_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/browsertest"
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
// and a sign_in.allowed event names the application and, in its reason, the
// provider. Then, with the upstream's session (no ceremony there), the
// identity unassigned, suspended, and no longer holding the address is
// refused on its page, with events saying why and through which provider.
func TestSignInThroughUpstream(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
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
		viaUpstream := `through the identity provider "Upstream Co" (` + config + `)`
		if allowed := signInEvents(t, c, pets, `action eq "sign_in.allowed" and identity_id eq "`+ada+`" and application_id eq "`+app+`"`); len(allowed) != 1 || allowed[0]["reason"] != viaUpstream {
			t.Errorf("sign_in.allowed events %v, want one naming the provider: %s", allowed, viaUpstream)
		}

		refusedBy := func(what, kind, reason string) {
			t.Helper()
			through() // the upstream's session answers at once
			refused(t, what, rp.backFromRefusal(t, ctx, kind, "Pet App", ""), "access_denied")
			events := signInEvents(t, c, pets, `action eq "sign_in.denied" and application_id eq "`+app+`"`)
			if len(events) == 0 || !strings.Contains(events[0]["reason"].(string), reason) || !strings.HasSuffix(events[0]["reason"].(string), "; "+viaUpstream) {
				t.Errorf("%s: sign-in events %v, want the newest denied saying %q, then %s", what, events, reason, viaUpstream)
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

// hostileUpstream is a tiny OIDC provider of the test's own: its JWKS
// serves its key, and its token endpoint answers, for each code, the ID
// token the test made for it (or an error when there is none).
type hostileUpstream struct {
	URL    string
	key    testenv.SigningKey
	mu     sync.Mutex
	tokens map[string]string // code → ID token
}

func startHostileUpstream(t *testing.T) *hostileUpstream {
	t.Helper()
	u := &hostileUpstream{key: testenv.NewSigningKey(t, "k1"), tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", u.key.ServeJWKS)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		tok, ok := u.tokens[r.PostFormValue("code")]
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": tok})
	})
	u.URL = testenv.Serve(t, mux)
	return u
}

// TestUpstreamBadAnswers: a generic_oidc_idp whose provider is a hostile
// in-test one. Each callback answers a clear 4xx page, never a 500, and
// signs no one in: an ID token of the wrong issuer, audience or nonce,
// expired, signed by a key not in the provider's JWKS, without the
// identifying claim; a code the provider will not redeem; the provider's
// error; the state replayed, missing or unknown; the callback in another
// browser, under another realm or another config. The way out is refused
// for a config that is no upstream provider and for an unknown sign-in.
func TestUpstreamBadAnswers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		up := startHostileUpstream(t)
		pets, other := newRealm(t, c, "Pets"), newRealm(t, c, "Others")
		c.ok(t, "PUT", "/realms/"+pets+"/policy", map[string]any{"default_effect": "allow"})
		ada := str(t, newIdentity(t, c, pets, "ada", "primary_email_address", "ada@example.com"), "id")
		payload := map[string]any{"type": "generic_oidc_idp", "client_id": "latchkey", "client_secret": "shh", "pkce": "s256",
			"identifying_claim_name": "email", "identity_attribute": "email", "authorization_endpoint": up.URL + "/authorize",
			"token_endpoint": up.URL + "/token", "jwks_endpoint": up.URL + "/jwks"}
		config := str(t, c.post(t, "/realms/"+pets+"/sso-configs", ssoConfigBody("Hostile", payload)), "id")
		assertEmpty200(t, c.do(t, "POST", "/realms/"+pets+"/sso-configs/"+config+":addIdentities", map[string]any{"identity_ids": []string{ada}}))
		bookmark := str(t, c.post(t, "/realms/"+pets+"/sso-configs", ssoConfigBody("Wiki", map[string]any{
			"type": "bookmark", "login_link": "https://wiki.example/login"})), "id")
		rp, _ := startOIDCApp(t, n, c.tenant, pets)
		realmPath := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + pets

		// start opens the app's sign-in in a new browser (a cookie jar)
		// and follows the hosted page's link to the provider: it returns
		// the browser, the provider's state and nonce, and the page's link.
		start := func() (*http.Client, string, string, string) {
			t.Helper()
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar}
			page := sendWith(t, hc, "GET", rp.URL+"/login", nil, nil)
			m := regexp.MustCompile(`id="upstream-` + config + `" href="([^"]+)"`).FindStringSubmatch(string(page.Body))
			if page.Status != http.StatusOK || m == nil {
				t.Fatalf("the hosted page offers no upstream: %d %s", page.Status, page.Body)
			}
			link := n.URL + html.UnescapeString(m[1])
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			out := sendWith(t, hc, "GET", link, nil, nil)
			to, err := url.Parse(out.Header.Get("Location"))
			if out.Status != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), up.URL+"/authorize?") {
				t.Fatalf("the way out: %d to %q", out.Status, out.Header.Get("Location"))
			}
			q := to.Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "latchkey" ||
				q.Get("scope") != "openid" || q.Get("redirect_uri") != realmPath+"/sso-configs/"+config+"/callback" {
				t.Errorf("the authorization request: %v", q)
			}
			return hc, q.Get("state"), q.Get("nonce"), link
		}
		good := func(nonce string) map[string]any {
			now := time.Now()
			return map[string]any{"iss": up.URL, "sub": "u1", "aud": "latchkey", "nonce": nonce, "email": "ada@example.com",
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		}
		otherKey := testenv.NewSigningKey(t, up.key.KID)
		callback := func(hc *http.Client, path string, q url.Values) testenv.Response {
			t.Helper()
			return sendWith(t, hc, "GET", path+"?"+q.Encode(), nil, nil)
		}
		refusedPage := func(what string, resp testenv.Response, status int, says string) {
			t.Helper()
			if resp.Status != status || !strings.Contains(html.UnescapeString(string(resp.Body)), says) {
				t.Errorf("%s: %d %s, want %d saying %q", what, resp.Status, resp.Body, status, says)
			}
		}
		cb := realmPath + "/sso-configs/" + config + "/callback"
		for _, tc := range []struct {
			name   string
			change func(claims map[string]any)
			key    *testenv.SigningKey // nil: the provider's
			says   string
		}{
			{"wrong issuer", func(m map[string]any) { m["iss"] = "https://evil.example" }, nil, "is not the identity provider's"},
			{"issuer on the provider's host, another path", func(m map[string]any) { m["iss"] = up.URL + "/other" }, nil, "is not the identity provider's"},
			{"wrong audience", func(m map[string]any) { m["aud"] = "someone-else" }, nil, "ID token is not valid"},
			{"wrong nonce", func(m map[string]any) { m["nonce"] = "replayed-nonce" }, nil, "nonce is not this sign-in's"},
			{"no nonce", func(m map[string]any) { delete(m, "nonce") }, nil, "nonce is not this sign-in's"},
			{"expired", func(m map[string]any) { m["exp"] = time.Now().Add(-time.Hour).Unix() }, nil, "ID token is not valid"},
			{"another key", func(map[string]any) {}, &otherKey, "ID token is not valid"},
			{"no identifying claim", func(m map[string]any) { delete(m, "email") }, nil, "has no claim email"},
		} {
			hc, state, nonce, _ := start()
			claims := good(nonce)
			tc.change(claims)
			code := latchkey.RandomString(20)
			up.mu.Lock()
			key := tc.key
			if key == nil {
				key = &up.key
			}
			up.tokens[code] = key.Sign(t, claims)
			up.mu.Unlock()
			refusedPage(tc.name, callback(hc, cb, url.Values{"code": {code}, "state": {state}}), http.StatusBadRequest, tc.says)
		}
		if denied := signInEvents(t, c, pets, `action eq "sign_in.denied"`); len(denied) < 8 {
			t.Errorf("%d sign_in.denied events, want one for each bad ID token", len(denied))
		}

		hc, state, _, _ := start()
		refusedPage("a code the provider does not redeem", callback(hc, cb, url.Values{"code": {"nope"}, "state": {state}}), http.StatusBadRequest, "did not redeem its code")
		refusedPage("the same state again", callback(hc, cb, url.Values{"code": {"nope"}, "state": {state}}), http.StatusBadRequest, "unknown, used or expired")
		hc, state, _, _ = start()
		refusedPage("the provider's error", callback(hc, cb, url.Values{"error": {"access_denied"}, "error_description": {"<b>no</b>"}, "state": {state}}),
			http.StatusBadRequest, "did not sign you in: access_denied <b>no</b>")
		refusedPage("no state", callback(hc, cb, url.Values{"code": {"x"}}), http.StatusBadRequest, "has no state")
		refusedPage("an unknown state", callback(hc, cb, url.Values{"code": {"x"}, "state": {"made-up"}}), http.StatusBadRequest, "unknown, used or expired")

		// A good answer, in the wrong places and browsers first.
		hc, state, nonce, _ := start()
		code := latchkey.RandomString(20)
		up.mu.Lock()
		up.tokens[code] = up.key.Sign(t, good(nonce))
		up.mu.Unlock()
		q := url.Values{"code": {code}, "state": {state}}
		for _, path := range []string{
			n.URL + "/v1/tenants/" + c.tenant + "/realms/" + other + "/sso-configs/" + config + "/callback",
			realmPath + "/sso-configs/" + bookmark + "/callback",
			realmPath + "/identity-providers/" + config + "/callback",
		} {
			refusedPage("the callback at "+path, callback(hc, path, q), http.StatusBadRequest, "unknown, used or expired")
		}
		hc, state, nonce, _ = start()
		up.mu.Lock()
		up.tokens[code] = up.key.Sign(t, good(nonce))
		up.mu.Unlock()
		q = url.Values{"code": {code}, "state": {state}}
		attacker, _ := cookiejar.New(nil)
		refusedPage("the callback in another browser", callback(&http.Client{Jar: attacker, CheckRedirect: hc.CheckRedirect}, cb, q),
			http.StatusBadRequest, "started in another browser")
		hc, state, nonce, link := start()
		// The way out, for a config that is no upstream provider, or a sign-in that is not there.
		refusedPage("a bookmark as the provider", sendWith(t, hc, "GET", strings.Replace(link, "/upstream/"+config, "/upstream/"+bookmark, 1), nil, nil),
			http.StatusNotFound, "no such identity provider")
		refusedPage("an unknown sign-in", sendWith(t, hc, "GET", strings.Split(link, "?")[0]+"?request=made-up", nil, nil),
			http.StatusBadRequest, "no such sign-in")
		up.mu.Lock()
		up.tokens[code] = up.key.Sign(t, good(nonce))
		up.mu.Unlock()
		back := callback(hc, cb, url.Values{"code": {code}, "state": {state}})
		if back.Status != http.StatusFound || !strings.HasPrefix(back.Header.Get("Location"), rp.URL+"/callback?code=") {
			t.Errorf("the good answer: %d to %q, want the app's callback with a code", back.Status, back.Header.Get("Location"))
		}

	})
}

// idpProtocol is an oidc_idp protocol config for the provider at issuer
// (a Latchkey application), identifying users by their e-mail address.
func idpProtocol(issuer, clientID, secret string) map[string]any {
	return map[string]any{"type": "oidc_idp", "client_id": clientID, "client_secret": secret, "pkce": "s256",
		"token_scopes": []string{"email"}, "identifying_claim_name": "email", "identity_attribute": "email",
		"authorize_url": issuer + "/authorize", "token_url": issuer + "/token", "jwks_url": issuer + "/.well-known/jwks.json"}
}

// TestEnrollmentVerifiedByIdP: in Chromium, a binding link whose job asks
// an identity provider (another realm of Latchkey) to vouch first sends
// the browser there; only once it vouched for the job's identity (the
// same e-mail address) does the link bind a passkey. Before that the bind
// is refused; a job of another identity is refused after the provider
// vouched for ada; a console authenticator config with verification_method
// idp holds its links back the same way; bad verification details are 400s.
func TestEnrollmentVerifiedByIdP(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticator(t, ctx)
		browsertest.WithoutAutofill(t, ctx)

		pets := newRealm(t, c, "Pets")
		ada := str(t, newIdentity(t, c, pets, "ada", "primary_email_address", "ADA@example.com"), "id")
		bea := str(t, newIdentity(t, c, pets, "bea", "primary_email_address", "bea@example.com"), "id")
		made := c.post(t, "/realms/"+pets+"/identity-providers", map[string]any{"display_name": "Upstream Co",
			"protocol_config": idpProtocol("https://idp.example", "x", "y")})
		idp := str(t, made, "id")
		_, issuer, clientID, secret := upstreamRealm(t, n, c, ctx, str(t, obj(t, made, "protocol_config"), "redirect_url"))
		c.patch(t, "/realms/"+pets+"/identity-providers/"+idp, map[string]any{"identity_provider": map[string]any{
			"protocol_config": idpProtocol(issuer, clientID, secret)}})
		hosted := hostedConfig(t, c, pets)

		verifiedJob := func(identity, config string) binding {
			t.Helper()
			out := c.post(t, "/realms/"+pets+"/identities/"+identity+"/credential-binding-jobs", map[string]any{"job": map[string]any{
				"delivery_method": "RETURN", "authenticator_config_id": config,
				"verification_details": map[string]any{"idp_authorization": map[string]any{"identity_provider_id": idp}}}})
			details := obj(t, obj(t, obj(t, out, "credential_binding_job"), "verification_details"), "idp_authorization")
			if details["identity_provider_id"] != idp || details["identity_provider_display_name"] != "Upstream Co" {
				t.Errorf("the job's verification details: %v", details)
			}
			link := str(t, out, "credential_binding_link")
			u, _ := url.Parse(link)
			return binding{realm: pets, identity: identity, job: str(t, obj(t, out, "credential_binding_job"), "id"), token: u.Query().Get("token"), link: link}
		}
		b := verifiedJob(ada, hosted)
		assertError(t, b.call(t, c, "bind", b.token, map[string]any{"type": "WEBAUTHN", "raw": "e30"}), http.StatusForbidden, "forbidden",
			"an identity provider must vouch for you before this link binds a passkey: open the link in a browser")

		if err := chromedp.Do(ctx, chromedp.Navigate(b.link)); err != nil {
			t.Fatal(err)
		}
		signInOnHostedPage(t, ctx) // the provider's page
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("create") !== null`, 30*time.Second); !ok {
			t.Fatalf("no binding page after the provider vouched; the browser shows %q", page)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("create"))); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("status").className === "done"`, 30*time.Second); !ok {
			t.Fatalf("no passkey made; the page says %q", page)
		}
		job := c.get(t, b.jobPath())
		if job["state"] != "COMPLETE" || job["verify_time"] == nil {
			t.Errorf("the job after the provider vouched and the passkey bound: %v", job)
		}

		// The provider vouches for ada (its session now), not bea.
		other := verifiedJob(bea, hosted)
		if err := chromedp.Do(ctx, chromedp.Navigate(other.link)); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("error") !== null && document.getElementById("error").textContent.includes("another identity")`, 30*time.Second); !ok {
			t.Fatalf("bea's link after the provider vouched for ada; the browser shows %q", page)
		}
		if job := c.get(t, other.jobPath()); job["verify_time"] != nil {
			t.Errorf("bea's job is verified: %v", job)
		}
		assertError(t, other.call(t, c, "bind", other.token, map[string]any{"type": "WEBAUTHN", "raw": "e30"}), http.StatusForbidden, "forbidden",
			"an identity provider must vouch for you before this link binds a passkey: open the link in a browser")

		// A console authenticator config that verifies by the identity provider.
		console := str(t, c.post(t, "/realms/"+pets+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
			"display_name": "Console", "config": map[string]any{"type": "console", "onboarding_configuration": map[string]any{
				"verification_method": map[string]any{"type": "idp", "idp_id": idp}}}}}), "id")
		cb := newBinding(t, c, pets, ada, console)
		assertError(t, cb.call(t, c, "bind", cb.token, map[string]any{"type": "WEBAUTHN", "raw": "e30"}), http.StatusForbidden, "forbidden",
			"an identity provider must vouch for you before this link binds a passkey: open the link in a browser")
		if err := chromedp.Do(ctx, chromedp.Navigate(cb.link)); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("create") !== null`, 30*time.Second); !ok {
			t.Fatalf("no binding page of the console config after the provider vouched; the browser shows %q", page)
		}
		if job := c.get(t, cb.jobPath()); job["verify_time"] == nil {
			t.Errorf("the console config's job is not verified: %v", job)
		}

		// Bad verification details.
		otherRealm := newRealm(t, c, "Others")
		foreign := str(t, c.post(t, "/realms/"+otherRealm+"/identity-providers", map[string]any{"display_name": "Theirs",
			"protocol_config": idpProtocol("https://idp.example", "x", "y")}), "id")
		for _, tc := range []struct {
			details     map[string]any
			field, says string
		}{
			{map[string]any{"idp_authorization": map[string]any{"identity_provider_id": foreign}},
				"job.verification_details.idp_authorization.identity_provider_id", "no identity provider of the realm has this id"},
			{map[string]any{"idp_authorization": map[string]any{"identity_provider_id": ""}},
				"job.verification_details.idp_authorization.identity_provider_id", "empty string"},
			{map[string]any{"idp_authorization": map[string]any{"identity_provider_id": idp}, "magic_link": map[string]any{}},
				"job.verification_details", "give magic_link or idp_authorization, not both"},
		} {
			assertInvalid(t, c.do(t, "POST", "/realms/"+pets+"/identities/"+ada+"/credential-binding-jobs", map[string]any{"job": map[string]any{
				"delivery_method": "RETURN", "authenticator_config_id": hosted, "verification_details": tc.details}}), tc.field, tc.says)
		}
	})
}

// TestSAMLSignInThroughUpstream: the hosted page of a SAML sign-in offers
// the realm's upstream providers as the OIDC one does; through one (a
// generic_oidc_idp config whose provider vouches for ada@example.com), the
// SP gets its Response with ada's assertion, and the browser's session
// starts: the SP's next request is answered at once.
func TestSAMLSignInThroughUpstream(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		up := startHostileUpstream(t)
		pets := newRealm(t, c, "Pets")
		ada := str(t, newIdentity(t, c, pets, "ada", "primary_email_address", "ada@example.com"), "id")
		config := str(t, c.post(t, "/realms/"+pets+"/sso-configs", ssoConfigBody("Upstream Co", map[string]any{
			"type": "generic_oidc_idp", "client_id": "latchkey", "client_secret": "shh", "pkce": "s256",
			"identifying_claim_name": "email", "identity_attribute": "email", "authorization_endpoint": up.URL + "/authorize",
			"token_endpoint": up.URL + "/token", "jwks_endpoint": up.URL + "/jwks"})), "id")
		assertEmpty200(t, c.do(t, "POST", "/realms/"+pets+"/sso-configs/"+config+":addIdentities", map[string]any{"identity_ids": []string{ada}}))
		sp, path := benchSAMLConfig(t, n, c, pets, "wiki", false, ada)

		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		first, requestID := redirectRequest(t, sp, n.URL+path+"/sso")
		page := sendWith(t, browser, "GET", first, nil, nil)
		m := regexp.MustCompile(`id="upstream-` + config + `" href="([^"]+)">Sign in with Upstream Co<`).FindStringSubmatch(string(page.Body))
		if page.Status != http.StatusOK || m == nil {
			t.Fatalf("the SAML sign-in page offers no upstream: %d %s", page.Status, page.Body)
		}
		link := n.URL + html.UnescapeString(m[1])
		// The way out refuses, with a 4xx page, what names no pending sign-in of this realm or no provider.
		other := newRealm(t, c, "Other")
		bare := strings.Split(link, "?")[0]
		for what, bad := range map[string]string{
			"an unknown sign-in":      bare + "?request=made-up",
			"a NUL in the request":    bare + "?request=%00",
			"a huge request":          bare + "?request=" + strings.Repeat("a", 8000),
			"no request":              bare,
			"a provider that is none": strings.Replace(link, "/upstream/"+config, "/upstream/"+latchkey.NewUUID(), 1),
			"another realm's path":    strings.Replace(link, "/realms/"+pets+"/", "/realms/"+other+"/", 1),
		} {
			if r := sendWith(t, browser, "GET", bad, nil, nil); r.Status < 400 || r.Status >= 500 {
				t.Errorf("%s: %d %.300s, want a 4xx", what, r.Status, r.Body)
			}
		}
		out := sendWith(t, browser, "GET", link, nil, nil)
		to, err := url.Parse(out.Header.Get("Location"))
		if out.Status != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), up.URL+"/authorize?") {
			t.Fatalf("the way out: %d to %q %s", out.Status, out.Header.Get("Location"), out.Body)
		}
		now := time.Now()
		code := latchkey.RandomString(20)
		up.mu.Lock()
		up.tokens[code] = up.key.Sign(t, map[string]any{"iss": up.URL, "sub": "u1", "aud": "latchkey", "nonce": to.Query().Get("nonce"),
			"email": "ada@example.com", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
		up.mu.Unlock()
		callback := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + pets + "/sso-configs/" + config + "/callback"
		answer := sendWith(t, browser, "GET", callback+"?"+url.Values{"code": {code}, "state": {to.Query().Get("state")}}.Encode(), nil, nil)
		raw := postedResponse(t, answer)
		if a, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL); err != nil || a.Subject.NameID.Value != "ada@example.com" {
			t.Fatalf("the SP refuses the Response of the sign-in through the upstream: %v %v", err, a)
		}
		next, nextID := redirectRequest(t, sp, n.URL+path+"/sso")
		raw = postedResponse(t, sendWith(t, browser, "GET", next, nil, nil))
		if _, err := sp.ParseXMLResponse(raw, []string{nextID}, sp.AcsURL); err != nil {
			t.Errorf("the next request, with the session the upstream began: %v", err)
		}
	})
}
