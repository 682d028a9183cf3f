package oauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// signIns is a bootstrapped database with an OIDC application that issues
// refresh tokens, which the console's administrator may use, and a service
// on a clock the test moves.
type signIns struct {
	bounded
	clock *testenv.Clock
	app   oauth.Application
	admin directory.Identity
	cred  string // the administrator's passkey
}

func newSignIns(t *testing.T, open func(testing.TB) *sqlstore.Store) signIns {
	t.Helper()
	ctx := t.Context()
	b := newBounded(t, open)
	s := signIns{bounded: b, clock: testenv.NewClock()}
	b.svc.Clock = s.clock.Now
	s.app = b.oidcApp(t, "Wiki", "https://wiki.example.com/cb")
	policies := policy.NewService(b.st.Policy())
	p, err := policies.Get(ctx, b.console.TenantID, b.console.RealmID)
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, policy.Rule{Effect: policy.Allow, Applications: []string{s.app.ID}, Groups: []string{b.console.GroupID}, Identities: []string{}})
	if _, err := policies.Put(ctx, b.console.TenantID, b.console.RealmID, p); err != nil {
		t.Fatal(err)
	}
	if s.admin, err = directory.NewService(b.st.Directory()).GetIdentity(ctx, b.console.TenantID, b.console.RealmID, b.console.AdminIdentityID); err != nil {
		t.Fatal(err)
	}
	s.cred = latchkey.NewID()
	addCredential(t, b.st, s.admin, s.cred, s.clock.Now())
	return s
}

// addCredential gives an identity an active passkey with id cred.
func addCredential(t *testing.T, st *sqlstore.Store, i directory.Identity, cred string, now time.Time) {
	t.Helper()
	if err := st.CreateCredential(t.Context(), passkey.Credential{ID: cred, IdentityID: i.ID, RealmID: i.RealmID, TenantID: i.TenantID,
		State: passkey.Active, CSRType: passkey.CSRJWT, JWKJSON: "{}", JWKThumbprint: "tp-" + cred, CreateTime: now, UpdateTime: now}); err != nil {
		t.Fatal(err)
	}
}

// oidcApp creates a confidential OIDC application of the console's realm
// that issues refresh tokens.
func (b bounded) oidcApp(t *testing.T, name, redirectURI string) oauth.Application {
	t.Helper()
	app, err := b.svc.CreateApplication(t.Context(), b.console.TenantID, b.console.RealmID, oauth.Application{DisplayName: name,
		ResourceServerID: b.console.ResourceServerID, ProtocolConfig: oauth.ProtocolConfig{
			Type: "oidc", GrantType: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{redirectURI},
			Confidentiality: "confidential", TokenEndpointAuthMethod: "client_secret_basic",
			TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600}}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func (s signIns) authorize(t *testing.T) oauth.AuthRequest {
	t.Helper()
	req, _, _, err := s.svc.Authorize(t.Context(), s.app.TenantID, s.app.RealmID, s.app.ID, oauth.AuthParams{
		ClientID: s.app.ProtocolConfig.ClientID, RedirectURI: "https://wiki.example.com/cb", ResponseType: "code", Scope: "openid"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (s signIns) approve(t *testing.T, req oauth.AuthRequest) string {
	t.Helper()
	code, _, err := s.svc.Approve(t.Context(), req, s.admin, s.cred)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (s signIns) token(ctx context.Context, grant, code, refresh string) (oauth.TokenResponse, error) {
	return s.svc.Token(ctx, oauth.TokenRequest{TenantID: s.app.TenantID, RealmID: s.app.RealmID, ApplicationID: s.app.ID,
		GrantType: grant, ClientID: s.app.ProtocolConfig.ClientID, ClientSecret: s.app.ProtocolConfig.ClientSecret,
		Code: code, RedirectURI: "https://wiki.example.com/cb", RefreshToken: refresh})
}

func wantOAuthError(t *testing.T, what string, err error, code string) {
	t.Helper()
	if e := (*oauth.Error)(nil); !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

// TestSignInExpiry moves the clock to the last instant of a sign-in, a
// code and a refresh token, and one microsecond past it.
func TestSignInExpiry(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			app := s.app

			req := s.authorize(t)
			s.clock.Advance(oauth.AuthRequestTTL)
			if _, err := s.svc.PendingAuthRequest(ctx, app.TenantID, app.RealmID, app.ID, req.ID); err != nil {
				t.Errorf("a sign-in at its last instant: %v", err)
			}
			s.clock.Advance(time.Microsecond)
			if _, err := s.svc.PendingAuthRequest(ctx, app.TenantID, app.RealmID, app.ID, req.ID); err == nil {
				t.Error("a sign-in past its lifetime is still pending")
			}
			if _, _, err := s.svc.Approve(ctx, req, s.admin, s.cred); err == nil {
				t.Error("a sign-in past its lifetime was approved")
			}

			code := s.approve(t, s.authorize(t))
			s.clock.Advance(oauth.CodeTTL + time.Microsecond)
			_, err := s.token(ctx, "authorization_code", code, "")
			wantOAuthError(t, "a code past its lifetime", err, "invalid_grant")

			code = s.approve(t, s.authorize(t))
			s.clock.Advance(oauth.CodeTTL)
			tok, err := s.token(ctx, "authorization_code", code, "")
			if err != nil || tok.RefreshToken == "" {
				t.Fatalf("a code at its last instant: %+v, %v", tok, err)
			}

			s.clock.Advance(oauth.RefreshTokenTTL)
			if tok, err = s.token(ctx, "refresh_token", "", tok.RefreshToken); err != nil {
				t.Fatalf("a refresh token at its last instant: %v", err)
			}
			s.clock.Advance(oauth.RefreshTokenTTL + time.Microsecond)
			_, err = s.token(ctx, "refresh_token", "", tok.RefreshToken)
			wantOAuthError(t, "a refresh token past its lifetime", err, "invalid_grant")
		})
	}
}

// TestClientCacheAcrossNodes: a secret regenerated on one node goes on
// authenticating the client on another that checked it until
// ClientCacheTTL has passed on its clock, and no longer.
func TestClientCacheAcrossNodes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := newSignIns(t, eng.Open)
			ctx, app := t.Context(), s.app
			there := oauth.NewService(s.st.OAuth(), s.box, policy.NewService(s.st.Policy()), "http://localhost")
			there.Clock = s.clock.Now
			// The application may not use client_credentials: an authenticated
			// client hears unauthorized_client, another invalid_client.
			authenticates := func() bool {
				t.Helper()
				_, err := there.Token(ctx, oauth.TokenRequest{TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID,
					GrantType: "client_credentials", ClientID: app.ProtocolConfig.ClientID, ClientSecret: app.ProtocolConfig.ClientSecret})
				var e *oauth.Error
				if !errors.As(err, &e) || e.Code != "unauthorized_client" && e.Code != "invalid_client" {
					t.Fatalf("client_credentials: %v", err)
				}
				return e.Code == "unauthorized_client"
			}
			if !authenticates() {
				t.Fatal("the secret does not authenticate the client")
			}
			if _, err := s.svc.RegenerateSecret(ctx, app.TenantID, app.RealmID, app.ID); err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(oauth.ClientCacheTTL)
			if !authenticates() {
				t.Error("the other node stopped trusting what it checked before ClientCacheTTL")
			}
			s.clock.Advance(time.Microsecond)
			if authenticates() {
				t.Error("the old secret still authenticates on the other node after ClientCacheTTL")
			}
		})
	}
}
