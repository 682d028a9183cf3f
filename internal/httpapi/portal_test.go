package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// startSSOSAMLApp is a samlsp app (HTTP-Redirect binding) registered as a
// generic_saml SSO config of the realm through the API, named name.
func startSSOSAMLApp(t *testing.T, n *testenv.Node, c client, realm, name string) *samlApp {
	t.Helper()
	ln, base := testenv.Listen(t)
	key, cert, certPEM := spKeyPair(t)
	cfg := c.post(t, "/realms/"+realm+"/sso-configs", ssoConfigBody(name, map[string]any{"type": "saml",
		"acs_url": base + "/saml/acs", "audience_url": base + "/saml/metadata", "sign_envelope": true, "sign_assertions": true,
		"subject_user_name_attribute": "email", "sp_signature_certificates": []any{map[string]any{"sp_public_signing_key": certPEM}},
		"validate_signed_requests": true}))
	app := &samlApp{URL: base, configID: str(t, cfg, "id")}
	app.path = saml.Path(c.tenant, realm, app.configID)
	app.serve(t, n, ln, key, cert, crewsaml.HTTPRedirectBinding)
	return app
}

// portalRealm starts a node of the engine and a browser, and a realm
// (themed "Acme") where ada, of the group Staff, binds a passkey of this
// device on the hosted page.
func portalRealm(t *testing.T, engine string) (n *testenv.Node, c client, ctx context.Context, realm, ada, staff string) {
	t.Helper()
	n = testenv.StartNode(t, engine, func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	c = client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
	ctx = browsertest.Start(t)
	browsertest.AddAuthenticator(t, ctx)
	browsertest.WithoutAutofill(t, ctx)
	realm = newRealm(t, c, "Pets")
	c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"email_realm_name": "Acme"}})
	ada = str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
	staff = newGroup(t, c, realm, "Staff")
	c.ok(t, "POST", "/realms/"+realm+"/groups/"+staff+":addMembers", map[string]any{"identity_ids": []string{ada}})
	bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
	return n, c, ctx, realm, ada, staff
}

// getPage fetches path from the node as a program would, with cookie
// (name=value, or "") and extra headers (name, value, …).
func getPage(t *testing.T, n *testenv.Node, method, path, cookie, body string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, n.URL+path, strings.NewReader(body))
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := n.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAppPortal: a realm's app portal signs in with a passkey, then shows
// the tiles of the configs assigned to the identity directly or through a
// group, by name, not hidden ones nor others'; the SAML tile signs in to a
// real service provider (samlsp) IdP-initiated without a new ceremony.
// The session serves its own realm only; hostile requests get 4xx.
func TestAppPortal(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n, c, ctx, realm, ada, staff := portalRealm(t, eng.Name)
			bea := str(t, newIdentity(t, c, realm, "bea"), "id")
			bookmark := func(name string, extra ...any) string {
				p := map[string]any{"type": "bookmark", "login_link": "https://" + strings.ToLower(name) + ".example/"}
				for i := 0; i+1 < len(extra); i += 2 {
					p[extra[i].(string)] = extra[i+1]
				}
				return str(t, c.post(t, "/realms/"+realm+"/sso-configs", ssoConfigBody(name, p)), "id")
			}
			assign := func(id, kind, field string, ids ...string) {
				if resp := c.do(t, "POST", "/realms/"+realm+"/sso-configs/"+id+":add"+kind, map[string]any{field: ids}); resp.Status != http.StatusOK {
					t.Fatalf(":add%s: %d %s", kind, resp.Status, resp.Body)
				}
			}
			wiki, hidden, beas := bookmark("Wiki", "icon", "https://wiki.example/icon.png"), bookmark("Hidden", "is_tile_visible", false), bookmark("Beas")
			hr := startSSOSAMLApp(t, n, c, realm, "HR")
			assign(wiki, "Identities", "identity_ids", ada)
			assign(hidden, "Identities", "identity_ids", ada)
			assign(beas, "Identities", "identity_ids", bea)
			assign(hr.configID, "Groups", "group_ids", staff)

			portal := "/v1/tenants/" + c.tenant + "/realms/" + realm + "/portal"
			if err := chromedp.Do(ctx, chromedp.Navigate(n.URL+portal)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "no sign-in on the portal", `document.getElementById("signin") !== null`)
			click(t, ctx, "signin")
			waitFor(t, ctx, "no tiles after signing in", `document.getElementById("tiles") !== null`)
			tiles, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#tiles a")].map(a => a.dataset.id + " " + a.querySelector(".name").textContent + " " + a.getAttribute("href"))`))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{hr.configID + " HR " + hr.path + "/idp-initiated", wiki + " Wiki https://wiki.example/"}
			if strings.Join(tiles, "\n") != strings.Join(want, "\n") {
				t.Errorf("tiles:\n%s\nwant\n%s", strings.Join(tiles, "\n"), strings.Join(want, "\n"))
			}
			if who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who"))); !strings.Contains(who, "Acme") || !strings.Contains(who, "ada") {
				t.Errorf("the portal says %q", who)
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#tiles a[data-id="`+hr.configID+`"]').click() || true`)); err != nil {
				t.Fatal(err)
			}
			if got := hello(t, ctx, "the HR tile"); !strings.HasPrefix(got, "hello ada@example.com") {
				t.Errorf("the SP says %q", got)
			}

			// The browser's cookie, carried by a program: the portal of its
			// realm shows the tiles; of another realm, a sign-in; of
			// another tenant, nothing.
			cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
				res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{n.URL + portal}})
				return res.Cookies, err
			})
			if err != nil {
				t.Fatal(err)
			}
			var cookie []string
			for _, ck := range cookies {
				cookie = append(cookie, ck.Name+"="+ck.Value)
			}
			other := newRealm(t, c, "Other")
			if status, body := getPage(t, n, "GET", portal, strings.Join(cookie, "; "), ""); status != http.StatusOK || !strings.Contains(body, `id="tiles"`) || !strings.Contains(body, "Wiki") {
				t.Errorf("the realm's portal with its cookie: %d", status)
			}
			if status, body := getPage(t, n, "GET", "/v1/tenants/"+c.tenant+"/realms/"+other+"/portal", strings.Join(cookie, "; "), ""); status != http.StatusOK ||
				!strings.Contains(body, `id="signin"`) || strings.Contains(body, "Wiki") {
				t.Errorf("another realm's portal with the cookie: %d", status)
			}
			for _, bad := range []struct {
				method, path, body string
				headers            []string
				want               int
			}{
				{"GET", "/v1/tenants/0001ffffffffffff/realms/" + realm + "/portal", "", nil, http.StatusNotFound},
				{"GET", "/v1/tenants/" + c.tenant + "/realms/ffffffffffffffff/portal", "", nil, http.StatusNotFound},
				{"POST", portal + "/signin", "{not json", []string{"Content-Type", "application/json"}, http.StatusBadRequest},
				{"POST", portal + "/signin", `{"request": "nope", "credential": {}}`, []string{"Content-Type", "application/json"}, http.StatusBadRequest},
				{"POST", portal + "/signin", `{}`, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, http.StatusForbidden},
			} {
				if status, body := getPage(t, n, bad.method, bad.path, "", bad.body, bad.headers...); status != bad.want {
					t.Errorf("%s %s %q: %d %s, want %d", bad.method, bad.path, bad.body, status, body, bad.want)
				}
			}
		})
	}
}
