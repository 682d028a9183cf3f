package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// backchannel is a relying party's back-channel logout endpoint: it keeps
// the logout tokens it receives, by path.
type backchannel struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string][]string
}

func newBackchannel(t *testing.T) *backchannel {
	b := &backchannel{tokens: map[string][]string{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("logout_token") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.tokens[r.URL.Path] = append(b.tokens[r.URL.Path], form.Get("logout_token"))
		b.mu.Unlock()
	}))
	t.Cleanup(b.Close)
	return b
}

// wait waits for the n-th logout token to path and returns it.
func (b *backchannel) wait(t *testing.T, path string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		got := slices.Clone(b.tokens[path])
		b.mu.Unlock()
		if len(got) >= n {
			return got[n-1]
		}
	}
	t.Fatalf("no logout token number %d at %s", n, path)
	return ""
}

// verifyLogout verifies a logout token as a relying party does
// (Back-Channel Logout 1.0 §2.6): typ, signature against the issuer's JWKS
// (fetched from its discovery), iss, aud, the event, and no nonce.
func verifyLogout(t *testing.T, hc *http.Client, issuer, clientID, raw string) map[string]any {
	t.Helper()
	var meta struct {
		JWKSURI            string `json:"jwks_uri"`
		EndSession         string `json:"end_session_endpoint"`
		Backchannel        bool   `json:"backchannel_logout_supported"`
		BackchannelSession bool   `json:"backchannel_logout_session_supported"`
	}
	var jwks jose.JSONWebKeySet
	getJSON(t, hc, issuer+"/.well-known/openid-configuration", &meta)
	if meta.EndSession != issuer+"/end_session" || !meta.Backchannel || !meta.BackchannelSession {
		t.Errorf("discovery: %+v", meta)
	}
	getJSON(t, hc, meta.JWKSURI, &jwks)
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders[jose.HeaderType] != "logout+jwt" {
		t.Fatalf("logout token %q: %v", raw, err)
	}
	keys := jwks.Key(tok.Headers[0].KeyID)
	var std jwt.Claims
	var c map[string]any
	if len(keys) != 1 || tok.Claims(keys[0].Key, &std, &c) != nil {
		t.Fatalf("the logout token does not verify against %s", meta.JWKSURI)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{clientID}, Time: time.Now()}, time.Minute); err != nil {
		t.Errorf("logout token claims %v: %v", c, err)
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || c["nonce"] != nil || c["jti"] == nil {
		t.Errorf("logout token claims %v", c)
	}
	return c
}

func getJSON(t *testing.T, hc *http.Client, u string, v any) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

// navigate opens u in the browser and waits until predicate holds.
func navigate(t *testing.T, ctx context.Context, u, predicate string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(ctx, predicate, 10*time.Second); !ok {
		t.Fatalf("%s: %s does not hold; the browser shows %q", u, predicate, page)
	}
}

// TestSignOut, in Chromium with a virtual authenticator: RP-initiated
// logout with an id_token_hint sends the browser to the registered
// post-logout URI with state and every application the session signed in
// to gets a logout token it verifies against the JWKS; an unregistered
// post-logout URI is refused without a redirect; without a hint the user
// confirms on a page; the management API lists an identity's sessions and
// ends one or all, refusing another tenant, another realm and too few
// scopes; every sign-out leaves prompt=none with login_required.
func TestSignOut(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		ctx, realm, ada := adaWithPasskey(t, c, "Pets")
		wiki, wikiID := startOIDCApp(t, n, c.tenant, realm)
		mail, mailID := startOIDCApp(t, n, c.tenant, realm)
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "allow", "applications": []string{wikiID, mailID}, "identities": []string{ada}}}})
		bc := newBackchannel(t)
		setApp := func(id string, pc map[string]any) map[string]any {
			app := c.patch(t, "/realms/"+realm+"/applications/"+id, map[string]any{"application": map[string]any{"protocol_config": pc}})
			return app["protocol_config"].(map[string]any)
		}
		wikiPC := setApp(wikiID, map[string]any{"post_logout_redirect_uris": []string{wiki.URL + "/bye"}, "backchannel_logout_uri": bc.URL + "/wiki"})
		mailPC := setApp(mailID, map[string]any{"backchannel_logout_uri": bc.URL + "/mail"})
		wikiIssuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + wikiID
		sessionsPath := "/realms/" + realm + "/identities/" + ada + "/sessions"

		first := wiki.signInThrough(t, ctx)
		signedIn(t, "the wiki", first, ada)
		signedIn(t, "the mail app by single sign-on", mail.visit(t, ctx), ada)
		sid := first.claims["sid"].(string)

		// The management API lists the session with both applications.
		listed := c.get(t, sessionsPath)
		sessions := listed["sessions"].([]any)
		if len(sessions) != 1 || sessions[0].(map[string]any)["id"] != sid ||
			len(sessions[0].(map[string]any)["application_ids"].([]any)) != 2 || listed["total_size"] != 1.0 {
			t.Fatalf("sessions of ada: %v", listed)
		}
		for what, r := range map[string]testenv.Response{
			"identities:read only":  c.withToken(n.Token(t, "identities:read")).do(t, "GET", sessionsPath, nil),
			"sessions:read only":    c.withToken(n.Token(t, "sessions:read")).do(t, "GET", sessionsPath, nil),
			"no sessions:delete":    c.withToken(n.Token(t, "identities:read sessions:read")).do(t, "POST", "/realms/"+realm+"/identities/"+ada+":endSessions", nil),
			"no sessions:delete, 1": c.withToken(n.Token(t, "identities:read sessions:read")).do(t, "DELETE", sessionsPath+"/"+sid, nil),
			"another tenant":        client{base: n.URL, tenant: "0001ffffffffffff", token: c.token}.do(t, "GET", sessionsPath, nil),
		} {
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 403", what, r.Status, r.Body)
			}
		}
		if r := c.withToken(first.token.AccessToken).do(t, "GET", sessionsPath, nil); r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
			t.Errorf("an access token of the realm's application: %d", r.Status)
		}
		other := newRealm(t, c, "Elsewhere")
		assertNotFound(t, c.do(t, "GET", "/realms/"+other+"/identities/"+ada+"/sessions", nil), "Identity", ada, "identity not found")
		assertNotFound(t, c.do(t, "DELETE", "/realms/"+other+"/identities/"+ada+"/sessions/"+sid, nil), "Identity", ada, "identity not found")
		assertNotFound(t, c.do(t, "DELETE", sessionsPath+"/nope", nil), "Session", "nope", "session not found")

		// An unregistered post-logout URI: refused on a page, no redirect, still signed in.
		hint, _ := first.token.Extra("id_token").(string)
		end := wikiIssuer + "/end_session?"
		navigate(t, ctx, end+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {mail.URL + "/bye"}}.Encode(),
			`document.getElementById("error") !== null`)
		signedIn(t, "after a refused sign-out", mail.visit(t, ctx, "prompt", "none"), ada)

		// RP-initiated logout with the hint: to the post-logout URI with state; both applications told.
		navigate(t, ctx, end+url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {wiki.URL + "/bye"}, "state": {"xyz"}}.Encode(),
			`location.pathname === "/bye" && location.search === "?state=xyz"`)
		refused(t, "prompt=none after the sign-out", mail.visit(t, ctx, "prompt", "none"), "login_required")
		for path, pc := range map[string]map[string]any{"/wiki": wikiPC, "/mail": mailPC} {
			claims := verifyLogout(t, n.HTTP, n.URL+"/v1/tenants/"+c.tenant+"/realms/"+realm+"/applications/"+map[string]string{"/wiki": wikiID, "/mail": mailID}[path],
				pc["client_id"].(string), bc.wait(t, path, 1))
			if claims["sid"] != sid || claims["sub"] != ada {
				t.Errorf("%s's logout token: %v, want sid %s and sub %s", path, claims, sid, ada)
			}
		}
		if listed := c.get(t, sessionsPath); len(listed["sessions"].([]any)) != 0 {
			t.Errorf("sessions after the sign-out: %v", listed)
		}

		// Without a hint, the user confirms on a page that posts back to Latchkey.
		signedIn(t, "signed in again", wiki.signInThrough(t, ctx), ada)
		navigate(t, ctx, end+url.Values{"client_id": {wikiPC["client_id"].(string)}}.Encode(), `document.getElementById("signout") !== null`)
		if listed := c.get(t, sessionsPath); len(listed["sessions"].([]any)) != 1 {
			t.Errorf("the confirmation page signed out: %v", listed)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signout"))); err != nil {
			t.Fatal(err)
		}
		if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signed-out") !== null`, 10*time.Second); !ok {
			t.Fatalf("no signed-out page after the confirmation: %q", page)
		}
		refused(t, "prompt=none after the confirmed sign-out", mail.visit(t, ctx, "prompt", "none"), "login_required")
		bc.wait(t, "/wiki", 2)

		// The application POSTs the form from its server, with the hint and no cookie: the hint's session ends.
		again := wiki.signInThrough(t, ctx)
		signedIn(t, "signed in again", again, ada)
		hint, _ = again.token.Extra("id_token").(string)
		form := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {wiki.URL + "/bye"}, "state": {"p1"}}
		posted := sendWith(t, noRedirects, "POST", wikiIssuer+"/end_session", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			strings.NewReader(form.Encode()))
		if posted.Status != http.StatusFound || posted.Header.Get("Location") != wiki.URL+"/bye?state=p1" {
			t.Errorf("POST end_session: %d to %q", posted.Status, posted.Header.Get("Location"))
		}
		refused(t, "prompt=none after the posted sign-out", mail.visit(t, ctx, "prompt", "none"), "login_required")
		bc.wait(t, "/wiki", 3)

		// An administrator ends one session, then all ("sign out everywhere").
		signedIn(t, "signed in again", wiki.signInThrough(t, ctx), ada)
		one := c.get(t, sessionsPath)["sessions"].([]any)[0].(map[string]any)["id"].(string)
		if r := c.withToken(n.Token(t, "identities:read sessions:delete")).do(t, "DELETE", sessionsPath+"/"+one, nil); r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Fatalf("DELETE the session: %d %s", r.Status, r.Body)
		}
		refused(t, "prompt=none after the session was ended", wiki.visit(t, ctx, "prompt", "none"), "login_required")
		assertNotFound(t, c.do(t, "DELETE", sessionsPath+"/"+one, nil), "Session", one, "session not found")
		signedIn(t, "signed in again", wiki.signInThrough(t, ctx), ada)
		ended := c.post(t, "/realms/"+realm+"/identities/"+ada+":endSessions", nil)
		if got := ended["sessions"].([]any); len(got) != 1 {
			t.Errorf(":endSessions answered %v", ended)
		}
		refused(t, "prompt=none after :endSessions", wiki.visit(t, ctx, "prompt", "none"), "login_required")
		bc.wait(t, "/wiki", 5)
		events := c.get(t, "/realms/"+realm+"/events")["events"].([]any)
		var actions []string
		endedOne := 0
		for _, e := range events {
			e := e.(map[string]any)
			actions = append(actions, e["action"].(string))
			if e["action"] == "session.ended" && e["resource_id"] == one {
				endedOne++
				if e["identity_id"] != ada || e["reason"] != "signed_out" {
					t.Errorf("the session.ended event of %s: %v", one, e)
				}
			}
		}
		if endedOne != 1 || !slices.Contains(actions, "identity.end_sessions") {
			t.Errorf("events %v: want one session.ended for %s and identity.end_sessions", actions, one)
		}
	})
}
