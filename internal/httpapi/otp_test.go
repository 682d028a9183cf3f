package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/testenv"
)

// codeConfig creates a hosted-web authenticator config that offers passkeys
// and e-mail codes (to sign in and to create a passkey) and returns its id.
func codeConfig(t testing.TB, c client, realm string) string {
	t.Helper()
	a := c.post(t, "/realms/"+realm+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
		"display_name": "Hosted with codes", "config": map[string]any{"type": "hosted_web", "authentication_methods": []any{
			map[string]any{"type": "webauthn_passkey"}, map[string]any{"type": "email_one_time_password"}}},
	}})
	return str(t, a, "id")
}

var mailedCode = regexp.MustCompile(`\b\d{6}\b`)

// askForCode opens the app's sign-in, asks the hosted page for a code for
// address, and returns what the page then says.
func askForCode(t *testing.T, ctx context.Context, rp *relyingParty, address string, query ...string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login"+queryString(query...))); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("otp-start") !== null`, 10*time.Second); !ok {
		t.Fatalf("the sign-in page offers no e-mail code; it shows %q", page)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("otp-start")), chromedp.SendKeys(chromedp.ID("otp-email"), address),
		chromedp.Click(chromedp.ID("otp-send"))); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, `!document.getElementById("otp-verify").hidden || document.getElementById("otp-status").className === "error"`, 30*time.Second); !ok {
		t.Fatalf("no code was asked for; the page shows %q", page)
	}
	said, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("otp-status")))
	if err != nil {
		t.Fatal(err)
	}
	return said
}

// enterCode types the code and presses button (otp-signin, otp-enroll);
// it returns the relying party's outcome.
func enterCode(t *testing.T, ctx context.Context, rp *relyingParty, code, button string) outcome {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("otp-code"), code), chromedp.Click(chromedp.ID(button))); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-rp.outcomes:
		return rp.loaded(t, ctx, o)
	case <-time.After(60 * time.Second):
		_, page := browsertest.WaitFor(ctx, "false", 0)
		t.Fatalf("the app heard nothing back; the page says %q", page)
	}
	return outcome{}
}

// TestSignInByEmailCode: on the hosted sign-in page of an application
// whose config offers e-mail codes, in Chromium, with the code read from a
// real SMTP capture, a real OIDC relying party (go-oidc, x/oauth2):
// an unknown address is answered like a known one and gets no e-mail; a
// code signs ada in (amr otp, the e-mail code's acr); in a browser with no
// session and no passkey, a code recovers her: it creates a passkey on
// this device, which signs in at once and again later.
func TestSignInByEmailCode(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, n, capture := mailNode(t, eng.Name, testenv.SMTPConfig{})
			realm := newRealm(t, c, "Pets")
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			ln, base := testenv.Listen(t)
			callback := base + "/callback"
			app, clientID, secret := sdkApp(t, c, realm, codeConfig(t, c, realm), callback)
			issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app
			rp := startRelyingParty(t, ln, issuer, clientID, secret, http.DefaultClient)
			c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
				map[string]any{"effect": "allow", "applications": []string{app}, "identities": []string{ada}}}})

			// Sign in by code.
			ctx := browsertest.Start(t)
			unknown := askForCode(t, ctx, rp, "nobody@example.com")
			known := askForCode(t, ctx, rp, "ada@example.com")
			if unknown != known || known == "" {
				t.Errorf("the page told an unknown address %q, a known one %q", unknown, known)
			}
			mails := capture.Wait(t, 1)
			code := mailedCode.FindString(mails[0].Text)
			if len(mails) != 1 || mails[0].To[0] != "ada@example.com" || code == "" {
				t.Fatalf("e-mails %+v, want one code to ada only", mails)
			}
			o := enterCode(t, ctx, rp, code, "otp-signin")
			if o.err != "" {
				t.Fatalf("sign-in by code: %s", o.err)
			}
			if o.idToken.Subject != "ada" || o.claims["acr"] != oauth.EmailCodeACR || !slices.Equal(anyStrings(o.claims["amr"]), oauth.EmailCodeAMR) {
				t.Errorf("ID token of a sign-in by code: %v", o.claims)
			}

			// Recover by code in a browser with no session and no passkey:
			// the code creates a passkey on this device, which signs in.
			ctx = browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)
			askForCode(t, ctx, rp, "ADA@example.com")
			mails = capture.Wait(t, 2)
			o = enterCode(t, ctx, rp, mailedCode.FindString(mails[1].Text), "otp-enroll")
			if o.err != "" {
				t.Fatalf("sign-in with the passkey made by code: %s", o.err)
			}
			if o.idToken.Subject != "ada" || o.claims["acr"] != oauth.PasskeyACR || !slices.Contains(anyStrings(o.claims["amr"]), "pop") {
				t.Errorf("ID token of the sign-in with the new passkey: %v", o.claims)
			}
			creds := items(t, c.list(t, "/realms/"+realm+"/identities/"+ada+"/credentials"), "credentials")
			if len(creds) != 1 || creds[0]["state"] != "ACTIVE" || creds[0]["csr_type"] != "WEBAUTHN" {
				t.Fatalf("ada's credentials after recovery: %v", creds)
			}
			jobs := items(t, c.list(t, "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs"), "credential_binding_jobs")
			if len(jobs) != 1 || jobs[0]["state"] != "COMPLETE" || jobs[0]["credential_id"] != creds[0]["id"] {
				t.Errorf("the self-service job: %v", jobs)
			}
			// And later, with the passkey alone.
			if o := rp.signInThrough(t, ctx, "prompt", "login"); o.err != "" || o.idToken.Subject != "ada" {
				t.Fatalf("a later sign-in with the passkey: %+v", o)
			}
		})
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// TestEmailCodeEndpointsRefuse: the hosted page's code endpoints answer bad
// input with the API's 4xx errors: no pending sign-in, a malformed body or
// address, an application whose config offers no codes, wrong and
// malformed codes, and requests past the address's limit.
func TestEmailCodeEndpointsRefuse(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, n, _ := mailNode(t, eng.Name, testenv.SMTPConfig{})
			realm := newRealm(t, c, "Pets")
			newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com")
			issuerOf := func(config string) string {
				app, clientID, _ := sdkApp(t, c, realm, config, "https://app.example.com/callback")
				return n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app + "?" + clientID
			}
			withCodes, without := issuerOf(codeConfig(t, c, realm)), issuerOf(hostedConfig(t, c, realm))
			pending := func(issuer string) (string, string) {
				base, clientID, _ := strings.Cut(issuer, "?")
				q := url.Values{"client_id": {clientID}, "redirect_uri": {"https://app.example.com/callback"}, "response_type": {"code"},
					"scope": {"openid"}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(sdkVerifier)}, "code_challenge_method": {"S256"}}
				page := sendWith(t, noRedirects, "GET", base+"/authorize?"+q.Encode(), nil, nil)
				m := signinRequest.FindSubmatch(page.Body)
				var req struct {
					ID  string         `json:"id"`
					OTP map[string]any `json:"otp"`
				}
				if m == nil || json.Unmarshal(m[1], &req) != nil {
					t.Fatalf("authorize: %d %s", page.Status, page.Body)
				}
				if (req.OTP != nil) != (issuer == withCodes) || (req.OTP != nil && req.OTP["url"] != strings.TrimPrefix(base, n.URL)+"/otp") {
					t.Errorf("the page offers codes %v", req.OTP)
				}
				return base, req.ID
			}
			post := func(url, body string) testenv.Response {
				return send(t, "POST", url, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
			}
			base, id := pending(withCodes)
			for _, tc := range []struct {
				path, body string
				status     int
			}{
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"`, http.StatusBadRequest},
				{"/otp", `{"request":"nope","email":"ada@example.com"}`, http.StatusBadRequest},
				{"/otp", `{"request":"` + id + `","email":"not an address"}`, http.StatusBadRequest},
				{"/otp/verify", `{"request":"` + id + `","email":"ada@example.com","code":"123456"}`, http.StatusGone}, // none asked for
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"}`, http.StatusOK},
				{"/otp/verify", `{"request":"` + id + `","email":"ada@example.com","code":"12345x"}`, http.StatusBadRequest},
				{"/otp/verify", `{"request":"` + id + `","email":"ada@example.com","code":"` + strings.Repeat("9", 6) + `"}`, http.StatusUnauthorized},
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"}`, http.StatusOK},
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"}`, http.StatusOK},
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"}`, http.StatusOK},
				{"/otp", `{"request":"` + id + `","email":"ada@example.com"}`, http.StatusOK},
				{"/otp", `{"request":"` + id + `","email":"ADA@example.com"}`, http.StatusTooManyRequests},
			} {
				resp := post(base+tc.path, tc.body)
				if resp.Status != tc.status || (resp.Status >= 400 && resp.JSON(t)["message"] == "") {
					t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, resp.Status, resp.Body, tc.status)
				}
			}
			base, id = pending(without)
			if resp := post(base+"/otp", `{"request":"`+id+`","email":"ada@example.com"}`); resp.Status != http.StatusForbidden {
				t.Errorf("a code from an application that offers none: %d %s", resp.Status, resp.Body)
			}
		})
	}
}
