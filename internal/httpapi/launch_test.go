package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestLaunchMechanisms: the realm's launch mechanisms, enforced where
// Latchkey serves the sign-in, each with its reason in words. In headless
// Chromium on Linux: no hosted flow on the web (embedded and roaming_auth
// off) refuses the OIDC hosted page (refusal page, access_denied back to
// the app), the SAML hosted page and the account page; web embedded off
// alone refuses this device's passkey (OIDC refusal page; the SAML page
// says why); on again, it signs in; roaming_auth off refuses a phone's
// passkey (hybrid transport). The embedded SDK's hand-over is
// refused when embedded is off on linux, and bi-authenticate when it is
// off on android (an Android app's request).
func TestLaunchMechanisms(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n, c, ctx, realm, ada, staff := portalRealm(t, eng.Name)
			flows := func(platform, flow string, enabled bool) {
				t.Helper()
				c.ok(t, "PATCH", "/realms/"+realm+"/flow-type-config", map[string]any{platform: map[string]any{flow: map[string]any{"enabled": enabled}}})
			}
			rp, petApp := startOIDCApp(t, n, c.tenant, realm)
			c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
				map[string]any{"effect": "allow", "applications": []string{petApp}, "identities": []string{ada}}}})
			hr := startSSOSAMLApp(t, n, c, realm, "HR")
			if resp := c.do(t, "POST", "/realms/"+realm+"/sso-configs/"+hr.configID+":addGroups", map[string]any{"group_ids": []string{staff}}); resp.Status != http.StatusOK {
				t.Fatalf(":addGroups: %d %s", resp.Status, resp.Body)
			}
			pageSays := func(what, text string) {
				t.Helper()
				if ok, page := browsertest.WaitFor(ctx, `document.body && document.body.innerText.includes(`+strconv.Quote(text)+`)`, 15e9); !ok {
					t.Errorf("%s: the page does not say %q; it shows %q", what, text, page)
				}
			}

			flows("web", "embedded", false)
			flows("web", "roaming_auth", false)
			browsertest.WithoutAutofill(t, ctx)
			if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login")); err != nil {
				t.Fatal(err)
			}
			refused(t, "no hosted flow on the web", rp.backFromRefusal(t, ctx, "launch_web", "Pet App", ""), "access_denied")
			// (The SP's redirect to the refused page aborts the navigation.)
			chromedp.Do(ctx, chromedp.Navigate(hr.URL+"/hello"))
			pageSays("the SAML hosted page", "sign in from a web browser")
			if status, body := getPage(t, n, "GET", "/v1/tenants/"+c.tenant+"/realms/"+realm+"/account", "", ""); status != http.StatusForbidden ||
				!strings.Contains(body, "sign in from a web browser") {
				t.Errorf("the account page: %d", status)
			}

			flows("web", "roaming_auth", true)
			rp.openSignInPage(t, ctx)
			click(t, ctx, "signin")
			refused(t, "this device's passkey", rp.backFromRefusal(t, ctx, "launch_device", "Pet App", ""), "access_denied")
			// (As above, the SP's redirect may abort the navigation: the page is waited for.)
			chromedp.Do(ctx, chromedp.Navigate(hr.URL+"/hello"))
			signInOnHostedPage(t, ctx)
			pageSays("this device's passkey on the SAML page", "passkey of this device")

			// The embedded SDK (no session yet): Chromium here says it runs on Linux.
			ln, base := testenv.Listen(t)
			callback := base + "/callback"
			appID, clientID, secret := sdkApp(t, c, realm, embeddedConfig(t, c, realm, "https://app.example"), callback)
			issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
			sdk := startRelyingParty(t, ln, issuer, clientID, secret, n.HTTP)
			flows("linux", "embedded", false)
			if err := chromedp.Do(ctx, chromedp.Navigate(sdk.URL+"/login")); err != nil {
				t.Fatal(err)
			}
			refused(t, "the SDK on linux", sdk.backFromRefusal(t, ctx, "launch_sdk", "Pet App", ""), "access_denied")

			flows("web", "embedded", true)
			rp.openSignInPage(t, ctx)
			click(t, ctx, "signin")
			signedIn(t, "this device's passkey allowed again", rp.outcome(t, ctx), ada)

			// A phone's passkey (hybrid: cross-platform) in another browser.
			phone := browsertest.Start(t)
			browsertest.AddHybridAuthenticator(t, phone)
			browsertest.WithoutAutofill(t, phone)
			bindOnHostedPage(t, phone, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
			flows("web", "roaming_auth", false)
			rp.openSignInPage(t, phone)
			click(t, phone, "signin")
			refused(t, "a phone's passkey", rp.backFromRefusal(t, phone, "launch_roaming", "Pet App", ""), "access_denied")

			flows("android", "embedded", false)
			android := "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A)"
			status, body := getPage(t, n, "POST", strings.TrimPrefix(issuer, n.URL)+"/bi-authenticate", "", url.Values{"claims": {"x.y.z"}}.Encode(),
				"Content-Type", "application/x-www-form-urlencoded", "User-Agent", android)
			if status != http.StatusOK || !strings.Contains(body, `"type":"deny"`) || !strings.Contains(body, "apps on this kind of device") {
				t.Errorf("bi-authenticate from Android: %d %s", status, body)
			}
			flows("android", "embedded", true)
			status, body = getPage(t, n, "POST", strings.TrimPrefix(issuer, n.URL)+"/bi-authenticate", "", url.Values{"claims": {"x.y.z"}}.Encode(),
				"Content-Type", "application/x-www-form-urlencoded", "User-Agent", android)
			if status != http.StatusBadRequest || strings.Contains(body, "deny") {
				t.Errorf("bi-authenticate from Android, allowed, with a bad proof: %d %s", status, body)
			}
		})
	}
}
