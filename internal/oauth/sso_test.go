package oauth_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// ssoFixture is signIns with the browser's session of the administrator.
type ssoFixture struct {
	signIns
	sessions *session.Service
	current  session.Session
}

func newSSO(t *testing.T, open func(testing.TB) *sqlstore.Store) *ssoFixture {
	t.Helper()
	f := &ssoFixture{signIns: newSignIns(t, open)}
	f.sessions = session.NewService(f.st.Session(), f.box)
	f.sessions.Clock = f.clock.Now
	f.current = f.startSession(t, f.admin, f.cred)
	return f
}

func (f *ssoFixture) startSession(t *testing.T, i directory.Identity, cred string) session.Session {
	t.Helper()
	v, _, err := f.sessions.Start(t.Context(), session.SignIn{TenantID: i.TenantID, RealmID: i.RealmID, IdentityID: i.ID,
		CredentialID: cred, AMR: oauth.PasskeyAMR(passkey.Config{}), ACR: oauth.PasskeyACR}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// authorize asks for the wiki's sign-in with the session (nil: none), p
// changed by with.
func (f *ssoFixture) authorize(t *testing.T, current *session.Session, with func(*oauth.AuthParams)) (oauth.AuthRequest, string, error) {
	t.Helper()
	return f.authorizeSignedIn(t, f.signedIn(t, current), with)
}

// authorizeSignedIn is authorize with the session and identity as read
// (nil: none), however they changed since.
func (f *ssoFixture) authorizeSignedIn(t *testing.T, current *oauth.SignedIn, with func(*oauth.AuthParams)) (oauth.AuthRequest, string, error) {
	t.Helper()
	p := oauth.AuthParams{ClientID: f.app.ProtocolConfig.ClientID, RedirectURI: "https://wiki.example.com/cb", ResponseType: "code",
		Scope: "openid", State: "st", Nonce: "n"}
	if with != nil {
		with(&p)
	}
	req, _, signedIn, err := f.svc.Authorize(t.Context(), f.app.TenantID, f.app.RealmID, f.app.ID, p, current)
	return req, signedIn, err
}

// signedIn reads the session (nil: none) with its identity, as a request
// that carries its cookie does: nil when it is not live.
func (f *ssoFixture) signedIn(t *testing.T, current *session.Session) *oauth.SignedIn {
	t.Helper()
	if current == nil {
		return nil
	}
	v, err := f.svc.SignedIn(t.Context(), current.ID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedIn asserts that the session signed the request in, and returns the code.
func signedIn(t *testing.T, what string, signedIn string, err error) string {
	t.Helper()
	if err != nil || signedIn == "" {
		t.Fatalf("%s: no sign-in by the session (%q, %v)", what, signedIn, err)
	}
	u, _ := url.Parse(signedIn)
	if u.Query().Get("state") != "st" || u.Query().Get("code") == "" {
		t.Fatalf("%s: redirected to %s", what, signedIn)
	}
	return u.Query().Get("code")
}

// needsCeremony asserts that a passkey must sign the request in.
func needsCeremony(t *testing.T, what string, req oauth.AuthRequest, signedIn string, err error) {
	t.Helper()
	if err != nil || signedIn != "" || req.ID == "" {
		t.Errorf("%s: %q, %v; want a pending sign-in", what, signedIn, err)
	}
}

// redirectedWith asserts that the client hears the error at its redirect URI.
func redirectedWith(t *testing.T, what string, err error, code string) {
	t.Helper()
	var re *oauth.RedirectError
	if !errors.As(err, &re) || re.Err.Code != code {
		t.Errorf("%s: %v, want %s at the redirect URI", what, err, code)
		return
	}
	u, _ := url.Parse(re.URL)
	if !strings.HasPrefix(re.URL, "https://wiki.example.com/cb?") || u.Query().Get("error") != code || u.Query().Get("state") != "st" {
		t.Errorf("%s: redirected to %s", what, re.URL)
	}
}

func idTokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSessionSignsIn: a live session signs in to an application without a
// ceremony: the ID token carries its sid, its auth_time (not the code's
// time), acr and amr, and the session records the application.
func TestSessionSignsIn(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			f.clock.Advance(5 * time.Minute)
			_, to, err := f.authorize(t, &f.current, nil)
			code := signedIn(t, "a live session", to, err)
			tok, err := f.token(t.Context(), "authorization_code", code, "")
			if err != nil {
				t.Fatal(err)
			}
			c := idTokenClaims(t, tok.IDToken)
			if c["sid"] != f.current.ID || c["auth_time"] != float64(f.current.AuthTime.Unix()) || c["acr"] != oauth.PasskeyACR ||
				!slices.Equal(anyStrings(c["amr"]), []string{"pop", "mfa"}) || c["nonce"] != "n" {
				t.Errorf("ID token claims %v; session %s signed in at %d", c, f.current.ID, f.current.AuthTime.Unix())
			}
			v, _ := f.st.GetSession(t.Context(), f.current.ID)
			if !slices.Equal(v.Applications, []string{f.app.ID}) || !v.LastSeenTime.Equal(latchkey.Clock(f.clock.Now).Now()) {
				t.Errorf("the session after the sign-in: %+v", v)
			}
			// Ten seconds later it signs in again: its times are not written
			// again so soon (session.TouchDue).
			f.current = v
			f.clock.Advance(10 * time.Second)
			_, to, err = f.authorize(t, &f.current, nil)
			signedIn(t, "the session again", to, err)
			if again, _ := f.st.GetSession(t.Context(), f.current.ID); !again.LastSeenTime.Equal(v.LastSeenTime) ||
				!again.IdleExpireTime.Equal(v.IdleExpireTime) {
				t.Errorf("the session touched again after 10 s: last seen %v, idle expiry %v; before %v, %v",
					again.LastSeenTime, again.IdleExpireTime, v.LastSeenTime, v.IdleExpireTime)
			}
		})
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestPrompt: none answers login_required without a session and signs in
// with one; login asks for a passkey despite the session; none with
// another value, and unknown values, are invalid_request.
func TestPrompt(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			none := func(p *oauth.AuthParams) { p.Prompt = "none" }
			_, _, err := f.authorize(t, nil, none)
			redirectedWith(t, "prompt=none without a session", err, "login_required")
			_, to, err := f.authorize(t, &f.current, none)
			signedIn(t, "prompt=none with a session", to, err)
			req, to, err := f.authorize(t, &f.current, func(p *oauth.AuthParams) { p.Prompt = "login consent" })
			needsCeremony(t, "prompt=login", req, to, err)
			req, to, err = f.authorize(t, nil, nil)
			needsCeremony(t, "no session", req, to, err)
			for _, bad := range []string{"none login", "login none", "bogus"} {
				_, _, err := f.authorize(t, &f.current, func(p *oauth.AuthParams) { p.Prompt = bad })
				redirectedWith(t, "prompt="+bad, err, "invalid_request")
			}
		})
	}
}

// TestMaxAge: a sign-in older than max_age needs the passkey again
// (prompt=none: login_required); max_age=0 always does.
func TestMaxAge(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			maxAge := func(v, prompt string) func(*oauth.AuthParams) {
				return func(p *oauth.AuthParams) { p.MaxAge, p.Prompt = v, prompt }
			}
			f.clock.Advance(2 * time.Minute)
			req, to, err := f.authorize(t, &f.current, maxAge("60", ""))
			needsCeremony(t, "max_age=60 two minutes after the sign-in", req, to, err)
			_, _, err = f.authorize(t, &f.current, maxAge("60", "none"))
			redirectedWith(t, "max_age=60 with prompt=none", err, "login_required")
			_, to, err = f.authorize(t, &f.current, maxAge("600", ""))
			signedIn(t, "max_age=600", to, err)
			req, to, err = f.authorize(t, &f.current, maxAge("0", ""))
			needsCeremony(t, "max_age=0", req, to, err)
			for _, bad := range []string{"-1", "ten", "1.5"} {
				_, _, err := f.authorize(t, &f.current, maxAge(bad, ""))
				redirectedWith(t, "max_age="+bad, err, "invalid_request")
			}
		})
	}
}

// TestHints: id_token_hint must be an ID token of ours naming the
// session's user (expired ones too); login_hint must name it (its
// username in any case, e-mail, id or sub). Otherwise prompt=none is
// refused and other requests need the passkey.
func TestHints(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			ctx := t.Context()
			// Mallory may use the wiki too: her ID token is a hint of another user.
			policies := policy.NewService(f.st.Policy())
			pol, _ := policies.Get(ctx, f.app.TenantID, f.app.RealmID)
			pol.Rules = append(pol.Rules, policy.Rule{Effect: policy.Allow, Applications: []string{f.app.ID}, Identities: []string{f.plainID}, Groups: []string{}})
			if _, err := policies.Put(ctx, f.app.TenantID, f.app.RealmID, pol); err != nil {
				t.Fatal(err)
			}
			mallory, _ := f.st.GetIdentity(ctx, f.app.RealmID, f.plainID)
			malloryKey := latchkey.NewID()
			addCredential(t, f.st, mallory, malloryKey, f.clock.Now())
			malloryHint := f.idToken(t, f.startSession(t, mallory, malloryKey))
			ownHint := f.idToken(t, f.current)

			hint := func(h, prompt string) func(*oauth.AuthParams) {
				return func(p *oauth.AuthParams) { p.IDTokenHint, p.Prompt = h, prompt }
			}
			f.clock.Advance(61 * time.Minute) // the hints expired; the session did not
			_, to, err := f.authorize(t, &f.current, hint(ownHint, "none"))
			signedIn(t, "an expired ID token of the user as id_token_hint", to, err)
			_, _, err = f.authorize(t, &f.current, hint(malloryHint, "none"))
			redirectedWith(t, "another user's id_token_hint", err, "login_required")
			req, to, err := f.authorize(t, &f.current, hint(malloryHint, ""))
			needsCeremony(t, "another user's id_token_hint without prompt=none", req, to, err)
			forged := ownHint[:strings.LastIndex(ownHint, ".")+1] + "AAAA"
			_, _, err = f.authorize(t, &f.current, hint(forged, "none"))
			redirectedWith(t, "a hint not signed by us", err, "login_required")

			login := func(h, prompt string) func(*oauth.AuthParams) {
				return func(p *oauth.AuthParams) { p.LoginHint, p.Prompt = h, prompt }
			}
			for _, h := range []string{strings.ToUpper(f.admin.Traits.Username), f.admin.ID} {
				_, to, err := f.authorize(t, &f.current, login(h, "none"))
				signedIn(t, "login_hint "+h, to, err)
			}
			_, _, err = f.authorize(t, &f.current, login("mallory", "none"))
			redirectedWith(t, "another user's login_hint", err, "interaction_required")
			req, to, err = f.authorize(t, &f.current, login("mallory", ""))
			needsCeremony(t, "another user's login_hint without prompt=none", req, to, err)
		})
	}
}

// idToken returns an ID token of the wiki that the session signed in to.
func (f *ssoFixture) idToken(t *testing.T, v session.Session) string {
	t.Helper()
	_, to, err := f.authorize(t, &v, nil)
	tok, err := f.token(t.Context(), "authorization_code", signedIn(t, "a sign-in for a hint", to, err), "")
	if err != nil {
		t.Fatal(err)
	}
	return tok.IDToken
}

// TestSessionStillAsksPolicy: a session that ended after it was read signs
// in to nothing, and a live one to no application that policy denies its
// identity (policy is decided for each application every time).
func TestSessionStillAsksPolicy(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newSSO(t, eng.Open)
			ctx := t.Context()
			stale := f.signedIn(t, &f.current) // read before it ended
			if _, err := f.st.EndSessions(ctx, session.End{At: f.clock.Now(), Reason: session.ReasonSignedOut, IDs: []string{stale.Session.ID}}); err != nil {
				t.Fatal(err)
			}
			_, _, err := f.authorizeSignedIn(t, stale, func(p *oauth.AuthParams) { p.Prompt = "none" })
			redirectedWith(t, "a session ended after it was read, prompt=none", err, "login_required")
			req, to, err := f.authorizeSignedIn(t, stale, nil)
			needsCeremony(t, "a session ended after it was read", req, to, err)
			if f.signedIn(t, &f.current) != nil {
				t.Error("an ended session is read as signed in")
			}

			// The intranet: no rule lets the administrator in.
			f.current = f.startSession(t, f.admin, f.cred)
			f.app = f.oidcApp(t, "Intranet", "https://wiki.example.com/cb")
			_, _, err = f.authorize(t, &f.current, nil)
			redirectedWith(t, "a denied application", err, "access_denied")
			_, _, err = f.authorize(t, &f.current, func(p *oauth.AuthParams) { p.Prompt = "none" })
			redirectedWith(t, "a denied application with prompt=none", err, "access_denied")
			_, _, err = f.authorize(t, &f.current, func(p *oauth.AuthParams) { p.ResponseMode = oauth.ResponseModeFormPost })
			if re := (*oauth.RedirectError)(nil); !errors.As(err, &re) || !re.FormPost || re.RedirectURI != "https://wiki.example.com/cb" {
				t.Errorf("a denied application with response_mode=form_post: %#v, want the error posted to the redirect URI", err)
			}
			if v, _ := f.st.GetSession(ctx, f.current.ID); len(v.Applications) != 0 {
				t.Errorf("a denied application was recorded: %v", v.Applications)
			}
		})
	}
}

// TestPasskeyAMR: a passkey whose config requires user verification (the
// default) is two factors; one that may skip it, possession only.
func TestPasskeyAMR(t *testing.T) {
	for uv, want := range map[string][]string{"": {"pop", "mfa"}, passkey.UVRequired: {"pop", "mfa"}, passkey.UVPreferred: {"pop"}} {
		if got := oauth.PasskeyAMR(passkey.Config{UserVerification: uv}); !slices.Equal(got, want) {
			t.Errorf("PasskeyAMR with user_verification %q = %v, want %v", uv, got, want)
		}
	}
}
