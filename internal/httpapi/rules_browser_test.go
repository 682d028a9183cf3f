package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestAuthenticatorRulesInBrowser: Chromium's virtual authenticator binds
// a passkey on the hosted page; once its config denies that authenticator,
// the hosted sign-in page and a new binding link refuse it, and the person
// reads why.
func TestAuthenticatorRulesInBrowser(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticator(t, ctx)

		realm := newRealm(t, c, "Rules")
		config := hostedConfig(t, c, realm)
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, config).link)
		cred := items(t, c.list(t, "/realms/"+realm+"/identities/"+ada+"/credentials"), "credentials")[0]
		aaguid := str(t, cred, "aaguid")
		if cred["backup_eligible"] != false || cred["authenticator_name"] != nil {
			t.Errorf("the virtual authenticator's passkey: %v", cred)
		}

		ln, base := testenv.Listen(t)
		callback := base + "/callback"
		app, clientID, secret := oidcClient(t, n, realm, callback)
		c.patch(t, "/realms/"+realm+"/applications/"+app, map[string]any{"application": map[string]any{"authenticator_config_id": config}})
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
		rp := startRelyingParty(t, ln, n.URL+"/v1/tenants/"+c.tenant+"/realms/"+realm+"/applications/"+app, clientID, secret, http.DefaultClient)
		if o := rp.signInThrough(t, ctx); o.err != "" {
			t.Fatalf("sign-in before the rule: %s", o.err)
		}

		c.patch(t, "/realms/"+realm+"/authenticator-configs/"+config, map[string]any{"authenticator_config": map[string]any{
			"config": map[string]any{"denied_aaguids": []string{aaguid}}}})
		why := "passkeys from an unknown provider (AAGUID " + aaguid + ") are not allowed here; use a passkey from another provider"
		quoted, _ := json.Marshal(why)
		shows := `document.getElementById("status").innerText.includes(` + string(quoted) + `)`

		// The sign-in page (a new one: prompt=login asks the passkey again).
		if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login?prompt=login")); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 30*time.Second); !ok {
			t.Fatalf("no sign-in page; the browser shows %q", page)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, shows, 30*time.Second); !ok {
			t.Fatalf("the sign-in page does not say why: %q", page)
		}
		select {
		case o := <-rp.outcomes:
			t.Fatalf("the app heard back from a refused sign-in: %+v", o)
		default:
		}

		// A binding link with the same config.
		bob := str(t, newIdentity(t, c, realm, "bob"), "id")
		b := newBinding(t, c, realm, bob, config)
		if err := chromedp.Do(ctx, chromedp.Navigate(b.link), chromedp.Click(chromedp.ID("create"))); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, shows, 30*time.Second); !ok {
			t.Fatalf("the binding page does not say why: %q", page)
		}
		if s := b.state(t, c); s == "COMPLETE" {
			t.Errorf("a refused passkey completed the job")
		}
	})
}
