package oauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const bye = "https://wiki.example.com/bye"

// editApp changes the fixture's application as the system.
func (f *ssoFixture) editApp(t *testing.T, edit func(*oauth.ProtocolConfig)) {
	t.Helper()
	app, err := f.svc.UpdateApplication(t.Context(), f.app.TenantID, f.app.RealmID, f.app.ID, func(a *oauth.Application) error {
		edit(&a.ProtocolConfig)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.app = app
}

func (f *ssoFixture) checkLogout(t *testing.T, p oauth.LogoutParams) (oauth.Logout, error) {
	t.Helper()
	return f.svc.CheckLogout(t.Context(), f.app.TenantID, f.app.RealmID, f.app.ID, p)
}

func wantLive(t *testing.T, f *ssoFixture, what string, v session.Session, live bool) {
	t.Helper()
	got, err := f.st.GetSession(t.Context(), v.ID)
	if err != nil || got.Live(f.clock.Now()) != live {
		t.Errorf("%s: %+v, %v; want live %v", what, got, err, live)
	}
}

// TestCheckLogout: an end-session request is refused (never redirected)
// for an id_token_hint that is not an ID token of this application's
// issuer, a client_id of another application, or a
// post_logout_redirect_uri not registered exactly; an expired hint is
// accepted, and the redirect carries state.
func TestCheckLogout(t *testing.T) {
	f := newSSO(t, testenv.OpenSQLite)
	f.editApp(t, func(pc *oauth.ProtocolConfig) { pc.PostLogoutRedirectURIs = []string{bye} })
	wiki := f.app
	f.app = f.oidcApp(t, "Mail", "https://wiki.example.com/cb")
	policies := policy.NewService(f.st.Policy()) // before the service decides (and caches) anything
	rules, err := policies.Get(t.Context(), f.app.TenantID, f.app.RealmID)
	if err != nil {
		t.Fatal(err)
	}
	rules.Rules = append(rules.Rules, policy.Rule{Effect: policy.Allow, Applications: []string{f.app.ID}, Groups: []string{}, Identities: []string{f.admin.ID}})
	if _, err := policies.Put(t.Context(), f.app.TenantID, f.app.RealmID, rules); err != nil {
		t.Fatal(err)
	}
	mailHint := f.idToken(t, f.current)
	f.app = wiki
	hint := f.idToken(t, f.current)
	f.clock.Advance(2 * time.Hour) // the hint has expired

	for _, c := range []struct {
		what string
		p    oauth.LogoutParams
	}{
		{"another application's client_id", oauth.LogoutParams{ClientID: "someone-else"}},
		{"a hint that is no JWT", oauth.LogoutParams{IDTokenHint: "garbage"}},
		{"another application's ID token", oauth.LogoutParams{IDTokenHint: mailHint}},
		{"a hint with its signature changed", oauth.LogoutParams{IDTokenHint: hint[:len(hint)-4] + "AAAA"}},
		{"an unregistered post_logout_redirect_uri", oauth.LogoutParams{IDTokenHint: hint, PostLogoutRedirectURI: bye + "/other"}},
		{"a post_logout_redirect_uri that is a redirect URI", oauth.LogoutParams{PostLogoutRedirectURI: "https://wiki.example.com/cb"}},
	} {
		_, err := f.checkLogout(t, c.p)
		wantOAuthError(t, c.what, err, "invalid_request")
	}
	if _, err := f.svc.CheckLogout(t.Context(), f.app.TenantID, f.app.RealmID, latchkey.NewUUID(), oauth.LogoutParams{}); err == nil {
		t.Error("an unknown application's logout was accepted")
	}

	l, err := f.checkLogout(t, oauth.LogoutParams{})
	if err != nil || l.Hinted || l.Redirect != "" || l.Application.ID != f.app.ID {
		t.Errorf("no parameters: %+v, %v; want a logout to confirm, without redirect", l, err)
	}
	l, err = f.checkLogout(t, oauth.LogoutParams{IDTokenHint: hint, ClientID: f.app.ProtocolConfig.ClientID, PostLogoutRedirectURI: bye, State: "a b&c"})
	if err != nil || !l.Hinted || l.SessionID != f.current.ID || l.Redirect != bye+"?state=a+b%26c" {
		t.Errorf("an expired hint with a registered redirect: %+v, %v", l, err)
	}
	l, err = f.checkLogout(t, oauth.LogoutParams{PostLogoutRedirectURI: bye})
	if err != nil || l.Hinted || l.Redirect != bye {
		t.Errorf("a registered redirect without hint or state: %+v, %v", l, err)
	}
}

// TestSignOut: a hinted sign-out ends the hint's session and the browser's
// when both are the same identity's, not another identity's; without a
// hint, the browser's once confirmed with the token only its page has.
func TestSignOut(t *testing.T) {
	f := newSSO(t, testenv.OpenSQLite)
	ctx := t.Context()
	hinted, _ := f.checkLogout(t, oauth.LogoutParams{IDTokenHint: f.idToken(t, f.current)})
	sameUser := f.startSession(t, f.admin, f.cred) // another browser of the same user
	ended, err := f.svc.SignOut(ctx, hinted, &sameUser)
	if err != nil || len(ended) != 2 {
		t.Fatalf("SignOut: %d ended, %v; want the hint's and the browser's", len(ended), err)
	}
	wantLive(t, f, "the hint's session", f.current, false)
	wantLive(t, f, "the same user's browser", sameUser, false)

	f.current = f.startSession(t, f.admin, f.cred)
	hinted, _ = f.checkLogout(t, oauth.LogoutParams{IDTokenHint: f.idToken(t, f.current)})
	someoneElse := f.startSession(t, directory.Identity{ID: latchkey.NewID(), TenantID: f.admin.TenantID, RealmID: f.admin.RealmID}, "their-key")
	if _, err := f.svc.SignOut(ctx, hinted, &someoneElse); err != nil {
		t.Fatal(err)
	}
	wantLive(t, f, "the hint's session", f.current, false)
	wantLive(t, f, "another user's session in the browser", someoneElse, true)

	unhinted, _ := f.checkLogout(t, oauth.LogoutParams{})
	token := f.svc.LogoutConfirmation(someoneElse)
	if !f.svc.LogoutConfirmed(token, someoneElse) || f.svc.LogoutConfirmed(token, f.current) || f.svc.LogoutConfirmed("forged", someoneElse) {
		t.Error("the confirmation token confirms another session, or a forged one confirms")
	}
	if _, err := f.svc.SignOut(ctx, unhinted, &someoneElse); err != nil {
		t.Fatal(err)
	}
	wantLive(t, f, "the browser's session after a confirmed sign-out", someoneElse, false)
}

// receiver is a relying party's back-channel logout endpoint: it answers
// with codes[n-1] for its n-th request (the last code after that) and
// keeps the logout tokens.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rc.mu.Lock()
		rc.tokens = append(rc.tokens, form.Get("logout_token"))
		n := len(rc.tokens)
		rc.mu.Unlock()
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(codes[min(n, len(codes))-1])
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait waits for the n-th logout token and returns it.
func (rc *receiver) wait(t *testing.T, n int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		rc.mu.Lock()
		got := slices.Clone(rc.tokens)
		rc.mu.Unlock()
		if len(got) >= n {
			return got[n-1]
		}
	}
	t.Fatalf("no logout token number %d after 10 s", n)
	return ""
}

// waitFor waits for a logout token that names session sid and returns
// it. Delivery is at least once: a token sent again (its lease ran out
// while the clock jumped) is no error, so tokens are told apart by sid.
func (rc *receiver) waitFor(t *testing.T, sid string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if raw, ok := rc.naming(t, sid); ok {
			return raw
		}
	}
	t.Fatalf("no logout token for session %s after 10 s", sid)
	return ""
}

// naming returns a token received so far that names session sid.
func (rc *receiver) naming(t *testing.T, sid string) (string, bool) {
	t.Helper()
	rc.mu.Lock()
	got := slices.Clone(rc.tokens)
	rc.mu.Unlock()
	for _, raw := range got {
		var c struct {
			SID string `json:"sid"`
		}
		if tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256}); err == nil &&
			tok.UnsafeClaimsWithoutVerification(&c) == nil && c.SID == sid {
			return raw, true
		}
	}
	return "", false
}

// verifyLogoutToken checks a logout token as a relying party does
// (Back-Channel Logout 1.0 §2.6) against the JWKS, and returns its claims.
func verifyLogoutToken(t *testing.T, raw string, jwks jose.JSONWebKeySet, issuer, clientID string, at time.Time) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		t.Fatalf("logout token %q: %v", raw, err)
	}
	if typ := tok.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v, want logout+jwt", typ)
	}
	keys := jwks.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var c map[string]any
	if err := tok.Claims(keys[0].Key, &std, &c); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{clientID}, Time: at}, 0); err != nil {
		t.Errorf("claims %v: %v", c, err)
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(events) != 1 || c["jti"] == "" || c["iat"] == nil {
		t.Errorf("claims %v: want the back-channel logout event, jti and iat", c)
	}
	if _, ok := c["nonce"]; ok {
		t.Errorf("a logout token with a nonce: %v", c)
	}
	return c
}

// TestBackchannelLogout: ending a session queues, in the ending's
// transaction, a logout token for each application it signed in to that
// has a back-channel logout URI; the worker POSTs it to a real receiver
// that answers 500 and gets it again, signed anew, once the clock passes
// the backoff; the token verifies against the JWKS and names the session
// (sid) and the user (sub), or only the session once the identity is
// deleted. An expired session tells no one.
func TestBackchannelLogout(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			ctx := t.Context()
			rc := newReceiver(t, http.StatusInternalServerError, http.StatusOK)
			f.editApp(t, func(pc *oauth.ProtocolConfig) { pc.BackchannelLogoutURI = rc.URL + "/backchannel" })
			f.st.OnSessionsEnded(func(ctx context.Context, tx store.Tx, ended []session.Session) error {
				return f.svc.QueueBackchannelLogouts(ctx, tx, ended)
			})
			worker := &delivery.Worker{Store: f.st.Delivery(), Kinds: map[string]delivery.Kind{oauth.KindBackchannelLogout: f.svc.LogoutToken},
				Logger: slog.New(slog.DiscardHandler), Owner: "node", PollInterval: 5 * time.Millisecond, Clock: f.clock.Now}
			f.svc.DeliveryQueued = worker.Wake
			runCtx, stop := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { worker.Run(runCtx); close(stopped) }()
			t.Cleanup(func() { stop(); <-stopped })

			hint := f.idToken(t, f.current) // the session signs in to the wiki
			expiring := f.startSession(t, f.admin, f.cred)
			f.idToken(t, expiring)
			l, err := f.checkLogout(t, oauth.LogoutParams{IDTokenHint: hint})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SignOut(ctx, l, nil); err != nil {
				t.Fatal(err)
			}
			first := rc.wait(t, 1) // answered 500
			f.clock.Advance(delivery.DefaultBackoff(1))
			at := f.clock.Now()
			second := rc.wait(t, 2)
			if first == second {
				t.Error("the retry sent the same token: it is signed at each attempt")
			}
			c := verifyLogoutToken(t, second, f.svc.JWKS(), f.svc.Issuer(f.app.TenantID, f.app.RealmID, f.app.ID), f.app.ProtocolConfig.ClientID, at)
			if c["sid"] != f.current.ID || c["sub"] != f.admin.ID || c["exp"].(float64)-c["iat"].(float64) != 120 {
				t.Errorf("claims %v: want sid %s, sub %s, two minutes", c, f.current.ID, f.admin.ID)
			}

			// The expiring session's end tells no one; a sign-out after it would be the third token.
			f.clock.Advance(13 * time.Hour)
			if _, err := f.st.EndSessions(ctx, session.End{At: f.clock.Now(), Reason: session.ReasonExpired, Expired: true}); err != nil {
				t.Fatal(err)
			}
			f.current = f.startSession(t, f.admin, f.cred)
			f.idToken(t, f.current)
			if _, err := f.svc.SignOut(ctx, oauth.Logout{Application: f.app}, &f.current); err != nil {
				t.Fatal(err)
			}
			verifyLogoutToken(t, rc.waitFor(t, f.current.ID), f.svc.JWKS(), f.svc.Issuer(f.app.TenantID, f.app.RealmID, f.app.ID), f.app.ProtocolConfig.ClientID, f.clock.Now())
			if _, told := rc.naming(t, expiring.ID); told {
				t.Errorf("the expired session %s was told to the application", expiring.ID)
			}

			// A deleted identity's session: the token names the session only,
			// signed with ES256 now that the application chose it.
			f.editApp(t, func(pc *oauth.ProtocolConfig) { pc.TokenConfiguration.TokenSigningAlgorithm = "ES256" })
			err = f.st.Update(ctx, func(tx store.Tx) error {
				return f.svc.QueueBackchannelLogouts(ctx, tx, []session.Session{{ID: "gone", TenantID: f.app.TenantID, RealmID: f.app.RealmID,
					IdentityID: latchkey.NewID(), EndReason: session.ReasonIdentityDeleted, Applications: []string{f.app.ID}}})
			})
			if err != nil {
				t.Fatal(err)
			}
			fourth := rc.waitFor(t, "gone")
			if _, err := jose.ParseSigned(fourth, []jose.SignatureAlgorithm{jose.ES256}); err != nil {
				t.Errorf("the logout token of an ES256 application: %v", err)
			}
			c = verifyLogoutToken(t, fourth, f.svc.JWKS(), f.svc.Issuer(f.app.TenantID, f.app.RealmID, f.app.ID), f.app.ProtocolConfig.ClientID, f.clock.Now())
			if _, hasSub := c["sub"]; c["sid"] != "gone" || hasSub {
				t.Errorf("a deleted identity's logout token: %v, want sid and no sub", c)
			}
		})
	}
}
