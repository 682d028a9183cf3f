package oauth_test

import (
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestTokenSigningAlgorithm: an application's tokens are signed with its
// token_signing_algorithm, RS256 unless it chose ES256, by a key of the
// JWKS that says its alg; discovery says the same; the tokens verify;
// other algorithms are refused.
func TestTokenSigningAlgorithm(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			s := newSignIns(t, eng.Open)
			ctx := t.Context()
			signedWith := func(what, raw string, want jose.SignatureAlgorithm) {
				t.Helper()
				jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				h := jws.Signatures[0].Header
				set := s.svc.JWKS()
				keys := set.Key(h.KeyID)
				if h.Algorithm != string(want) || len(keys) != 1 || keys[0].Algorithm != string(want) {
					t.Fatalf("%s: alg %s kid %q (%d keys), want %s", what, h.Algorithm, h.KeyID, len(keys), want)
				}
				if _, err := jws.Verify(keys[0]); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
			advertised := func(want jose.SignatureAlgorithm) {
				t.Helper()
				m, err := s.svc.Metadata(ctx, s.app.TenantID, s.app.RealmID, s.app.ID)
				if algs, _ := m["id_token_signing_alg_values_supported"].([]string); err != nil || len(algs) != 1 || algs[0] != string(want) {
					t.Errorf("discovery: %v %v, want %s", m["id_token_signing_alg_values_supported"], err, want)
				}
			}

			if s.app.ProtocolConfig.TokenConfiguration.TokenSigningAlgorithm != "RS256" {
				t.Errorf("default algorithm %q", s.app.ProtocolConfig.TokenConfiguration.TokenSigningAlgorithm)
			}
			tok := s.signInWith(t, "openid")
			signedWith("RS256 access token", tok.AccessToken, jose.RS256)
			signedWith("RS256 ID token", tok.IDToken, jose.RS256)
			advertised(jose.RS256)

			s.configure(t, func(pc *oauth.ProtocolConfig) { pc.TokenConfiguration.TokenSigningAlgorithm = "ES256" })
			advertised(jose.ES256)
			tok = s.signInWith(t, "openid")
			signedWith("ES256 access token", tok.AccessToken, jose.ES256)
			signedWith("ES256 ID token", tok.IDToken, jose.ES256)
			if p, err := s.svc.Verify(ctx, tok.AccessToken); err != nil || p.ID != s.admin.ID {
				t.Errorf("verify an ES256 access token: %+v %v", p, err)
			}

			cc := s.ccApp("identities:read")
			cc.ProtocolConfig.TokenConfiguration.TokenSigningAlgorithm = "ES256"
			app, err := s.svc.CreateApplication(ctx, s.console.TenantID, s.console.RealmID, cc)
			if err != nil {
				t.Fatal(err)
			}
			ccTok, err := s.svc.Token(ctx, oauth.TokenRequest{TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID,
				GrantType: "client_credentials", ClientID: app.ProtocolConfig.ClientID, ClientSecret: app.ProtocolConfig.ClientSecret})
			if err != nil {
				t.Fatal(err)
			}
			signedWith("ES256 client credentials", ccTok.AccessToken, jose.ES256)
			if p, err := s.svc.Verify(ctx, ccTok.AccessToken); err != nil || p.ID == "" || p.Scopes[0] != "identities:read" {
				t.Errorf("verify an ES256 client credentials token: %+v %v", p, err)
			}

			for _, alg := range []string{"HS256", "EdDSA", "none", "es256"} {
				cc.ProtocolConfig.TokenConfiguration.TokenSigningAlgorithm = alg
				_, err := s.svc.CreateApplication(ctx, s.console.TenantID, s.console.RealmID, cc)
				wantCode(t, alg, err, latchkey.CodeBadRequest)
			}
		})
	}
}
