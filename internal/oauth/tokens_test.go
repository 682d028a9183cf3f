package oauth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/testenv"
)

// signInWith signs the administrator in to the fixture's application with
// scope and redeems the code.
func (s signIns) signInWith(t *testing.T, scope string) oauth.TokenResponse {
	t.Helper()
	req, _, _, err := s.svc.Authorize(t.Context(), s.app.TenantID, s.app.RealmID, s.app.ID, oauth.AuthParams{
		ClientID: s.app.ProtocolConfig.ClientID, RedirectURI: "https://wiki.example.com/cb", ResponseType: "code", Scope: scope}, nil)
	if err != nil {
		t.Fatalf("authorize %q: %v", scope, err)
	}
	tok, err := s.token(t.Context(), "authorization_code", s.approve(t, req), "")
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	return tok
}

// configure changes the fixture's application.
func (s *signIns) configure(t *testing.T, edit func(*oauth.ProtocolConfig)) {
	t.Helper()
	app, err := s.svc.UpdateApplication(t.Context(), s.app.TenantID, s.app.RealmID, s.app.ID, func(a *oauth.Application) error {
		edit(&a.ProtocolConfig)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	app.ProtocolConfig.ClientSecret = s.app.ProtocolConfig.ClientSecret
	s.app = app
}

// TestOfflineAccess: openid offline_access is granted, with a refresh
// token, to an application with the refresh_token grant; without it the
// scope is ignored; the OIDC scopes Latchkey does not honour are ignored.
func TestOfflineAccess(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			tok := s.signInWith(t, "openid offline_access")
			if tok.RefreshToken == "" || tok.Scope != "openid offline_access" || tok.IDToken == "" {
				t.Errorf("openid offline_access: %+v", tok)
			}
			if tok := s.signInWith(t, "openid address phone"); tok.Scope != "openid" {
				t.Errorf("address and phone: scope %q", tok.Scope)
			}
			s.configure(t, func(pc *oauth.ProtocolConfig) { pc.GrantType = []string{"authorization_code"} })
			if tok := s.signInWith(t, "openid offline_access"); tok.RefreshToken != "" || tok.Scope != "openid" {
				t.Errorf("offline_access without the refresh_token grant: %+v", tok)
			}
		})
	}
}

// TestClientCredentialsIgnoresOIDCScopes: OpenID Connect scopes mean
// nothing to client credentials and are ignored; a scope the application
// may not have is refused with a description without quotes.
func TestClientCredentialsIgnoresOIDCScopes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			b := newBounded(t, eng.Open)
			ctx := t.Context()
			app, err := b.svc.CreateApplication(ctx, b.creds.TenantID, b.creds.RealmID, b.ccApp("identities:read", "groups:read"))
			if err != nil {
				t.Fatal(err)
			}
			token := func(scope string) (oauth.TokenResponse, error) {
				return b.svc.Token(ctx, oauth.TokenRequest{TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID,
					GrantType: "client_credentials", ClientID: app.ProtocolConfig.ClientID, ClientSecret: app.ProtocolConfig.ClientSecret, Scope: scope})
			}
			for scope, want := range map[string]string{
				"openid offline_access identities:read address phone": "identities:read",
				"openid profile email":                                "",
				"":                                                    "identities:read groups:read",
			} {
				if tok, err := token(scope); err != nil || tok.Scope != want {
					t.Errorf("scope %q: %+v %v, want %q", scope, tok, err, want)
				}
			}
			_, err = token("openid pets:read")
			var e *oauth.Error
			if !errors.As(err, &e) || e.Code != "invalid_scope" || strings.ContainsAny(e.Description, `"\`) {
				t.Errorf("a scope not allowed: %v", err)
			}
		})
	}
}

// TestRefreshRotationAndLifetimes moves the clock through an application's
// refresh token lifetime and absolute lifetime, with rotation on and off.
func TestRefreshRotationAndLifetimes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			refresh := func(token string) (oauth.TokenResponse, error) { return s.token(ctx, "refresh_token", "", token) }

			// Rotating, one hour each, two hours in all after the code's redemption.
			s.configure(t, func(pc *oauth.ProtocolConfig) {
				pc.RefreshTokenConfiguration = oauth.RefreshTokenConfiguration{ExpiresAfter: 3600, AbsoluteLifetime: 7200}
			})
			first := s.signInWith(t, "openid offline_access")
			s.clock.Advance(50 * time.Minute)
			second, err := refresh(first.RefreshToken)
			if err != nil || second.RefreshToken == first.RefreshToken {
				t.Fatalf("a rotating refresh: %+v %v", second, err)
			}
			s.clock.Advance(50 * time.Minute)
			third, err := refresh(second.RefreshToken)
			if err != nil {
				t.Fatalf("the rotated token within both lifetimes: %v", err)
			}
			s.clock.Advance(20 * time.Minute) // two hours after the sign-in, 40 minutes before the token's hour
			if _, err := refresh(third.RefreshToken); err != nil {
				t.Fatalf("at the absolute lifetime's last instant: %v", err)
			}
			// That refresh rotated it: its successor is bound by the same deadline.
			s.clock.Advance(time.Microsecond)
			_, err = refresh(third.RefreshToken)
			wantOAuthError(t, "the spent token", err, "invalid_grant")

			again := s.signInWith(t, "openid")
			fresh, err := refresh(again.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(2*time.Hour + time.Microsecond)
			_, err = refresh(fresh.RefreshToken)
			wantOAuthError(t, "past the absolute lifetime", err, "invalid_grant")

			// Reuse detection stays with rotation.
			reused := s.signInWith(t, "openid")
			next, err := refresh(reused.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			_, err = refresh(reused.RefreshToken)
			wantOAuthError(t, "a spent token used again", err, "invalid_grant")
			_, err = refresh(next.RefreshToken)
			wantOAuthError(t, "its successor after the reuse", err, "invalid_grant")

			// Non-rotating, one hour, no absolute bound: the same token, again
			// and again, until its hour is over.
			s.configure(t, func(pc *oauth.ProtocolConfig) {
				pc.RefreshTokenConfiguration = oauth.RefreshTokenConfiguration{ExpiresAfter: 3600, RotationType: oauth.NonRotating}
			})
			kept := s.signInWith(t, "openid")
			for range 3 {
				s.clock.Advance(20 * time.Minute)
				tok, err := refresh(kept.RefreshToken)
				if err != nil || tok.RefreshToken != kept.RefreshToken || tok.AccessToken == "" {
					t.Fatalf("a non-rotating refresh: %+v %v", tok, err)
				}
			}
			s.clock.Advance(time.Microsecond)
			_, err = refresh(kept.RefreshToken)
			wantOAuthError(t, "a non-rotating token past its lifetime", err, "invalid_grant")
		})
	}
}

// TestIntrospectionAsClient: an application's own credentials introspect
// the tokens it issued; another application's token is inactive for it;
// bad credentials, another realm's or tenant's, and public clients are
// refused with invalid_client.
func TestIntrospectionAsClient(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			a := s.app
			b, err := s.svc.CreateApplication(ctx, a.TenantID, a.RealmID, oauth.Application{DisplayName: "Blog",
				ProtocolConfig: oauth.ProtocolConfig{Type: "oidc", GrantType: []string{"authorization_code"}, RedirectURIs: []string{"https://blog.example.com/cb"},
					TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600}}})
			if err != nil {
				t.Fatal(err)
			}
			public, err := s.svc.CreateApplication(ctx, a.TenantID, a.RealmID, oauth.Application{DisplayName: "SPA",
				ProtocolConfig: oauth.ProtocolConfig{Type: "oidc", Confidentiality: "public", PKCE: "s256", GrantType: []string{"authorization_code"},
					RedirectURIs: []string{"https://spa.example.com/cb"}, TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600}}})
			if err != nil {
				t.Fatal(err)
			}
			tok := s.signInWith(t, "openid")
			as := func(app oauth.Application, byClientID bool, tenant, realm, secret string) (oauth.Introspection, error) {
				req := oauth.TokenRequest{TenantID: tenant, RealmID: realm, ApplicationID: app.ID, ClientID: app.ProtocolConfig.ClientID, ClientSecret: secret}
				if byClientID {
					req.ApplicationID = ""
				}
				return s.svc.IntrospectAsClient(ctx, req, tok.AccessToken)
			}
			for _, byClientID := range []bool{false, true} {
				if got, err := as(a, byClientID, a.TenantID, a.RealmID, a.ProtocolConfig.ClientSecret); err != nil || !got.Active || got.Subject == "" {
					t.Errorf("its own token (by client id %v): %+v %v", byClientID, got, err)
				}
				if got, err := as(b, byClientID, a.TenantID, a.RealmID, b.ProtocolConfig.ClientSecret); err != nil || got.Active || got.Subject != "" {
					t.Errorf("another application's token (by client id %v): %+v %v", byClientID, got, err)
				}
				for what, err := range map[string]error{
					"a wrong secret":   second(as(a, byClientID, a.TenantID, a.RealmID, "wrong")),
					"another realm":    second(as(a, byClientID, a.TenantID, s.console.RealmID+"x", a.ProtocolConfig.ClientSecret)),
					"another tenant":   second(as(a, byClientID, "0001ffffffffffff", a.RealmID, a.ProtocolConfig.ClientSecret)),
					"a public client":  second(as(public, byClientID, a.TenantID, a.RealmID, "")),
					"no client at all": second(as(oauth.Application{}, byClientID, a.TenantID, a.RealmID, "")),
				} {
					wantOAuthError(t, what, err, "invalid_client")
				}
			}
			// Refresh tokens too, while they may be used.
			refresh := func(app oauth.Application, secret string) oauth.Introspection {
				got, err := s.svc.IntrospectAsClient(ctx, oauth.TokenRequest{TenantID: a.TenantID, RealmID: a.RealmID, ApplicationID: app.ID,
					ClientID: app.ProtocolConfig.ClientID, ClientSecret: secret}, tok.RefreshToken)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			if got := refresh(a, a.ProtocolConfig.ClientSecret); !got.Active || got.TokenType != "refresh_token" || got.Subject != s.admin.ID ||
				got.ClientID != a.ProtocolConfig.ClientID || got.Scope != "openid" {
				t.Errorf("its refresh token: %+v", got)
			}
			if got := refresh(b, b.ProtocolConfig.ClientSecret); got.Active {
				t.Errorf("another application's refresh token: %+v", got)
			}
			if _, err := s.token(ctx, "refresh_token", "", tok.RefreshToken); err != nil {
				t.Fatal(err)
			}
			if got := refresh(a, a.ProtocolConfig.ClientSecret); got.Active {
				t.Errorf("a spent refresh token: %+v", got)
			}
			// The management token's introspection sees every token of the realm.
			if got, err := s.svc.Introspect(ctx, a.TenantID, a.RealmID, tok.AccessToken); err != nil || !got.Active {
				t.Errorf("with a management token: %+v %v", got, err)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestUserInfoOfItsApplication: userinfo answers for the application's own
// tokens, with the profile claims, and refuses another application's.
func TestUserInfoOfItsApplication(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			a := s.app
			tok := s.signInWith(t, "openid profile")
			p, err := s.svc.Verify(ctx, tok.AccessToken)
			if err != nil || p.ApplicationID != a.ID {
				t.Fatalf("verify: %+v %v", p, err)
			}
			claims, err := s.svc.UserInfo(ctx, a.TenantID, a.RealmID, a.ID, p)
			if err != nil || claims.Subject != s.admin.ID || claims.UpdatedAt != s.admin.UpdateTime.Unix() || claims.Name != s.admin.DisplayName {
				t.Errorf("userinfo: %+v %v", claims, err)
			}
			apps, _, err := s.svc.ListApplications(ctx, a.TenantID, a.RealmID, latchkey.ListOptions{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(apps, func(o oauth.Application) bool { return o.ID != a.ID })
			if _, err := s.svc.UserInfo(ctx, a.TenantID, a.RealmID, apps[i].ID, p); !errors.Is(err, oauth.ErrInvalidToken) {
				t.Errorf("another application's userinfo: %v", err)
			}
		})
	}
}

// TestVerifyChecksEachRequest: a node keeps the claims of a JWT whose
// signature it checked, but a token revoked since is refused at once, and
// a token changed in any byte is checked anew and refused.
func TestVerifyChecksEachRequest(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			tok := s.signInWith(t, "openid")
			for range 2 {
				if _, err := s.svc.Verify(ctx, tok.AccessToken); err != nil {
					t.Fatalf("verify: %v", err)
				}
			}
			header, rest, _ := strings.Cut(tok.AccessToken, ".")
			payload, signature, _ := strings.Cut(rest, ".")
			changed := []byte(payload)
			changed[len(changed)/2] ^= 1
			if _, err := s.svc.Verify(ctx, header+"."+string(changed)+"."+signature); !errors.Is(err, oauth.ErrInvalidToken) {
				t.Errorf("a changed payload: %v", err)
			}
			p, err := s.svc.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.svc.DeleteToken(ctx, s.app.TenantID, s.app.RealmID, s.app.ID, p.TokenID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.svc.Verify(ctx, tok.AccessToken); !errors.Is(err, oauth.ErrInvalidToken) {
				t.Errorf("a revoked token, checked a moment before: %v", err)
			}
		})
	}
}

// TestCodeRedeemedWhereIssued: the node that issued a code redeems it
// without reading its sign-in back, so its ID token names the identity as
// it signed in; another node reads the sign-in and the identity as they
// are. Either way a code is spent once (a replay revokes what the first
// redemption issued) and not for an identity suspended since.
func TestCodeRedeemedWhereIssued(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			other := s // another node of the same database
			other.svc = oauth.NewService(s.st.OAuth(), s.box, policy.NewService(s.st.Policy()), "http://localhost")
			other.svc.Clock = s.clock.Now
			if err := other.svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			signIn := func() string {
				req, _, _, err := s.svc.Authorize(ctx, s.app.TenantID, s.app.RealmID, s.app.ID, oauth.AuthParams{ClientID: s.app.ProtocolConfig.ClientID,
					RedirectURI: "https://wiki.example.com/cb", ResponseType: "code", Scope: "openid profile"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return s.approve(t, req)
			}
			here, there, suspended := signIn(), signIn(), signIn()
			dir := directory.NewService(s.st.Directory())
			renamed := "Renamed after signing in"
			if _, err := dir.UpdateIdentity(ctx, s.admin.TenantID, s.admin.RealmID, s.admin.ID, directory.IdentityPatch{DisplayName: &renamed}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				node       signIns
				code, what string
				name       string
			}{{s, here, "the code at the node that issued it", s.admin.DisplayName}, {other, there, "the code at another node", renamed}} {
				tok, err := c.node.token(ctx, "authorization_code", c.code, "")
				if err != nil {
					t.Fatalf("%s: %v", c.what, err)
				}
				if got := idTokenClaims(t, tok.IDToken)["name"]; got != c.name {
					t.Errorf("%s: the ID token's name %q, want %q", c.what, got, c.name)
				}
				if _, err := c.node.svc.Verify(ctx, tok.AccessToken); err != nil {
					t.Fatalf("%s: the access token: %v", c.what, err)
				}
				_, err = c.node.token(ctx, "authorization_code", c.code, "")
				wantOAuthError(t, c.what+", again", err, "invalid_grant")
				if _, err := c.node.svc.Verify(ctx, tok.AccessToken); err == nil {
					t.Errorf("%s: the first redemption's access token still verifies after a replay", c.what)
				}
			}
			status := directory.StatusSuspended
			if _, err := dir.UpdateIdentity(ctx, s.admin.TenantID, s.admin.RealmID, s.admin.ID, directory.IdentityPatch{Status: &status}); err != nil {
				t.Fatal(err)
			}
			_, err := s.token(ctx, "authorization_code", suspended, "")
			wantOAuthError(t, "the code of an identity suspended since, at the node that issued it", err, "invalid_grant")
		})
	}
}
