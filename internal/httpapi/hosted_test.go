package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
)

// openSignInPage opens the app's /login (with the authorization request's
// extra parameters in query) and waits for the hosted sign-in page.
func (rp *relyingParty) openSignInPage(t *testing.T, ctx context.Context, query ...string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login"+queryString(query...))); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 10*time.Second); !ok {
		t.Fatalf("no sign-in page; the browser shows %q", page)
	}
}

// outcome waits for what the app heard back.
func (rp *relyingParty) outcome(t *testing.T, ctx context.Context) outcome {
	t.Helper()
	select {
	case o := <-rp.outcomes:
		return rp.loaded(t, ctx, o)
	case <-time.After(30 * time.Second):
		_, page := browsertest.WaitFor(ctx, "false", 0)
		t.Fatalf("the app heard nothing back; the page says %q", page)
	}
	return outcome{}
}

// loaded waits until the tab has loaded the app's answer to its callback,
// which the app sends just after it hands o to the test, and returns o: a
// navigation the test starts before would race the callback's, and
// Chromium may abort it.
func (rp *relyingParty) loaded(t *testing.T, ctx context.Context, o outcome) outcome {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, `location.href.startsWith("`+rp.URL+`/callback") && document.readyState === "complete"`, 15*time.Second); !ok {
		t.Fatalf("the tab did not load the app's callback; it shows %q", page)
	}
	return o
}

// backFromRefusal waits for the refusal page of the reason kind, checks
// what it tells, and presses its button back to the application; it
// returns what the application heard.
func (rp *relyingParty) backFromRefusal(t *testing.T, ctx context.Context, kind, application, supportURL string) outcome {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("refused") !== null && document.getElementById("refused").dataset.kind === "`+kind+`"`, 30*time.Second); !ok {
		t.Fatalf("no refusal page for %s; the browser shows %q", kind, page)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	support, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("support") ? document.getElementById("support").href : ""`))
	if err != nil {
		t.Fatal(err)
	}
	for _, internal := range []string{"rule", "policy", "default is deny"} {
		if strings.Contains(text, internal) {
			t.Errorf("the refusal page (%s) tells policy internals (%q): %q", kind, internal, text)
		}
	}
	if !strings.Contains(text, application) || !strings.Contains(text, "Back to "+application) {
		t.Errorf("the refusal page (%s) does not name the application %q: %q", kind, application, text)
	}
	if support != supportURL {
		t.Errorf("the refusal page (%s) links support at %q, want %q", kind, support, supportURL)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("back"))); err != nil {
		t.Fatal(err)
	}
	return rp.outcome(t, ctx)
}

// TestPasskeyAutofill: the hosted sign-in page offers the browser's
// passkeys in the username field's autofill (conditional mediation); with
// Chromium's virtual authenticator, whose discoverable passkey it picks
// by itself, the sign-in finishes without the button. The button still
// signs in while the autofill request waits (it aborts it first).
func TestPasskeyAutofill(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx, realm, ada := adaWithPasskey(t, c, "Pets")
		rp, app := startOIDCApp(t, n, c.tenant, realm)
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "allow", "applications": []string{app}, "identities": []string{ada}}}})

		rp.openSignInPage(t, ctx, "prompt", "login")
		autocomplete, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("username").autocomplete`))
		if err != nil || autocomplete != "username webauthn" {
			t.Errorf("the username field's autocomplete is %q (%v), want username webauthn", autocomplete, err)
		}
		if err := chromedp.Do(ctx); err != nil {
			t.Fatal(err)
		}
		signedIn(t, "autofill", rp.outcome(t, ctx), ada)
	})
}

// TestRefusalPages: every refusal of a sign-in on the hosted page shows a
// page of the realm's theme that names the application, tells the reason
// in words (never the policy's rules), links the realm's support, and
// whose button takes error=access_denied with the state back to the app:
// a passkey not registered in the realm, policy, a suspended identity, a
// revoked passkey. The sign-in log still has the reasons.
func TestRefusalPages(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticator(t, ctx)
		const support = "https://help.example.com/"
		realm, other := newRealm(t, c, "Pets"), newRealm(t, c, "Other")
		for _, r := range []string{realm, other} {
			c.post(t, "/realms/"+r+"/themes", map[string]any{"theme": map[string]any{"email_realm_name": "Acme", "support_url": support}})
		}
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
		rp, app := startOIDCApp(t, n, c.tenant, realm)
		elsewhere, otherApp := startOIDCApp(t, n, c.tenant, other)
		allow := func(r string) { // everyone, every application
			c.ok(t, "PUT", "/realms/"+r+"/policy", map[string]any{"default_effect": "allow", "rules": []any{}})
		}
		allow(other)
		wantDenied := func(what string, o outcome, description string) {
			t.Helper()
			if o.err != "access_denied: "+description {
				t.Errorf("%s: the app heard %+v, want access_denied: %s", what, o, description)
			}
		}

		// ada's passkey is not one of the other realm's.
		elsewhere.pressSignIn(t, ctx)
		wantDenied("a passkey of another realm", elsewhere.backFromRefusal(t, ctx, "no_passkey", "Pet App", support), "This passkey is not registered here")
		assertDeniedSignIn(t, c, other, otherApp, "no passkey on this device is registered here")

		// No rule lets ada in (and the denied sign-in starts her session: the
		// next visit is refused without a ceremony, on the same page).
		rp.pressSignIn(t, ctx)
		wantDenied("policy", rp.backFromRefusal(t, ctx, "denied", "Pet App", support), oauth.DeniedDescription)
		if err := chromedp.Do(ctx, chromedp.Navigate(rp.URL+"/login")); err != nil {
			t.Fatal(err)
		}
		wantDenied("policy, with the session", rp.backFromRefusal(t, ctx, "denied", "Pet App", support), oauth.DeniedDescription)
		assertDeniedSignIn(t, c, realm, app, "no rule matches")
		allow(realm)

		c.patch(t, "/realms/"+realm+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "suspended"}})
		rp.pressSignIn(t, ctx)
		wantDenied("suspended", rp.backFromRefusal(t, ctx, "suspended", "Pet App", support), "Your account is suspended")
		c.patch(t, "/realms/"+realm+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "active"}})
		signedIn(t, "reactivated", rp.signInThrough(t, ctx, "prompt", "login"), ada)

		creds := c.list(t, "/realms/"+realm+"/identities/"+ada+"/credentials")
		c.post(t, "/realms/"+realm+"/identities/"+ada+"/credentials/"+str(t, items(t, creds, "credentials")[0], "id")+":revoke", map[string]any{})
		rp.pressSignIn(t, ctx)
		wantDenied("revoked", rp.backFromRefusal(t, ctx, "revoked", "Pet App", support), "This passkey was revoked")

		// A refusal page's address cannot be made up.
		resp := c.withToken("").do(t, "GET", "/realms/"+realm+"/applications/"+app+"/refused?r=bm90IHNlYWxlZA", nil)
		if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "not valid") {
			t.Errorf("a forged refusal page: %d %s", resp.Status, resp.Body)
		}
	})
}

// activePasskeys returns the ids of an identity's ACTIVE credentials.
func activePasskeys(t *testing.T, c client, realm, identity string) []string {
	t.Helper()
	var ids []string
	for _, cred := range items(t, c.list(t, "/realms/"+realm+"/identities/"+identity+"/credentials"), "credentials") {
		if cred["state"] == "ACTIVE" {
			ids = append(ids, str(t, cred, "id"))
		}
	}
	return ids
}

// waitFor fails the test unless the page's predicate comes true.
func waitFor(t *testing.T, ctx context.Context, what, predicate string) {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, predicate, 30*time.Second); !ok {
		t.Fatalf("%s: the browser shows %q", what, page)
	}
}

func click(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(id))); err != nil {
		t.Fatal(err)
	}
}

// TestPasskeyOnThisDevice: after a sign-in with a phone's passkey (a
// virtual authenticator over hybrid transport), the hosted page offers a
// passkey on this device (the tab's platform authenticator). "Not now"
// signs in, and the offer does not come again (its cookie lasts 30 days);
// without the cookie it comes again, and "Create" registers a passkey of
// this device for the signed-in identity before signing in.
func TestPasskeyOnThisDevice(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddHybridAuthenticator(t, ctx) // the phone, alone while ada binds her passkey on it
		realm := newRealm(t, c, "Pets")
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
		browsertest.AddAuthenticator(t, ctx) // this device, without a passkey
		rp, app := startOIDCApp(t, n, c.tenant, realm)
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "allow", "applications": []string{app}, "identities": []string{ada}}}})
		offered := `document.getElementById("offer") !== null && !document.getElementById("offer").hidden`

		rp.pressSignIn(t, ctx)
		waitFor(t, ctx, "no offer of a passkey on this device", offered)
		click(t, ctx, "offer-skip")
		signedIn(t, "after Not now", rp.outcome(t, ctx), ada)
		signedIn(t, "the next sign-in, not offered again", rp.signInThrough(t, ctx, "prompt", "login"), ada)

		_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (struct{}, error) {
			_, err := cdp.Call(ctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: "latchkey_passkey_offer",
				URL: n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/"})
			return struct{}{}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		rp.pressSignIn(t, ctx, "prompt", "login")
		waitFor(t, ctx, "no offer without its cookie", offered)
		click(t, ctx, "offer-create")
		signedIn(t, "after creating the passkey", rp.outcome(t, ctx), ada)
		if got := activePasskeys(t, c, realm, ada); len(got) != 2 {
			t.Errorf("ada's passkeys after the offer: %v, want the phone's and this device's", got)
		}
	})
}

// TestAccountPage: the realm's account page signs in with a passkey (no
// session yet), lists the identity's passkeys (kind, synced or not,
// created, the one signed in with), adds one on this device, revokes one,
// and revokes the last only once confirmed, which ends the session. It
// refuses another identity's passkey and a post without the CSRF token.
func TestAccountPage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx := browsertest.Start(t)
		browsertest.AddHybridAuthenticator(t, ctx)
		realm := newRealm(t, c, "Pets")
		c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"email_realm_name": "Acme"}})
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
		browsertest.AddAuthenticator(t, ctx)
		bea := str(t, newIdentity(t, c, realm, "bea"), "id")
		now := time.Now()
		beas := passkey.Credential{ID: latchkey.NewID(), IdentityID: bea, RealmID: realm, TenantID: c.tenant, State: passkey.Active,
			CSRType: passkey.CSRJWT, JWKJSON: "{}", JWKThumbprint: "bea's key", CreateTime: now, UpdateTime: now}
		if err := n.Store.CreateCredential(t.Context(), beas); err != nil {
			t.Fatal(err)
		}
		account := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/account"
		passkeys := func() string {
			t.Helper()
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkeys")))
			if err != nil {
				t.Fatal(err)
			}
			return text
		}
		count := `document.querySelectorAll("#passkeys li[data-id]").length`

		if err := chromedp.Do(ctx, chromedp.Navigate(account)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "no sign-in on the account page", `document.getElementById("signin") !== null`)
		click(t, ctx, "signin")
		waitFor(t, ctx, "no passkeys after signing in", count+` === 1`)
		if text := passkeys(); !strings.Contains(text, "Passkey") || !strings.Contains(text, "On one device") ||
			!strings.Contains(text, "Created "+time.Now().UTC().Format("2 January 2006")) || !strings.Contains(text, "you signed in with it") ||
			!strings.Contains(text, ", last used "+time.Now().UTC().Format("2 January 2006")) {
			t.Errorf("the passkey as listed: %q", text)
		}

		signIns := func(action string) []map[string]any {
			t.Helper()
			return c.listAll(t, "/realms/"+realm+"/events", "events", "filter", `action eq "`+action+`" and identity_id eq "`+ada+`"`)
		}
		if got := signIns("sign_in.allowed"); len(got) != 1 || got[0]["resource_type"] != "Account" || got[0]["credential_id"] == "" {
			t.Errorf("the account page's sign-in as the events list it: %v", got)
		}

		click(t, ctx, "add")
		waitFor(t, ctx, "no second passkey", count+` === 2 && document.getElementById("notice") !== null`)
		if got := activePasskeys(t, c, realm, ada); len(got) != 2 {
			t.Errorf("ada's passkeys: %v", got)
		}

		// Another identity's passkey, and a post without the CSRF token.
		post := func(credential, action, csrf string) int {
			t.Helper()
			status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(async () => {
				const form = new URLSearchParams({csrf: `+strconv.Quote(csrf)+`, name: "Taken over"});
				const res = await fetch(location.pathname + "/passkeys/`+credential+`/`+action+`", {method: "POST", body: form});
				return res.status; })()`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return status
		}
		csrf, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=csrf]").value`))
		if err != nil {
			t.Fatal(err)
		}
		for _, action := range []string{"revoke", "rename"} {
			if status := post(beas.ID, action, csrf); status != http.StatusNotFound {
				t.Errorf("%s bea's passkey as ada: %d, want 404", action, status)
			}
			if status := post(activePasskeys(t, c, realm, ada)[0], action, "forged"); status != http.StatusForbidden {
				t.Errorf("%s without the CSRF token: %d, want 403", action, status)
			}
		}
		if got := activePasskeys(t, c, realm, bea); len(got) != 1 {
			t.Errorf("bea's passkeys after ada's attempt: %v", got)
		}
		if name := c.get(t, "/realms/"+realm+"/identities/"+bea+"/credentials/"+beas.ID)["display_name"]; name != "" {
			t.Errorf("bea's passkey is named %q after ada's attempt", name)
		}

		// Rename the passkey signed in with through its form; a name too
		// long is refused on the page and changes nothing.
		rename := func(name string) {
			t.Helper()
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
				const li = [...document.querySelectorAll("#passkeys li[data-id]")].find(li => li.textContent.includes("you signed in with it"));
				const form = li.querySelector("form.rename");
				form.elements["name"].removeAttribute("maxlength");
				form.elements["name"].value = `+strconv.Quote(name)+`;
				form.submit();
				return true; })()`)); err != nil {
				t.Fatal(err)
			}
		}
		signedInWith, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#passkeys li[data-id]")]
			.find(li => li.textContent.includes("you signed in with it")).dataset.id`))
		if err != nil {
			t.Fatal(err)
		}
		rename("Ada's laptop")
		waitFor(t, ctx, "no rename", `document.getElementById("notice") !== null && document.getElementById("notice").textContent.includes("renamed")`)
		if text := passkeys(); !strings.Contains(text, "Ada's laptop") {
			t.Errorf("the renamed passkey as listed: %q", text)
		}
		credPath := "/realms/" + realm + "/identities/" + ada + "/credentials/" + signedInWith
		if name := c.get(t, credPath)["display_name"]; name != "Ada's laptop" {
			t.Errorf("the API's display_name after the rename: %v", name)
		}
		rename(strings.Repeat("x", passkey.MaxCredentialName+1))
		waitFor(t, ctx, "no refusal of a long name", `document.getElementById("error") !== null`)
		if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error"))); !strings.Contains(text, "longer than") {
			t.Errorf("the refusal of a long name says %q", text)
		}
		if name := c.get(t, credPath)["display_name"]; name != "Ada's laptop" {
			t.Errorf("the API's display_name after a refused rename: %v", name)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(account)); err != nil {
			t.Fatal(err)
		}

		// The session's cookie is of its realm only: carried to another
		// realm's account (by a program; a browser would not send it) it
		// signs nothing in, even with the right token.
		other := newRealm(t, c, "Other")
		cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{account}})
			return res.Cookies, err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			realm string
			want  int
		}{{other, http.StatusUnauthorized}, {realm, http.StatusOK}} {
			req, _ := http.NewRequest("POST", n.URL+"/v1/tenants/"+c.tenant+"/realms/"+r.realm+"/account/passkeys", nil)
			for _, ck := range cookies {
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			}
			req.Header.Set("X-CSRF-Token", csrf)
			resp, err := n.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != r.want {
				t.Errorf("adding a passkey in realm %s with the session of %s: %d, want %d", r.realm, realm, resp.StatusCode, r.want)
			}
		}

		// Revoke this device's passkey, then the last one (confirmed).
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("#passkeys li[data-id]")]
			.find(li => !li.textContent.includes("you signed in with it")).querySelector("button.revoke").click() || true`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "no revocation", count+` === 1 && document.getElementById("notice") !== null && document.getElementById("notice").textContent.includes("revoked")`)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#passkeys button.revoke").click() || true`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "no warning before revoking the last passkey", `document.getElementById("confirm-last") !== null`)
		if got := activePasskeys(t, c, realm, ada); len(got) != 1 {
			t.Errorf("the last passkey was revoked unconfirmed: %v", got)
		}
		if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("confirm-last"))); !strings.Contains(text, "cannot sign in") {
			t.Errorf("the warning says %q", text)
		}
		click(t, ctx, "confirm")
		// Revoking the passkey that signed in ends the session: the page asks to sign in.
		waitFor(t, ctx, "still signed in after revoking the last passkey", `document.getElementById("signin") !== null`)
		if got := activePasskeys(t, c, realm, ada); len(got) != 0 {
			t.Errorf("ada's passkeys after revoking the last: %v", got)
		}
		// Signing in again with the revoked passkey is refused, and the log says why.
		click(t, ctx, "signin")
		waitFor(t, ctx, "no refusal of a revoked passkey", `document.getElementById("status").textContent.includes("revoked")`)
		if got := signIns("sign_in.denied"); len(got) != 1 || !strings.Contains(str(t, got[0], "reason"), "revoked") {
			t.Errorf("the refused sign-in as the events list it: %v", got)
		}
	})
}
