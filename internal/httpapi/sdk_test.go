package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// appPage is a customer's web app that embeds the official SDK.
const appPage = `<!doctype html>
<html><head><title>App</title><script src="/bi-embedded.js"></script></head>
<body><script>
const sdk = embeddedsdk.Embedded.initialize({allowedDomains: ["localhost"]});
const failure = (e) => "error: " + ((e && e.message) || JSON.stringify(e));
window.bind = async (link) => {
  try {
    return JSON.stringify(await (await sdk).bindPasskey(link));
  } catch (e) {
    return failure(e);
  }
};
// signIn authenticates the sign-in that Latchkey handed to this page with
// the browser's one passkey, as an app's /bi-authenticate route would.
window.signIn = async (url) => {
  try {
    const s = await sdk;
    if (!s.isAuthenticateUrl(url)) return "error: not an authenticate URL: " + url;
    const context = await s.getAuthenticationContext(url);
    const passkeys = await s.getPasskeys();
    if (passkeys.length !== 1) return "error: passkeys " + JSON.stringify(passkeys);
    const answer = await s.authenticate(url, passkeys[0].id);
    return JSON.stringify({context, answer});
  } catch (e) {
    return failure(e);
  }
};
</script></body></html>`

// tlsNode starts a node that serves HTTPS with its self-signed
// certificate, as the SDK requires, and returns an API client of it.
func tlsNode(t *testing.T, engine string) (client, *testenv.Node) {
	t.Helper()
	n := testenv.StartNode(t, engine, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.TLSSelfSigned = true
	})
	return client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, ""), http: n.HTTP}, n
}

// startApp serves appPage and the SDK's bundle on http://localhost:PORT.
func startApp(t testing.TB, sdk []byte) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{path...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(appPage))
	})
	mux.HandleFunc("GET /bi-embedded.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(sdk)
	})
	return testenv.Serve(t, mux)
}

// TestEmbeddedSDKBindPasskey: the official embedded SDK, in Chromium, binds
// passkeys with Latchkey's binding links, Latchkey serving HTTPS with its
// self-signed certificate. The SDK makes a WebAuthn passkey when the
// browser has a platform authenticator, and a software passkey otherwise.
func TestEmbeddedSDKBindPasskey(t *testing.T) {
	t.Parallel()
	sdk := browsertest.SDKScript(t)
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, _ := tlsNode(t, eng.Name)
			app := startApp(t, sdk)
			realm := newRealm(t, c, "SDK")
			// A theme without every URL: Latchkey fills in what the SDK requires.
			c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"logo_url_light": "https://example.com/logo.png"}})
			config := embeddedConfig(t, c, realm, app)
			for i, kind := range []struct {
				platformAuthenticator bool
				csr                   string
			}{{false, "JWT"}, {true, "WEBAUTHN"}} {
				ctx := browsertest.Start(t)
				if kind.platformAuthenticator {
					browsertest.AddAuthenticator(t, ctx)
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(app)); err != nil {
					t.Fatal(err)
				}
				identity := str(t, newIdentity(t, c, realm, "user"+strconv.Itoa(i)), "id")
				b := newBinding(t, c, realm, identity, config)

				link, _ := json.Marshal(b.link)
				answer, err := chromedp.Run(ctx, chromedp.Evaluate[string]("bind("+string(link)+")", chromedp.EvalAwaitPromise))
				if err != nil || strings.HasPrefix(answer, "error: ") {
					t.Fatalf("%s: bindPasskey: %q %v", kind.csr, answer, err)
				}
				job := c.get(t, b.jobPath())
				if job["state"] != "COMPLETE" {
					t.Fatalf("%s: job %v after bindPasskey answered %s", kind.csr, job, answer)
				}
				cred := c.get(t, "/realms/"+realm+"/identities/"+identity+"/credentials/"+str(t, job, "credential_id"))
				if cred["csr_type"] != kind.csr || cred["state"] != "ACTIVE" {
					t.Errorf("%s: credential %v", kind.csr, cred)
				}
				var bound struct {
					Passkey struct{ PasskeyID string }
				}
				if json.Unmarshal([]byte(answer), &bound); bound.Passkey.PasskeyID != cred["id"] {
					t.Errorf("%s: the SDK knows the passkey as %q, the API as %v (%s)", kind.csr, bound.Passkey.PasskeyID, cred["id"], answer)
				}
			}
		})
	}
}

// sdkApp registers, through the API, a confidential OIDC client of the
// realm that signs in with the embedded authenticator config, and returns
// its id, client id and secret.
func sdkApp(t testing.TB, c client, realm, config, redirectURI string) (id, clientID, secret string) {
	t.Helper()
	app := c.post(t, "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{
		"display_name": "Pet App", "authenticator_config_id": config, "protocol_config": map[string]any{
			"type": "oidc", "grant_type": []string{"authorization_code", "refresh_token"}, "redirect_uris": []string{redirectURI},
			"pkce": "s256", "token_configuration": map[string]any{"expires_after": 3600, "subject_field": "username"}}}})
	pc := obj(t, app, "protocol_config")
	return str(t, app, "id"), str(t, pc, "client_id"), str(t, pc, "client_secret")
}

// sdkSignIn drives one sign-in from the relying party's /login: Latchkey
// hands it to the app's /bi-authenticate, where the SDK authenticates with
// the browser's passkey; the SDK's redirect URL, opened, brings the code to
// the relying party. It returns the SDK's answer and, when the SDK gave a
// redirect URL, the relying party's outcome.
func sdkSignIn(t *testing.T, ctx context.Context, rp *relyingParty, app string) (string, *outcome) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login")); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, `location.pathname === "/bi-authenticate" && typeof signIn === "function"`, 10*time.Second); !ok {
		t.Fatalf("the browser did not reach the app's /bi-authenticate; it shows %q", page)
	}
	here, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(here, app+"/bi-authenticate?request=") {
		t.Fatalf("Latchkey sent the browser to %s (%v)", here, err)
	}
	answer, err := chromedp.Run(ctx, chromedp.Evaluate[string]("signIn(location.href)", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Answer struct{ RedirectURL string }
	}
	if json.Unmarshal([]byte(answer), &got); got.Answer.RedirectURL == "" {
		return answer, nil
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(got.Answer.RedirectURL)); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-rp.outcomes:
		o = rp.loaded(t, ctx, o)
		return answer, &o
	case <-time.After(30 * time.Second):
		t.Fatalf("the relying party heard nothing back after the SDK answered %s", answer)
	}
	return answer, nil
}

// TestEmbeddedSDKSignIn: the official embedded SDK, in Chromium, binds a
// passkey (software and WebAuthn) and then signs in with it: /authorize
// hands the sign-in to the app with a request JWT, authenticate() proves
// with the passkey at bi-authenticate, and a real OIDC relying party
// redeems the code, verifies the ID token and calls userinfo. Policy first
// denies, then allows.
func TestEmbeddedSDKSignIn(t *testing.T) {
	t.Parallel()
	sdk := browsertest.SDKScript(t)
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, n := tlsNode(t, eng.Name)
			app := startApp(t, sdk)
			realm := newRealm(t, c, "SDK")
			config := embeddedConfig(t, c, realm, app)
			for i, platformAuthenticator := range []bool{false, true} {
				ctx := browsertest.Start(t)
				if platformAuthenticator {
					browsertest.AddAuthenticator(t, ctx)
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(app)); err != nil {
					t.Fatal(err)
				}
				username := "user" + strconv.Itoa(i)
				identity := str(t, newIdentity(t, c, realm, username, "primary_email_address", username+"@example.com"), "id")
				link, _ := json.Marshal(newBinding(t, c, realm, identity, config).link)
				if answer, err := chromedp.Run(ctx, chromedp.Evaluate[string]("bind("+string(link)+")", chromedp.EvalAwaitPromise)); err != nil || strings.HasPrefix(answer, "error: ") {
					t.Fatalf("bindPasskey: %q %v", answer, err)
				}
				creds := items(t, c.list(t, "/realms/"+realm+"/identities/"+identity+"/credentials"), "credentials")
				if want := map[bool]string{false: "JWT", true: "WEBAUTHN"}[platformAuthenticator]; len(creds) != 1 || creds[0]["csr_type"] != want {
					t.Fatalf("credentials %v, want one %s passkey", creds, want)
				}

				ln, base := testenv.Listen(t)
				callback := base + "/callback"
				appID, clientID, secret := sdkApp(t, c, realm, config, callback)
				issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
				rp := startRelyingParty(t, ln, issuer, clientID, secret, n.HTTP)

				if answer, o := sdkSignIn(t, ctx, rp, app); o != nil || !strings.Contains(answer, "access denied by policy: no rule matches") {
					t.Fatalf("sign-in without a policy: the SDK answered %s", answer)
				}
				c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
					map[string]any{"effect": "allow", "applications": []string{appID}, "identities": []string{identity}}}})
				answer, o := sdkSignIn(t, ctx, rp, app)
				if o == nil || o.err != "" {
					t.Fatalf("sign-in: the SDK answered %s; the relying party: %+v", answer, o)
				}
				var got struct {
					Context struct {
						Application struct{ ID, DisplayName string }
					}
				}
				if json.Unmarshal([]byte(answer), &got); got.Context.Application.ID != appID || got.Context.Application.DisplayName != "Pet App" {
					t.Errorf("getAuthenticationContext: %s", answer)
				}
				if o.idToken.Subject != username || o.claims["email"] != username+"@example.com" || o.userinfo["preferred_username"] != username {
					t.Errorf("ID token %v, userinfo %v", o.claims, o.userinfo)
				}
			}
		})
	}
}
