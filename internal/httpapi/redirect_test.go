package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey"
)

// dangerousTargets are redirect targets no browser may be sent to.
var dangerousTargets = []string{"javascript:alert(document.cookie)", "JavaScript://app.example.com/%0aalert(1)",
	"data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
	"http://app.example.com/callback", "https://app.example.com/callback#frag", "myapp://callback"}

// TestRedirectTargets: applications and binding jobs store only safe
// redirect targets (https, http on loopback, a native app's reversed-domain
// scheme), /authorize never redirects without a registered redirect_uri,
// and targets stored before the check are not followed.
func TestRedirectTargets(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Redirects")
		appWith := func(field string, value any) map[string]any {
			pc := map[string]any{"type": "oidc", "confidentiality": "public", "grant_type": []string{"authorization_code"}, "pkce": "s256",
				"redirect_uris": []string{"https://app.example.com/callback"}, "token_configuration": map[string]any{"expires_after": 600}}
			pc[field] = value
			return map[string]any{"application": map[string]any{"display_name": "App", "protocol_config": pc}}
		}
		app := func(uri string) map[string]any {
			return appWith("redirect_uris", []string{"https://app.example.com/callback", uri})
		}
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		config := hostedConfig(t, c, realm)
		job := func(uri string) map[string]any {
			return map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config, "post_binding_redirect_uri": uri}}
		}
		for _, bad := range dangerousTargets {
			assertInvalid(t, c.do(t, "POST", "/realms/"+realm+"/applications", app(bad)), "application.protocol_config.redirect_uris[1]", "")
			assertInvalid(t, c.do(t, "POST", "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs", job(bad)), "job.post_binding_redirect_uri", "")
			assertInvalid(t, c.do(t, "POST", "/realms/"+realm+"/applications", appWith("post_logout_redirect_uris", []string{bad})),
				"application.protocol_config.post_logout_redirect_uris[0]", "")
			assertInvalid(t, c.do(t, "POST", "/realms/"+realm+"/applications", appWith("backchannel_logout_uri", bad)),
				"application.protocol_config.backchannel_logout_uri", "")
		}
		// A native app's scheme is a place for a browser, not for a logout token.
		assertInvalid(t, c.do(t, "POST", "/realms/"+realm+"/applications", appWith("backchannel_logout_uri", "com.example.app:/logout")),
			"application.protocol_config.backchannel_logout_uri", "")
		logoutApp := c.post(t, "/realms/"+realm+"/applications", appWith("post_logout_redirect_uris", []string{"https://app.example.com/bye", "com.example.app:/bye"}))
		c.ok(t, "PATCH", "/realms/"+realm+"/applications/"+str(t, logoutApp, "id"), map[string]any{"application": map[string]any{
			"protocol_config": map[string]any{"backchannel_logout_uri": "https://app.example.com/backchannel"}}})
		logoutConfig := c.get(t, "/realms/"+realm+"/applications/"+str(t, logoutApp, "id"))["protocol_config"].(map[string]any)
		if fmt.Sprint(logoutConfig["post_logout_redirect_uris"]) != "[https://app.example.com/bye com.example.app:/bye]" ||
			logoutConfig["backchannel_logout_uri"] != "https://app.example.com/backchannel" {
			t.Errorf("logout URIs stored as %v and %v", logoutConfig["post_logout_redirect_uris"], logoutConfig["backchannel_logout_uri"])
		}
		for _, good := range []string{"com.example.app:/callback", "http://127.0.0.1:8765/callback", "http://localhost/callback"} {
			c.post(t, "/realms/"+realm+"/applications", app(good))
			c.post(t, "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs", job(good))
		}

		// Without a redirect_uri (OIDC requires it) /authorize answers its page, never a redirect.
		f := newSignInFixture(t, e, "Sign-in redirects")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		missing, empty := signInQuery(f.clientID, ""), signInQuery(f.clientID, "")
		missing.Del("redirect_uri")
		for _, q := range []url.Values{missing, empty} {
			q.Set("response_type", "token") // an error the client would otherwise learn at its redirect URI
			if resp := authorize(t, f.issuer, q); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("authorize without redirect_uri %v: %d to %q, want 400 and no redirect", q, resp.StatusCode, resp.Header.Get("Location"))
			}
		}

		// An application stored before the check with a dangerous target: /authorize refuses to go there.
		stored, clientID, _ := oidcClient(t, e.node, f.realm, dangerousTargets[0])
		q := signInQuery(clientID, dangerousTargets[0])
		q.Set("prompt", "none") // an error the client would otherwise learn at its redirect URI
		if resp := authorize(t, strings.TrimSuffix(f.issuer, f.app)+stored, q); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("authorize to a stored dangerous target: %d to %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}

		// A sign-in pending before the check with a dangerous target: the passkey signs, but no code is sent there.
		page := sendWith(t, noRedirects, "GET", f.issuer+"/authorize?"+signInQuery(f.clientID, f.callback).Encode(), nil, nil)
		var signin struct {
			ID      string          `json:"id"`
			URL     string          `json:"url"`
			Options json.RawMessage `json:"options"`
		}
		if m := signinRequest.FindSubmatch(page.Body); m == nil || json.Unmarshal(m[1], &signin) != nil {
			t.Fatalf("authorize: %d %s", page.Status, page.Body)
		}
		pending, err := e.node.Store.GetAuthRequest(t.Context(), signin.ID)
		if err != nil {
			t.Fatal(err)
		}
		pending.ID, pending.Params.RedirectURI = latchkey.RandomString(32), dangerousTargets[0]
		if err := e.node.Store.SaveAuthRequest(t.Context(), pending, nil); err != nil {
			t.Fatal(err)
		}
		opts, err := virtualwebauthn.ParseAssertionOptions(string(signin.Options))
		if err != nil {
			t.Fatal(err)
		}
		origin, _ := url.Parse(f.ada.origin)
		assertion := virtualwebauthn.CreateAssertionResponse(virtualwebauthn.RelyingParty{ID: origin.Hostname(), Name: "x", Origin: f.ada.origin}, f.ada.auth, f.ada.cred, *opts)
		answer := send(t, "POST", e.node.URL+signin.URL, http.Header{"Content-Type": {"application/json"}},
			strings.NewReader(`{"request":"`+pending.ID+`","credential":`+assertion+`}`))
		if answer.Status != http.StatusBadRequest || strings.Contains(string(answer.Body), "document.cookie") {
			t.Errorf("sign-in to a stored dangerous target: %d %s, want 400 without the target", answer.Status, answer.Body)
		}

		// A binding job stored before the check with a dangerous target: neither the SDK nor the hosted page is sent there.
		b := newBinding(t, c, realm, ada, config)
		j, err := e.node.Store.GetBindingJob(t.Context(), realm, ada, b.job)
		if err != nil {
			t.Fatal(err)
		}
		token := latchkey.RandomString(32)
		sum := sha256.Sum256([]byte(token))
		j.ID, j.TokenHash, j.PostBindingRedirectURI = latchkey.NewID(), hex.EncodeToString(sum[:]), dangerousTargets[0]
		if err := e.node.Store.CreateBindingJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		b.job, b.token = j.ID, token
		if info := b.call(t, c, "getInfo", token, nil); info.Status != http.StatusOK || strings.Contains(string(info.Body), "document.cookie") {
			t.Errorf("getInfo of a stored dangerous target: %d %s", info.Status, info.Body)
		}
		link := c.url(b.jobPath() + ":invokeAuthenticator?token=" + url.QueryEscape(token))
		if bind := send(t, "GET", link, http.Header{"Accept": {"text/html"}}, nil); bind.Status != http.StatusOK || strings.Contains(string(bind.Body), "document.cookie") {
			t.Errorf("binding page of a stored dangerous target: %d %s", bind.Status, bind.Body)
		}
	})
}
