package upstream_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/upstream"
)

// provider is an OIDC provider of the test's own: its JWKS and a token
// endpoint that answers, for each code, the claims the test set, signed.
type provider struct {
	URL    string
	key    testenv.SigningKey
	mu     sync.Mutex
	claims map[string]map[string]any // code → ID token claims
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{key: testenv.NewSigningKey(t, "k"), claims: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", p.key.ServeJWKS)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		claims, ok := p.claims[r.PostFormValue("code")]
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || r.PostFormValue("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": p.key.Sign(t, claims)})
	})
	p.URL = testenv.Serve(t, mux)
	return p
}

// TestFinish: the service's rules, on both engines, with a real provider:
// the identity is the one whose attribute (email folded, username, id,
// external_id) equals the identifying claim; a value of several identities
// names none; a suspended one is refused; an SSO config lets in only the
// identities assigned to it; an identity provider vouches only for the
// binding's identity; a claim that is no string is a 400; the
// authorization is taken once and expires.
func TestFinish(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			clock := testenv.NewClock()
			n := testenv.StartNode(t, eng.Name, nil)
			n.Upstream.Clock = clock.Now
			ctx, tenant := t.Context(), n.Creds().TenantID
			prov := startProvider(t)
			realm, err := n.Directory.CreateRealm(ctx, tenant, directory.Realm{DisplayName: "Pets", Classification: "SECURE_WORKFORCE"})
			if err != nil {
				t.Fatal(err)
			}
			identity := func(username, email, external string) directory.Identity {
				i, err := n.Directory.CreateIdentity(ctx, tenant, realm.ID, directory.Identity{DisplayName: username,
					Traits: directory.Traits{Type: "traits_v0", Username: username, PrimaryEmailAddress: email, ExternalID: external}})
				if err != nil {
					t.Fatal(err)
				}
				return i
			}
			ada, bob := identity("ada", "Ada@Example.com", "E-1"), identity("bob", "bob@example.com", "E-2")
			identity("cat", "shared@example.com", "E-3")
			identity("dan", "shared@example.com", "E-4")
			config := func(attribute, claim string) string {
				name := attribute + " " + claim
				c, err := n.SSO.Create(ctx, tenant, realm.ID, sso.In{DisplayName: &name, Payload: json.RawMessage(`{"type":"generic_oidc_idp",
					"client_id":"latchkey","client_secret":"shh","pkce":"s256","identifying_claim_name":"` + claim + `","identity_attribute":"` + attribute + `",
					"authorization_endpoint":"` + prov.URL + `/authorize","token_endpoint":"` + prov.URL + `/token","jwks_endpoint":"` + prov.URL + `/jwks"}`)})
				if err != nil {
					t.Fatal(err)
				}
				if err := n.SSO.AddIdentities(ctx, tenant, realm.ID, c.ID, []string{ada.ID, bob.ID}); err != nil {
					t.Fatal(err)
				}
				return c.ID
			}
			// finish runs one authorization at the provider, which answers claims.
			finish := func(kind, id string, a upstream.Authorization, claims map[string]any) (directory.Identity, error) {
				t.Helper()
				p, err := n.Upstream.Provider(ctx, tenant, realm.ID, kind, id)
				if err != nil {
					t.Fatal(err)
				}
				to, browser, err := n.Upstream.Begin(ctx, p, a, "link-token")
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(to)
				code := latchkey.RandomString(16)
				claims["iss"], claims["aud"], claims["nonce"] = prov.URL, "latchkey", u.Query().Get("nonce")
				claims["exp"] = time.Now().Add(time.Minute).Unix()
				prov.mu.Lock()
				prov.claims[code] = claims
				prov.mu.Unlock()
				_, i, err := n.Upstream.Finish(ctx, tenant, realm.ID, kind, id, url.Values{"code": {code}, "state": {u.Query().Get("state")}}, browser)
				return i, err
			}
			byEmail := config("email", "email")
			for _, tc := range []struct {
				what   string
				config string
				claims map[string]any
				want   string
				err    error
			}{
				{"the address, in another case", byEmail, map[string]any{"email": "ada@example.COM"}, ada.ID, nil},
				{"an address of two identities", byEmail, map[string]any{"email": "shared@example.com"}, "", upstream.ErrUnknownIdentity},
				{"an address of none", byEmail, map[string]any{"email": "eve@example.com"}, "", upstream.ErrUnknownIdentity},
				{"an identity not assigned", config("external_id", "employee"), map[string]any{"employee": "E-3"}, "", upstream.ErrNotAssigned},
				{"the username", config("username", "preferred_username"), map[string]any{"preferred_username": "bob"}, bob.ID, nil},
				{"the id", config("id", "sub"), map[string]any{"sub": ada.ID}, ada.ID, nil},
			} {
				i, err := finish(upstream.KindSSOConfig, tc.config, upstream.Authorization{ApplicationID: "app", RequestID: "req"}, tc.claims)
				if !errors.Is(err, tc.err) || (tc.want != "" && i.ID != tc.want) {
					t.Errorf("%s: %s %v, want %s %v", tc.what, i.ID, err, tc.want, tc.err)
				}
			}
			_, err = finish(upstream.KindSSOConfig, byEmail, upstream.Authorization{}, map[string]any{"email": 42})
			if latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
				t.Errorf("a claim that is no string: %v, want a 400", err)
			}
			if _, err := n.Directory.UpdateIdentity(ctx, tenant, realm.ID, bob.ID, directory.IdentityPatch{Status: new(directory.StatusSuspended)}); err != nil {
				t.Fatal(err)
			}
			if _, err := finish(upstream.KindSSOConfig, byEmail, upstream.Authorization{}, map[string]any{"email": "bob@example.com"}); !errors.Is(err, upstream.ErrSuspended) {
				t.Errorf("a suspended identity: %v", err)
			}

			idp, err := n.SSO.CreateIdentityProvider(ctx, tenant, realm.ID, sso.IdPIn{DisplayName: new("Okta"), ProtocolConfig: json.RawMessage(`{"type":"oidc_idp",
				"client_id":"latchkey","client_secret":"shh","pkce":"s256","identifying_claim_name":"email","identity_attribute":"email",
				"authorize_url":"` + prov.URL + `/authorize","token_url":"` + prov.URL + `/token","jwks_url":"` + prov.URL + `/jwks"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if i, err := finish(upstream.KindIdentityProvider, idp.ID, upstream.Authorization{IdentityID: ada.ID, JobID: "job"}, map[string]any{"email": "ada@example.com"}); err != nil || i.ID != ada.ID {
				t.Errorf("the binding's identity: %s %v", i.ID, err)
			}
			if _, err := finish(upstream.KindIdentityProvider, idp.ID, upstream.Authorization{IdentityID: bob.ID, JobID: "job"}, map[string]any{"email": "ada@example.com"}); !errors.Is(err, upstream.ErrOtherIdentity) {
				t.Errorf("another identity than the binding's: %v", err)
			}

			// Taken once, and not after it expired (the sweep deletes it then).
			p, _ := n.Upstream.Provider(ctx, tenant, realm.ID, upstream.KindSSOConfig, byEmail)
			for _, wait := range []time.Duration{0, upstream.TTL} {
				to, browser, err := n.Upstream.Begin(ctx, p, upstream.Authorization{}, "")
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(to)
				q := url.Values{"code": {"nope"}, "state": {u.Query().Get("state")}}
				clock.Advance(wait)
				if wait == 0 {
					if _, _, err := n.Upstream.Finish(ctx, tenant, realm.ID, upstream.KindSSOConfig, byEmail, q, browser); err == nil || !strings.Contains(err.Error(), "did not redeem") {
						t.Errorf("a code the provider refuses: %v", err)
					}
				}
				if _, _, err := n.Upstream.Finish(ctx, tenant, realm.ID, upstream.KindSSOConfig, byEmail, q, browser); err == nil || !strings.Contains(err.Error(), "unknown, used or expired") {
					t.Errorf("after %v: %v, want unknown, used or expired", wait, err)
				}
			}
			if n, err := n.Upstream.DeleteExpired(ctx); err != nil || n != 1 {
				t.Errorf("the sweep deleted %d (%v), want the expired one", n, err)
			}
		})
	}
}
