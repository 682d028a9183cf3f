package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestGrantFamilies: every token of a sign-in dies with its family, on
// every node at once: when its code is replayed (after a refresh too),
// its refresh token is reused or revoked, its passkey is revoked, or its
// identity is suspended or deleted. Tokens of both formats are checked
// where Latchkey accepts them: introspection on another node, userinfo,
// and refresh.
func TestGrantFamilies(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		f := newSignInFixture(t, e, "Families")
		c.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		other := e.anotherNode(t)
		verifier := strings.Repeat("v", 43)
		query := url.Values{"client_id": {f.clientID}, "redirect_uri": {f.callback}, "response_type": {"code"},
			"scope": {"openid profile"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}

		// approved signs holder in and returns the exchange of its code.
		approved := func(h passkeyHolder) url.Values {
			t.Helper()
			to, _ := url.Parse(str(t, h.signIn(t, f.issuer, query), "redirect"))
			return url.Values{"grant_type": {"authorization_code"}, "code": {to.Query().Get("code")},
				"redirect_uri": {f.callback}, "code_verifier": {verifier}}
		}
		// signIn signs holder in and returns the code's exchange and its tokens.
		signIn := func(h passkeyHolder) (url.Values, map[string]any) {
			t.Helper()
			exchange := approved(h)
			status, tokens := redeem(t, f.issuer, f.clientID, f.secret, exchange)
			if status != http.StatusOK || tokens["refresh_token"] == nil {
				t.Fatalf("redeem: %d %v", status, tokens)
			}
			return exchange, tokens
		}
		refresh := func(tokens map[string]any) (int, map[string]any) {
			return redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(t, tokens, "refresh_token")}})
		}
		refreshed := func(tokens map[string]any) map[string]any {
			t.Helper()
			status, next := refresh(tokens)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, next)
			}
			return next
		}
		// active tells whether another node's introspection and userinfo accept the access token.
		active := func(tokens map[string]any) bool {
			t.Helper()
			resp := send(t, "POST", other.URL+"/v1/tenants/"+c.tenant+"/realms/"+f.realm+"/introspect",
				http.Header{"Authorization": {"Bearer " + c.token}, "Content-Type": {"application/x-www-form-urlencoded"}},
				strings.NewReader(url.Values{"token": {str(t, tokens, "access_token")}}.Encode()))
			if resp.Status != http.StatusOK {
				t.Fatalf("introspect: %d %s", resp.Status, resp.Body)
			}
			introspected := resp.JSON(t)["active"] == true
			userinfo := send(t, "GET", f.issuer+"/userinfo", http.Header{"Authorization": {"Bearer " + str(t, tokens, "access_token")}}, nil).Status
			if introspected != (userinfo == http.StatusOK) || (!introspected && userinfo != http.StatusUnauthorized) {
				t.Errorf("introspection says active %v, userinfo answers %d", introspected, userinfo)
			}
			return introspected
		}
		wantDead := func(what string, tokens ...map[string]any) {
			t.Helper()
			for i, tok := range tokens {
				if active(tok) {
					t.Errorf("%s: access token %d is still active", what, i)
				}
			}
			last := tokens[len(tokens)-1]
			if status, body := refresh(last); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("%s: the last refresh token answers %d %v, want invalid_grant", what, status, body["error"])
			}
		}

		// A code replayed after its tokens were refreshed kills the refreshed ones too.
		exchange, first := signIn(f.ada)
		second := refreshed(first)
		_, bystander := signIn(f.ada)
		if status, body := redeem(t, f.issuer, f.clientID, f.secret, exchange); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("replay: %d %v", status, body)
		}
		wantDead("a replayed code", first, second)
		if !active(bystander) {
			t.Errorf("another sign-in of the same identity died with the replayed one")
		}

		// A reused refresh token kills the access tokens of its family.
		_, a := signIn(f.ada)
		b := refreshed(a)
		if status, body := refresh(a); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("reuse: %d %v", status, body)
		}
		wantDead("a reused refresh token", a, b)

		// Revoking a refresh token (RFC 7009) kills its family's access tokens.
		_, a = signIn(f.ada)
		b = refreshed(a)
		if status, body := postForm(t, f.issuer+"/revoke", f.clientID, f.secret, url.Values{"token": {str(t, b, "refresh_token")},
			"token_type_hint": {"refresh_token"}}); status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, body)
		}
		wantDead("a revoked refresh token", a, b)

		// A refresh asking for a scope it was not granted is refused and spends nothing.
		_, a = signIn(f.ada)
		if status, body := redeem(t, f.issuer, f.clientID, f.secret, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {str(t, a, "refresh_token")}, "scope": {"openid email"}}); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Errorf("refresh with a scope not granted: %d %v", status, body)
		}
		a = refreshed(a)

		// A revoked passkey kills what it signed in to, and only that.
		laptop := f.ada
		phone := newPasskeyHolder(t, e.node.URL, c, f.realm, "phone-owner")
		_, onPhone := signIn(phone)
		pending := approved(laptop) // a code issued before the revocation, redeemed after
		creds := c.list(t, "/realms/"+f.realm+"/identities/"+laptop.identity+"/credentials")
		c.post(t, "/realms/"+f.realm+"/identities/"+laptop.identity+"/credentials/"+str(t, items(t, creds, "credentials")[0], "id")+":revoke", nil)
		wantDead("a revoked passkey", a, bystander)
		if status, body := redeem(t, f.issuer, f.clientID, f.secret, pending); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("the code of a passkey revoked before its redemption: %d %v, want invalid_grant", status, body["error"])
		}
		if !active(onPhone) {
			t.Errorf("another identity's sign-in died with the revoked passkey")
		}

		// A suspended identity's tokens die, suspended by the API or a CSV
		// import; so do a deleted one's.
		activate := func() {
			c.patch(t, "/realms/"+f.realm+"/identities/"+phone.identity, map[string]any{"identity": map[string]any{"status": "active"}})
		}
		_, x := signIn(phone)
		c.patch(t, "/realms/"+f.realm+"/identities/"+phone.identity, map[string]any{"identity": map[string]any{"status": "suspended"}})
		wantDead("an identity suspended by the API", onPhone, x)
		activate()
		_, x = signIn(phone)
		if j := c.importFile(t, f.realm, "?update_existing=true", "username,status\nphone-owner,suspended\n"); counts(t, j) != [4]int{0, 1, 0, 0} {
			t.Fatalf("import: %v", j)
		}
		wantDead("an identity suspended by a CSV import", x)
		activate()
		_, y := signIn(phone)
		c.del(t, "/realms/"+f.realm+"/identities/"+phone.identity)
		wantDead("a deleted identity", y)
	})
}
