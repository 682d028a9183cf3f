package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/descope/virtualwebauthn"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// setUserVerification sets an authenticator config's user_verification.
func setUserVerification(t testing.TB, c client, realm, config, uv string) {
	t.Helper()
	a := c.patch(t, "/realms/"+realm+"/authenticator-configs/"+config, map[string]any{"authenticator_config": map[string]any{
		"config": map[string]any{"user_verification": uv}}})
	if got := obj(t, a, "config")["user_verification"]; got != uv {
		t.Fatalf("config after the patch: %v", a)
	}
}

// bindAsking fetches a job's creation options, requires that they ask
// userVerification want, and posts the attestation of auth and cred.
func bindAsking(t testing.TB, c client, b binding, origin, want string, auth virtualwebauthn.Authenticator, cred virtualwebauthn.Credential) testenv.Response {
	t.Helper()
	info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
	if uv := obj(t, obj(t, info, "webauthn_options"), "authenticatorSelection")["userVerification"]; uv != want {
		t.Errorf("creation options ask userVerification %v, want %s", uv, want)
	}
	return b.call(t, c, "bind", b.token, webauthnProofWith(t, info, origin, auth, cred))
}

// TestUserVerification: a passkey whose authenticator does not verify its
// user (UV = 0) can neither bind nor sign in, on the hosted pages or
// through the embedded SDK's protocol, unless its authenticator config
// says "user_verification": "preferred"; the options sent to the browser
// ask what the config requires.
func TestUserVerification(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		const bindRefusal = "the attestation does not verify: Error validating the authenticator response (User verification required but flag not set by authenticator)"
		const signInRefusal = "the assertion does not verify: Error validating the authenticator response (User verification required but flag not set by authenticator)"

		t.Run("hosted pages", func(t *testing.T) {
			realm := newRealm(t, c, "Hosted UV")
			config := hostedConfig(t, c, realm)
			if uv := obj(t, c.get(t, "/realms/"+realm+"/authenticator-configs/"+config), "config")["user_verification"]; uv != "required" {
				t.Errorf("a new config's user_verification is %v, want required", uv)
			}
			ada := passkeyHolder{identity: str(t, newIdentity(t, c, realm, "ada"), "id"), origin: e.node.URL, cred: newCredential(t)}
			ada.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ada.identity), UserNotVerified: true})
			b := newBinding(t, c, realm, ada.identity, config)
			assertInvalid(t, bindAsking(t, c, b, e.node.URL, "required", ada.auth, ada.cred), "raw", bindRefusal)
			if s := b.state(t, c); s != "REQUEST_DELIVERED" {
				t.Errorf("job %s after the refused bind, want it still open", s)
			}
			setUserVerification(t, c, realm, config, "preferred")
			if resp := bindAsking(t, c, b, e.node.URL, "preferred", ada.auth, ada.cred); resp.Status != http.StatusOK {
				t.Fatalf("bind without UV under preferred: %d %s", resp.Status, resp.Body)
			}

			// An application of the config, and one without a config (the hosted page's default).
			c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
			callback := "https://app.example.com/callback"
			app, clientID, _ := sdkApp(t, c, realm, config, callback)
			plain, plainClientID, _ := oidcClient(t, e.node, realm, callback)
			issuerOf := func(app string) string {
				return e.node.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app
			}
			signIn := func(app, clientID, wantUV, wantRefusal string) {
				t.Helper()
				var opts struct{ UserVerification string }
				json.Unmarshal(signinPage(t, issuerOf(app), signInQuery(clientID, callback)).Options, &opts)
				if opts.UserVerification != wantUV {
					t.Errorf("sign-in options ask userVerification %q, want %s", opts.UserVerification, wantUV)
				}
				answer := ada.signIn(t, issuerOf(app), signInQuery(clientID, callback))
				switch {
				case wantRefusal == "" && answer["redirect"] == nil:
					t.Errorf("sign-in without UV: %v, want a redirect with a code", answer)
				case wantRefusal != "" && (answer["status"] != float64(http.StatusBadRequest) || !strings.Contains(fmt.Sprint(answer), wantRefusal)):
					t.Errorf("sign-in without UV: %v, want 400 with %q", answer, wantRefusal)
				}
			}
			signIn(app, clientID, "preferred", "")
			signIn(plain, plainClientID, "required", signInRefusal)
			setUserVerification(t, c, realm, config, "required")
			signIn(app, clientID, "required", signInRefusal)
		})

		t.Run("embedded SDK", func(t *testing.T) {
			f := newSDKFixture(t, e) // bea's WebAuthn passkey verified her when it was bound
			f.beaAuth.Options.UserNotVerified = true
			assertInvalid(t, f.post(t, f.webauthnClaims(t, sdkOrigin, f.proofClaims(f.start(t), f.bea))), "raw", signInRefusal)

			cy := str(t, newIdentity(t, c, f.realm, "cy"), "id")
			b := newBinding(t, c, f.realm, cy, f.config)
			cyAuth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserNotVerified: true})
			assertInvalid(t, bindAsking(t, c, b, sdkOrigin, "required", cyAuth, newCredential(t)), "raw", bindRefusal)

			setUserVerification(t, c, f.realm, f.config, "preferred")
			if resp := bindAsking(t, c, b, sdkOrigin, "preferred", cyAuth, newCredential(t)); resp.Status != http.StatusOK {
				t.Fatalf("SDK bind without UV under preferred: %d %s", resp.Status, resp.Body)
			}
			f.allowed(t, f.post(t, f.webauthnClaims(t, sdkOrigin, f.proofClaims(f.start(t), f.bea))), "bea")
		})

		t.Run("config", func(t *testing.T) {
			realm := newRealm(t, c, "UV config")
			base := "/realms/" + realm + "/authenticator-configs"
			for _, uv := range []any{"discouraged", "Required", 1} {
				resp := c.do(t, "POST", base, map[string]any{"authenticator_config": map[string]any{"display_name": "X",
					"config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}, "user_verification": uv}}})
				if uv == 1 {
					assertInvalid(t, resp, "authenticator_config.config.user_verification", "")
					continue
				}
				assertInvalid(t, resp, "authenticator_config.config.user_verification", `must be "required" or "preferred"`)
			}
			ada := str(t, newIdentity(t, c, realm, "ada"), "id")
			resp := c.do(t, "POST", "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs", map[string]any{"job": map[string]any{
				"delivery_method": "RETURN", "authenticator_config": map[string]any{"config": map[string]any{
					"type": "embedded", "invoke_url": sdkOrigin, "trusted_origins": []string{sdkOrigin}, "user_verification": "maybe"}}}})
			assertInvalid(t, resp, "job.authenticator_config.config.user_verification", `must be "required" or "preferred"`)
		})
	})
}

// TestHostedPageWithoutUserVerification: in Chromium, with an
// authenticator that cannot verify its user (a security key without a
// PIN), the hosted binding page makes no passkey under a config that
// requires user verification, the default: the page asks for it; once the
// config says "preferred" the passkey binds. (Chromium offers discoverable
// passkeys, which the sign-in page asks for, only with user verification:
// the sign-in of such a passkey is tested without a browser above.)
func TestHostedPageWithoutUserVerification(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticatorWithoutUV(t, ctx)
		realm := newRealm(t, c, "Keys")
		config := hostedConfig(t, c, realm)
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		b := newBinding(t, c, realm, ada, config)

		if err := chromedp.Do(ctx, chromedp.Navigate(b.link), chromedp.Click(chromedp.ID("create"))); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("status").className === "error"`, 30*time.Second); !ok {
			t.Fatalf("the page did not fail; it says %q", page)
		}
		if s := b.state(t, c); s == "COMPLETE" {
			t.Fatalf("job %s after binding without user verification", s)
		}
		setUserVerification(t, c, realm, config, "preferred")
		bindOnHostedPage(t, ctx, b.link)
		creds := c.list(t, "/realms/"+realm+"/identities/"+ada+"/credentials")
		if num(t, creds, "total_size") != 1 {
			t.Errorf("credentials after the bind under preferred: %v", creds)
		}
	})
}
