package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/testenv"
)

// wsfedRPDir holds the npm project of passport-wsfed-saml2; .ci/run (or
// `npm ci --prefix internal/httpapi/testdata/wsfed-rp`) installs it.
const wsfedRPDir = "testdata/wsfed-rp"

// wsfedRealmID is the wtrealm of the tests' relying parties.
const wsfedRealmID = "urn:latchkey-test:wiki"

// wsfedPayload is a ws_fed config's payload for a relying party whose reply
// URL is reply: its tokens carry the UPN claim and the groups.
func wsfedPayload(reply string) map[string]any {
	return map[string]any{"type": "ws_fed", "acs_url": reply, "audience_url": wsfedRealmID, "expiration_time_seconds": 600,
		"name_format": "email_address", "subject_user_name_attribute": "email",
		"additional_user_attributes": []any{
			map[string]any{"name": "upn", "name_format": "unspecified", "value": "email", "namespace": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"},
			map[string]any{"name": "groups", "name_format": "basic", "value": "groups"}}}
}

// wsfedApp is testdata/wsfed-rp/rp.mjs, a web app on passport-wsfed-saml2,
// registered through the API as a ws_fed SSO config of the realm, its
// signing certificate taken from the config's federation metadata.
type wsfedApp struct {
	URL, configID, endpoint string
}

func startWSFedApp(t *testing.T, n *testenv.Node, c client, realm string) *wsfedApp {
	t.Helper()
	in, read := testenv.StartNodeJS(t, wsfedRPDir, "rp.mjs", "passport-wsfed-saml2")
	app := &wsfedApp{URL: read()["url"].(string)}
	made := c.ok(t, "POST", "/realms/"+realm+"/sso-configs", ssoConfigBody("Wiki", wsfedPayload(app.URL+"/wsfed")))
	app.configID = str(t, made, "id")
	payload := obj(t, made, "payload")
	app.endpoint = str(t, payload, "idp_sso_url")
	if want := n.URL + saml.WSFedPath(c.tenant, realm, app.configID); app.endpoint != want || str(t, payload, "metadata_url") != want+"/metadata" {
		t.Errorf("the config's endpoints: %v", payload)
	}
	md := wsfedMetadata(t, n, str(t, payload, "metadata_url"))
	cert := md.FindElement("./RoleDescriptor/KeyDescriptor/KeyInfo/X509Data/X509Certificate").Text()
	if got := md.FindElement("./RoleDescriptor/PassiveRequestorEndpoint/EndpointReference/Address").Text(); got != app.endpoint {
		t.Errorf("the metadata's passive requestor endpoint %s", got)
	}
	options, _ := json.Marshal(map[string]any{"identityProviderUrl": app.endpoint, "realm": wsfedRealmID, "cert": cert})
	if _, err := in.Write(append(options, '\n')); err != nil {
		t.Fatal(err)
	}
	if read()["ready"] != true {
		t.Fatal("rp.mjs is not ready")
	}
	return app
}

// wsfedMetadata reads federation metadata as a relying party's
// administrator downloads it.
func wsfedMetadata(t testing.TB, n *testenv.Node, u string) *etree.Element {
	t.Helper()
	resp, err := n.HTTP.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// pageText waits for the element id and returns its text.
func pageText(t *testing.T, ctx context.Context, id, what string) string {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("`+id+`") !== null`, 30*time.Second); !ok {
		t.Fatalf("%s: no #%s; the browser shows %q", what, id, page)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestWSFedWithPassport: a web app on passport-wsfed-saml2 (auth0's
// WS-Federation strategy) signs a user in through a ws_fed SSO config made
// with the API, with a passkey on the hosted page in Chromium: the
// strategy checks the token's signature against the certificate of the
// config's metadata, its audience, recipient, validity and the wctx it
// sent; a second sign-in uses the browser's session, a third gets a SAML
// 1.1 token once the config asks for one; wsignout1.0 ends the
// session and comes back to the reply URL; once the config's assignments
// no longer name ada, the app gets a fault, not a token.
func TestWSFedWithPassport(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx, realm, ada := adaWithPasskey(t, c, "Pets")
		browsertest.WithoutAutofill(t, ctx) // the test presses the hosted page's button
		app := startWSFedApp(t, n, c, realm)
		assign := "/realms/" + realm + "/sso-configs/" + app.configID
		if r := c.do(t, "POST", assign+":addIdentities", map[string]any{"identity_ids": []string{ada}}); r.Status != http.StatusOK {
			t.Fatalf("addIdentities: %d %s", r.Status, r.Body)
		}

		navigate(t, ctx, app.URL+"/login", "true")
		signInOnHostedPage(t, ctx)
		want := "hello ada@example.com ada@example.com Engineers"
		if got := pageText(t, ctx, "hello", "wsignin1.0"); got != want {
			t.Errorf("the app says %q, want %q", got, want)
		}
		navigate(t, ctx, app.URL+"/login", "true")
		if got := pageText(t, ctx, "hello", "wsignin1.0 with the session"); got != want {
			t.Errorf("with the session, the app says %q", got)
		}
		c.ok(t, "PATCH", assign, map[string]any{"sso_config": map[string]any{"type": "ws_fed", "token_type": "saml11"}})
		navigate(t, ctx, app.URL+"/login", "true")
		if got := pageText(t, ctx, "hello", "wsignin1.0 for a SAML 1.1 token"); got != want {
			t.Errorf("with a SAML 1.1 token, the app says %q", got)
		}

		navigate(t, ctx, app.endpoint+"?"+url.Values{"wa": {"wsignout1.0"}, "wreply": {app.URL + "/wsfed"}}.Encode(), "true")
		if got := pageText(t, ctx, "home", "wsignout1.0"); got != "signed out" {
			t.Errorf("after wsignout1.0 the app says %q", got)
		}
		if sessions := c.get(t, "/realms/"+realm+"/identities/"+ada+"/sessions"); len(sessions["sessions"].([]any)) != 0 {
			t.Errorf("sessions after wsignout1.0: %v", sessions)
		}

		if r := c.do(t, "POST", assign+":deleteIdentities", map[string]any{"identity_ids": []string{ada}}); r.Status != http.StatusOK {
			t.Fatalf("deleteIdentities: %d %s", r.Status, r.Body)
		}
		navigate(t, ctx, app.URL+"/login", "true")
		signInOnHostedPage(t, ctx)
		if got := pageText(t, ctx, "error", "wsignin1.0 the assignments deny"); !strings.Contains(got, "policy does not let") {
			t.Errorf("denied: the app says %q", got)
		}
	})
}

// TestWSFedBadRequests: what the WS-Federation endpoints refuse, over
// HTTP, with a clear 4xx page and no token: no or another wtrealm, a
// wreply that is not the reply URL, no or an unknown wa, a malformed body,
// an overlong wctx, a wfresh that is no number; a config of another type, of another realm or none;
// SAML's endpoints for a ws_fed config. A wsignin1.0 posted without the
// session cookie goes on by GET; wsignout1.0 to another site does not
// redirect there.
func TestWSFedBadRequests(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		realm, other := newRealm(t, c, "Pets"), newRealm(t, c, "Other")
		id := str(t, c.ok(t, "POST", "/realms/"+realm+"/sso-configs", ssoConfigBody("Wiki", wsfedPayload("https://wiki.example/wsfed"))), "id")
		samlID := str(t, c.ok(t, "POST", "/realms/"+realm+"/sso-configs", ssoConfigBody("Saml", ssoPayloads(testCertificate(t))["generic_saml"])), "id")
		endpoint := n.URL + saml.WSFedPath(c.tenant, realm, id)
		noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		answer := func(method, u string, form url.Values) (int, string, http.Header) {
			t.Helper()
			var resp *http.Response
			var err error
			if method == "GET" {
				resp, err = noRedirects.Get(u + "?" + form.Encode())
			} else {
				resp, err = noRedirects.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), resp.Header
		}
		signin := func(change func(url.Values)) url.Values {
			f := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {wsfedRealmID}, "wreply": {"https://wiki.example/wsfed"}, "wctx": {"ctx-1"}}
			if change != nil {
				change(f)
			}
			return f
		}
		refused := func(what string, status int, body string, wantStatus int, contains string) {
			t.Helper()
			if status != wantStatus || !strings.Contains(body, contains) || strings.Contains(body, "wresult") {
				t.Errorf("%s: %d %.300s, want %d saying %q", what, status, body, wantStatus, contains)
			}
		}

		status, body, _ := answer("GET", endpoint, signin(nil))
		if status != http.StatusOK || !strings.Contains(body, `id="signin"`) {
			t.Fatalf("a wsignin1.0: %d %.300s, want the sign-in page", status, body)
		}
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Del("wtrealm") }))
		refused("no wtrealm", status, body, http.StatusBadRequest, "no wtrealm")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Set("wtrealm", "urn:evil") }))
		refused("another wtrealm", status, body, http.StatusBadRequest, "not this relying party")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Set("wreply", "https://evil.example/wsfed") }))
		refused("another wreply", status, body, http.StatusBadRequest, "reply URL")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Set("wctx", strings.Repeat("x", 5000)) }))
		refused("an overlong wctx", status, body, http.StatusBadRequest, "wctx")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Set("wfresh", "soon") }))
		refused("a wfresh that is no number", status, body, http.StatusBadRequest, "wfresh")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Del("wa") }))
		refused("no wa", status, body, http.StatusBadRequest, "no wa")
		status, body, _ = answer("GET", endpoint, signin(func(f url.Values) { f.Set("wa", "wattr1.0") }))
		refused("an unknown wa", status, body, http.StatusBadRequest, "not supported")
		resp, err := noRedirects.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader("wa=%zz"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		refused("a malformed body", resp.StatusCode, string(b), http.StatusBadRequest, "form")

		for what, u := range map[string]string{
			"a generic_saml config":    n.URL + saml.WSFedPath(c.tenant, realm, samlID),
			"no config":                n.URL + saml.WSFedPath(c.tenant, realm, "no-such-config"),
			"another realm's path":     n.URL + saml.WSFedPath(c.tenant, other, id),
			"another tenant's path":    n.URL + saml.WSFedPath("other-tenant", realm, id),
			"SAML metadata of ws_fed":  n.URL + saml.Path(c.tenant, realm, id) + "/metadata",
			"WS-Fed metadata of saml":  n.URL + saml.WSFedPath(c.tenant, realm, samlID) + "/metadata",
			"WS-Fed metadata, no such": n.URL + saml.WSFedPath(c.tenant, other, id) + "/metadata",
		} {
			if status, body, _ := answer("GET", u, signin(nil)); status != http.StatusNotFound || strings.Contains(body, "wresult") {
				t.Errorf("%s: %d %.300s, want 404", what, status, body)
			}
		}
		if status, _, _ := answer("GET", n.URL+saml.Path(c.tenant, realm, id)+"/idp-initiated", nil); status != http.StatusNotFound {
			t.Errorf("SAML IdP-initiated sign-in of a ws_fed config: %d", status)
		}

		// Posted cross-site (no cookie), it goes on by GET to the hosted page.
		status, _, header := answer("POST", endpoint, signin(nil))
		to, _ := url.Parse(header.Get("Location"))
		if status != http.StatusSeeOther || to.Path != saml.Path(c.tenant, realm, id)+"/continue" {
			t.Fatalf("a posted wsignin1.0: %d to %s, want 303 to continue", status, to)
		}
		if status, body, _ := answer("GET", n.URL+to.Path, to.Query()); status != http.StatusOK || !strings.Contains(body, `id="signin"`) {
			t.Errorf("continued: %d %.300s", status, body)
		}
		pending := to.Query().Get("request")
		signedIn := c.withToken("").do(t, "POST", "/realms/"+other+"/sso-configs/"+id+"/saml/signin",
			map[string]any{"request": pending, "credential": map[string]any{}})
		if signedIn.Status != http.StatusBadRequest {
			t.Errorf("signed in under another realm: %d %s", signedIn.Status, signedIn.Body)
		}

		status, body, header = answer("GET", endpoint, url.Values{"wa": {"wsignout1.0"}, "wreply": {"https://evil.example/"}})
		if status != http.StatusOK || header.Get("Location") != "" || !strings.Contains(body, `id="signed-out"`) {
			t.Errorf("wsignout1.0 to another site: %d %q %.300s", status, header.Get("Location"), body)
		}
		status, _, header = answer("GET", endpoint, url.Values{"wa": {"wsignoutcleanup1.0"}, "wreply": {"https://wiki.example/wsfed"}})
		if status != http.StatusFound || header.Get("Location") != "https://wiki.example/wsfed" {
			t.Errorf("wsignoutcleanup1.0: %d to %q", status, header.Get("Location"))
		}
	})
}
