package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// eamFixture is ssoFixture with an entra_id_external_auth_methods config
// (the real sso service) whose application policy lets the administrator
// use, assigned to the administrator, and a stand-in for Entra's keys.
type eamFixture struct {
	*ssoFixture
	sso     *sso.Service
	config  sso.Config
	eamApp  oauth.Application
	entra   *httptest.Server
	key     *rsa.PrivateKey
	fetches atomic.Int32
}

func newEAM(t *testing.T, open func(testing.TB) *sqlstore.Store) *eamFixture {
	t.Helper()
	ctx := t.Context()
	f := &eamFixture{ssoFixture: newSSO(t, open)}
	var err error
	if f.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	f.entra = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/common/discovery/v2.0/keys" {
			http.NotFound(w, r)
			return
		}
		f.fetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(f.entra.Close)
	f.sso = sso.NewService(f.st.SSO(), f.box, f.svc, "http://localhost")
	f.sso.Clock = f.clock.Now
	f.svc.Entra.Configs, f.svc.Entra.Authority, f.svc.Entra.AppIDs = f.sso, f.entra.URL, []string{"latchkey-app-id"}
	f.svc.Entra.Fetch = func(ctx context.Context, u string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	name := "Entra MFA"
	f.config, err = f.sso.Create(ctx, f.admin.TenantID, f.admin.RealmID, sso.In{DisplayName: &name, Payload: json.RawMessage(
		`{"type":"entra_id_external_auth_methods","redirect_uris":["` + f.entra.URL + oauth.EntraRedirectPath + `"],"discover_endpoint":"global_azure"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if f.eamApp, err = f.svc.GetApplication(ctx, f.admin.TenantID, f.admin.RealmID, f.config.ApplicationID); err != nil {
		t.Fatal(err)
	}
	policies := policy.NewService(f.st.Policy())
	p, err := policies.Get(ctx, f.admin.TenantID, f.admin.RealmID)
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, policy.Rule{Effect: policy.Allow, Applications: []string{f.eamApp.ID}, Groups: []string{}, Identities: []string{}})
	if _, err := policies.Put(ctx, f.admin.TenantID, f.admin.RealmID, p); err != nil {
		t.Fatal(err)
	}
	if err := f.sso.AddIdentities(ctx, f.admin.TenantID, f.admin.RealmID, f.config.ID, []string{f.admin.ID}); err != nil {
		t.Fatal(err)
	}
	return f
}

// hint is Entra's id_token_hint for the administrator, issued now (by the
// test's clock) and already expired, as Entra issues it; change edits it.
func (f *eamFixture) hint(t *testing.T, change func(map[string]any)) string {
	t.Helper()
	now := f.clock.Now().Unix()
	c := map[string]any{"iss": f.entra.URL + "/tenant-1/v2.0", "sub": "entra-sub", "aud": f.eamApp.ProtocolConfig.ClientID,
		"exp": now - 1, "iat": now, "nbf": now, "preferred_username": f.admin.Traits.Username, "oid": "oid-1", "tid": "tid-1"}
	kid := "k1"
	if change != nil {
		change(c)
		if k, ok := c["kid"].(string); ok {
			kid = k
			delete(c, "kid")
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// authorizeEAM is Entra's request with hint and claims, from a browser
// with the administrator's session when withSession.
func (f *eamFixture) authorizeEAM(t *testing.T, hint, claims string, withSession bool) (oauth.AuthRequest, string, error) {
	t.Helper()
	p := oauth.AuthParams{ClientID: f.eamApp.ProtocolConfig.ClientID, RedirectURI: f.entra.URL + oauth.EntraRedirectPath,
		ResponseType: "id_token", ResponseMode: "form_post", Scope: "openid", State: "st", Nonce: "n", IDTokenHint: hint, Claims: claims}
	var current *oauth.SignedIn
	if withSession {
		current = f.signedIn(t, &f.current)
	}
	req, _, to, err := f.svc.Authorize(t.Context(), f.eamApp.TenantID, f.eamApp.RealmID, f.eamApp.ID, p, current)
	return req, to, err
}

// hintRefused asserts that Entra hears invalid_request about the hint, posted.
func hintRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	var re *oauth.RedirectError
	if !errors.As(err, &re) || re.Err.Code != "invalid_request" || !strings.Contains(re.Err.Description, want) || !re.FormPost {
		t.Errorf("%s: %v, want invalid_request (%s) posted to Entra", what, err, want)
	}
}

// TestEAMHint: Entra's hint is taken only signed by Entra's keys, from one
// of its tenants, for the config's client id or Latchkey's app id, and
// dated by iat (not exp: Entra issues it expired) within 10 minutes, by
// the service's clock; a browser's session does not spare the passkey.
func TestEAMHint(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newEAM(t, eng.Open)
			hint := f.hint(t, nil)
			req, to, err := f.authorizeEAM(t, hint, "", true)
			needsCeremony(t, "a hint with a live session", req, to, err)
			if e := req.Params.EAM; e == nil || e.IdentityID != f.admin.ID || e.Subject != "entra-sub" || e.TID != "tid-1" || e.OID != "oid-1" ||
				e.ACR != "possessionorinherence" || e.AMR != "fido" || req.Params.IDTokenHint != "" {
				t.Errorf("the sign-in keeps %+v", req.Params)
			}
			_, _, err = f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["aud"] = "latchkey-app-id" }), "", false)
			if err != nil {
				t.Errorf("a hint for Latchkey's app id: %v", err)
			}

			f.clock.Advance(9*time.Minute + 59*time.Second)
			if _, _, err := f.authorizeEAM(t, hint, "", false); err != nil {
				t.Errorf("a hint of 9m59s ago: %v", err)
			}
			f.clock.Advance(2 * time.Second)
			_, _, err = f.authorizeEAM(t, hint, "", false)
			hintRefused(t, "a hint of 10m01s ago", err, "10 minutes")

			for _, tc := range []struct {
				name   string
				change func(map[string]any)
				want   string
			}{
				{"issued in the future", func(c map[string]any) { c["iat"] = f.clock.Now().Add(6 * time.Minute).Unix() }, "not valid yet"},
				{"not before the future", func(c map[string]any) { c["nbf"] = f.clock.Now().Add(6 * time.Minute).Unix() }, "not valid yet"},
				{"no iat", func(c map[string]any) { delete(c, "iat") }, "10 minutes"},
				{"another audience", func(c map[string]any) { c["aud"] = "another-client" }, "audience"},
				{"another issuer", func(c map[string]any) { c["iss"] = "https://login.example.com/tenant-1/v2.0" }, "issuer"},
				{"a tenant with a slash", func(c map[string]any) { c["iss"] = f.entra.URL + "/a/b/v2.0" }, "issuer"},
				{"an unknown kid", func(c map[string]any) { c["kid"] = "k2" }, "kid"},
			} {
				_, _, err := f.authorizeEAM(t, f.hint(t, tc.change), "", false)
				hintRefused(t, tc.name, err, tc.want)
			}
		})
	}
}

// TestEAMKeys: Entra's keys are fetched once, then again for an unknown
// kid at most every 5 minutes; when they cannot be fetched Entra hears
// temporarily_unavailable.
func TestEAMKeys(t *testing.T) {
	f := newEAM(t, testenv.OpenSQLite)
	unknown := func(c map[string]any) { c["kid"] = "rolled" }
	for range 3 {
		f.authorizeEAM(t, f.hint(t, nil), "", false)
		f.authorizeEAM(t, f.hint(t, unknown), "", false)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("fetched %d times in a minute, want once", n)
	}
	f.clock.Advance(6 * time.Minute)
	f.authorizeEAM(t, f.hint(t, unknown), "", false)
	f.authorizeEAM(t, f.hint(t, unknown), "", false)
	if n := f.fetches.Load(); n != 2 {
		t.Errorf("fetched %d times, want twice (an unknown kid after 5 minutes)", n)
	}
	f.entra.Close()
	f.clock.Advance(6 * time.Minute)
	_, _, err := f.authorizeEAM(t, f.hint(t, unknown), "", false)
	var re *oauth.RedirectError
	if !errors.As(err, &re) || re.Err.Code != "temporarily_unavailable" {
		t.Errorf("Entra's keys out of reach: %v", err)
	}
}

// TestEAMIdentity: the hint's oid names the identity whose external_id it
// is, before its preferred_username names one by username or e-mail; an
// attribute two identities share names neither; an identity that is
// unknown, suspended or not assigned is refused before any passkey.
func TestEAMIdentity(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newEAM(t, eng.Open)
			dir := directory.NewService(f.st.Directory())
			mk := func(username, email, externalID string) directory.Identity {
				i, err := dir.CreateIdentity(t.Context(), f.admin.TenantID, f.admin.RealmID, directory.Identity{DisplayName: username,
					Traits: directory.Traits{Type: directory.TraitsV0, Username: username, PrimaryEmailAddress: email, ExternalID: externalID}})
				if err != nil {
					t.Fatal(err)
				}
				return i
			}
			byOID := mk("olga", "", "oid-olga")
			mk("twin1", "twin@contoso.com", "")
			mk("twin2", "twin@contoso.com", "")
			refusedAs := func(what string, err error, kind string) {
				t.Helper()
				var r *oauth.EAMRefused
				if !errors.As(err, &r) || r.Kind != kind || r.Redirect.Err.Code != "access_denied" || !r.Redirect.FormPost {
					t.Errorf("%s: %v, want refused as %s", what, err, kind)
				}
			}
			// olga is not assigned: the oid found her, not the administrator.
			_, _, err := f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["oid"] = byOID.Traits.ExternalID }), "", false)
			refusedAs("the oid of olga", err, oauth.EAMUnassigned)
			_, _, err = f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["preferred_username"] = "twin@contoso.com" }), "", false)
			refusedAs("an e-mail address two share", err, oauth.EAMUnknown)
			_, _, err = f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["preferred_username"] = "nobody@contoso.com" }), "", false)
			refusedAs("no such account", err, oauth.EAMUnknown)
			if err := f.sso.AddIdentities(t.Context(), f.admin.TenantID, f.admin.RealmID, f.config.ID, []string{byOID.ID}); err != nil {
				t.Fatal(err)
			}
			req, _, err := f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["oid"] = byOID.Traits.ExternalID }), "", false)
			if err != nil || req.Params.EAM.IdentityID != byOID.ID {
				t.Errorf("olga assigned: %+v %v", req.Params.EAM, err)
			}
			suspended := directory.StatusSuspended
			if _, err := dir.UpdateIdentity(t.Context(), f.admin.TenantID, f.admin.RealmID, byOID.ID, directory.IdentityPatch{Status: &suspended}); err != nil {
				t.Fatal(err)
			}
			_, _, err = f.authorizeEAM(t, f.hint(t, func(c map[string]any) { c["oid"] = byOID.Traits.ExternalID }), "", false)
			refusedAs("olga suspended", err, oauth.EAMSuspended)
		})
	}
}

// TestEAMAnswer: the hinted identity's passkey finishes the sign-in with
// an ID token for Entra (no code): the hint's sub, tid and oid, Entra's
// nonce, the acr and amr picked from the claims request; another
// identity's passkey, or an identity unassigned meanwhile, is denied; a
// claims request no passkey satisfies is refused.
func TestEAMAnswer(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newEAM(t, eng.Open)
			req, _, err := f.authorizeEAM(t, f.hint(t, nil), `{"id_token":{"acr":{"essential":true,"values":["knowledgeorpossession","inherence"]},"amr":{"values":["otp","swk","hwk"]}}}`, false)
			if err != nil {
				t.Fatal(err)
			}
			code, to, err := f.svc.ApproveInSession(t.Context(), req, f.admin, f.current)
			u, _ := url.Parse(to)
			if err != nil || code != "" || !strings.HasPrefix(to, f.entra.URL+oauth.EntraRedirectPath+"?") || u.Query().Get("state") != "st" {
				t.Fatalf("approved: %q %q %v", code, to, err)
			}
			c := idTokenClaims(t, u.Query().Get("id_token"))
			if c["iss"] != f.svc.Issuer(f.eamApp.TenantID, f.eamApp.RealmID, f.eamApp.ID) || c["sub"] != "entra-sub" || c["aud"].([]any)[0] != f.eamApp.ProtocolConfig.ClientID ||
				c["nonce"] != "n" || c["acr"] != "knowledgeorpossession" || c["amr"].([]any)[0] != "hwk" || len(c["amr"].([]any)) != 1 || c["tid"] != "tid-1" || c["oid"] != "oid-1" {
				t.Errorf("the answer's claims: %v", c)
			}
			if _, _, err := f.svc.ApproveInSession(t.Context(), req, f.admin, f.current); err == nil {
				t.Error("a finished sign-in was approved again")
			}

			mallory, err := directory.NewService(f.st.Directory()).GetIdentity(t.Context(), f.admin.TenantID, f.admin.RealmID, f.plainID)
			if err != nil {
				t.Fatal(err)
			}
			req, _, err = f.authorizeEAM(t, f.hint(t, nil), "", false)
			if err != nil {
				t.Fatal(err)
			}
			var denied *oauth.Denied
			if _, _, err := f.svc.Approve(t.Context(), req, mallory, "cred-m"); !errors.As(err, &denied) {
				t.Errorf("another identity's passkey: %v", err)
			}
			if err := f.sso.DeleteIdentities(t.Context(), f.admin.TenantID, f.admin.RealmID, f.config.ID, []string{f.admin.ID}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.ApproveInSession(t.Context(), req, f.admin, f.current); !errors.As(err, &denied) {
				t.Errorf("unassigned after the request: %v", err)
			}

			for _, claims := range []string{`{"id_token":{"acr":{"values":["knowledge"]}}}`, `{"id_token":{"amr":{"values":["sms","tel"]}}}`, `not json`} {
				_, _, err := f.authorizeEAM(t, f.hint(t, nil), claims, false)
				var re *oauth.RedirectError
				if !errors.As(err, &re) || re.Err.Code != "invalid_request" {
					t.Errorf("claims %s: %v", claims, err)
				}
			}
		})
	}
}

// TestJWKSCertificates: each RS256 key of the JWKS carries a self-signed
// certificate of itself (x5c, which Entra ID wants), and two nodes on one
// database publish the same certificate.
func TestJWKSCertificates(t *testing.T) {
	b := newBounded(t, testenv.OpenSQLite)
	other := oauth.NewService(b.st.OAuth(), b.box, policy.NewService(b.st.Policy()), "http://localhost")
	if err := other.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	mine, theirs := b.svc.JWKS(), other.JWKS()
	seen := 0
	for _, k := range mine.Keys {
		if k.Algorithm != string(jose.RS256) {
			continue
		}
		seen++
		o := theirs.Key(k.KeyID)
		if len(k.Certificates) != 1 || len(o) != 1 || len(o[0].Certificates) != 1 || !k.Certificates[0].Equal(o[0].Certificates[0]) {
			t.Fatalf("key %s: certificates %v and %v", k.KeyID, k.Certificates, o)
		}
		c := k.Certificates[0]
		if !c.PublicKey.(*rsa.PublicKey).Equal(k.Key) || c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			t.Errorf("key %s: the certificate is not its key's, self-signed", k.KeyID)
		}
	}
	if seen == 0 {
		t.Error("the JWKS has no RS256 key")
	}
}
