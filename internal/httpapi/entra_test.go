package httpapi_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// entra stands in for Microsoft Entra ID, which cannot run here: it
// publishes the keys that sign its id_token_hints where Entra does
// (/common/discovery/v2.0/keys), sends the browser to an external
// authentication method with a form post as Entra does (/start), and takes
// the method's answer at Entra's redirect URI
// (/common/federation/externalauthprovider).
type entra struct {
	URL  string
	key  testenv.SigningKey
	mu   sync.Mutex
	reqs map[string]url.Values // /start?r=…: the request to post
	got  chan url.Values
}

func startEntra(t *testing.T) *entra {
	t.Helper()
	e := &entra{key: testenv.NewSigningKey(t, "entra-key-1"), reqs: map[string]url.Values{}, got: make(chan url.Values, 4)}
	form := template.Must(template.New("").Parse(`<!doctype html><form method="post" action="{{.Action}}" id="f">` +
		`{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}</form>` +
		`<script>document.getElementById("f").submit()</script>`))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /common/discovery/v2.0/keys", e.key.ServeJWKS)
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		v := e.reqs[r.URL.Query().Get("r")]
		e.mu.Unlock()
		action := v.Get("authorize")
		v.Del("authorize")
		form.Execute(w, map[string]any{"Action": template.URL(action), "Fields": v})
	})
	mux.HandleFunc("POST /common/federation/externalauthprovider", func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil {
			http.Error(w, "want a form post", http.StatusBadRequest)
			return
		}
		w.Write([]byte("Entra received the answer"))
		e.got <- r.PostForm
	})
	e.URL = testenv.Serve(t, mux)
	return e
}

// hint is an id_token_hint as Entra issues one for the user sub of tenant
// tid: already expired, dated by iat; change edits its claims; key signs
// it (nil: Entra's own).
func (e *entra) hint(t *testing.T, clientID, sub, username string, change func(map[string]any), key *testenv.SigningKey) string {
	t.Helper()
	now := time.Now().Unix()
	claims := map[string]any{"ver": "2.0", "iss": e.URL + "/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0", "sub": sub, "aud": clientID,
		"exp": now - 1, "iat": now, "nbf": now, "name": "Test User", "preferred_username": username,
		"oid": "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee", "tid": "14c2f153-90a7-4689-9db7-9543bf084dad"}
	if change != nil {
		change(claims)
	}
	if key == nil {
		key = &e.key
	}
	return key.Sign(t, claims)
}

// eamClaimsRequest is the claims parameter of Microsoft's example.
const eamClaimsRequest = `{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},` +
	`"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}`

// request is Entra's request to the EAM at authorize for clientID with hint.
func (e *entra) request(authorize, clientID, hint string) url.Values {
	return url.Values{"authorize": {authorize}, "scope": {"openid"}, "response_type": {"id_token"}, "response_mode": {"form_post"},
		"client_id": {clientID}, "redirect_uri": {e.URL + "/common/federation/externalauthprovider"}, "nonce": {"n-0S6_WzA2Mj"},
		"state": {"st-entra"}, "id_token_hint": {hint}, "claims": {eamClaimsRequest}, "client-request-id": {"6a5f1b2e-0000-4000-8000-000000000001"}}
}

// send makes the browser post v to the EAM, as Entra sends it there.
func (e *entra) send(t *testing.T, ctx context.Context, v url.Values) {
	t.Helper()
	id := strconv.Itoa(len(e.reqs)) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	e.mu.Lock()
	e.reqs[id] = v
	e.mu.Unlock()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/start?r="+id)); err != nil {
		t.Fatal(err)
	}
}

// answer is what the EAM posted to Entra.
func (e *entra) answer(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	select {
	case v := <-e.got:
		// The browser shows Entra's page before it goes anywhere else.
		if ok, page := browsertest.WaitFor(ctx, `document.body && document.body.innerText.includes("Entra received")`, 10*time.Second); !ok {
			t.Fatalf("the browser shows %q, not Entra's page", page)
		}
		return v
	case <-time.After(30 * time.Second):
		_, page := browsertest.WaitFor(ctx, "false", 0)
		t.Fatalf("Entra received no answer; the browser shows %q", page)
	}
	return nil
}

// TestEntraExternalAuthenticationMethod: Latchkey as an external
// authentication method of Entra ID (an entra_id_external_auth_methods
// config), driven by an in-test Entra in Chromium with a passkey. Entra's
// request (a form post with its id_token_hint and claims request) leads to
// the hosted page; the passkey of the identity the hint names signs in; and
// Entra receives, posted, an ID token that go-oidc verifies against the
// config's discovery and JWKS, with the hint's sub, tid and oid, Entra's
// nonce, the acr and amr asked for. Hints with a wrong signature, issuer,
// audience or age, or none, are answered with an error posted to Entra; an
// unregistered redirect_uri gets a page and nothing is posted; an account
// that is unknown, not assigned to the config, or not the one whose
// passkey signs in is refused on the refusal page, whose button posts
// access_denied to Entra.
func TestEntraExternalAuthenticationMethod(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			e := startEntra(t)
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.EntraAuthority = slog.New(slog.DiscardHandler), e.URL
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			ctx := browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)
			browsertest.WithoutAutofill(t, ctx) // the test presses the hosted page's button
			realm := newRealm(t, c, "Contoso")
			r := "/realms/" + realm
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@contoso.com"), "id")
			bob := str(t, newIdentity(t, c, realm, "bob@contoso.com"), "id")
			newIdentity(t, c, realm, "grace", "primary_email_address", "grace@contoso.com")
			bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, hostedConfig(t, c, realm)).link)
			c.ok(t, "PUT", r+"/policy", map[string]any{"default_effect": "allow"})

			created := c.ok(t, "POST", r+"/sso-configs", ssoConfigBody("Entra MFA", map[string]any{"type": "entra_id_external_auth_methods",
				"redirect_uris": []string{e.URL + "/common/federation/externalauthprovider"}, "discover_endpoint": "global_azure"}))
			payload := created["payload"].(map[string]any)
			clientID, issuer := str(t, payload, "client_id"), payload["oidc_configuration"].(map[string]any)["issuer"].(string)
			if types := fmt.Sprint(payload["oidc_configuration"].(map[string]any)["response_types_supported"]); types != "[id_token]" {
				t.Errorf("the payload's response_types_supported: %s", types)
			}
			if resp := c.do(t, "POST", r+"/sso-configs/"+str(t, created, "id")+":addIdentities", map[string]any{"identity_ids": []string{ada, bob}}); resp.Status != http.StatusOK {
				t.Fatalf(":addIdentities: %d %s", resp.Status, resp.Body)
			}
			authorize := issuer + "/authorize"

			// Entra reads the discovery before it sends anyone.
			provider, err := oidc.NewProvider(t.Context(), issuer)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				ResponseTypes []string `json:"response_types_supported"`
				ResponseModes []string `json:"response_modes_supported"`
				JWKSURI       string   `json:"jwks_uri"`
			}
			if err := provider.Claims(&meta); err != nil || strings.Join(meta.ResponseTypes, " ") != "id_token" || strings.Join(meta.ResponseModes, " ") != "form_post" {
				t.Errorf("discovery: %+v %v", meta, err)
			}
			// Microsoft wants x5c in the JWKS: an X.509 form of each RS256 key.
			var set jose.JSONWebKeySet
			getJSON(t, http.DefaultClient, meta.JWKSURI, &set)
			for _, k := range set.Keys {
				if k.Algorithm == "RS256" && (len(k.Certificates) == 0 || !k.Certificates[0].PublicKey.(*rsa.PublicKey).Equal(k.Key)) {
					t.Errorf("the JWKS's RS256 key %s has no certificate of its own key", k.KeyID)
				}
			}

			// The hint names ada by her e-mail address; her passkey signs in.
			e.send(t, ctx, e.request(authorize, clientID, e.hint(t, clientID, "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA", "ada@contoso.com", nil, nil)))
			signInOnHostedPage(t, ctx)
			got := e.answer(t, ctx)
			if got.Get("state") != "st-entra" || got.Get("id_token") == "" || len(got) != 2 {
				t.Fatalf("Entra received %v", got)
			}
			tok, err := provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"RS256"}}).Verify(t.Context(), got.Get("id_token"))
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Nonce string   `json:"nonce"`
				ACR   string   `json:"acr"`
				AMR   []string `json:"amr"`
				TID   string   `json:"tid"`
				OID   string   `json:"oid"`
			}
			if err := tok.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if tok.Subject != "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA" || claims.Nonce != "n-0S6_WzA2Mj" || claims.ACR != "possessionorinherence" ||
				strings.Join(claims.AMR, " ") != "fido" || claims.TID != "14c2f153-90a7-4689-9db7-9543bf084dad" || claims.OID != "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee" {
				t.Errorf("the answer's claims: sub %s %+v", tok.Subject, claims)
			}

			// Hints Entra did not issue, or not for this config, or too old.
			other := testenv.NewSigningKey(t, e.key.KID) // Entra's kid, another key
			for _, tc := range []struct {
				name string
				hint string
				want string
			}{
				{"wrong signature", e.hint(t, clientID, "s", "ada@contoso.com", nil, &other), "signature"},
				{"wrong issuer", e.hint(t, clientID, "s", "ada@contoso.com", func(m map[string]any) { m["iss"] = "https://sts.example/9122040d/v2.0" }, nil), "issuer"},
				{"issuer of no tenant", e.hint(t, clientID, "s", "ada@contoso.com", func(m map[string]any) { m["iss"] = e.URL + "/v2.0" }, nil), "issuer"},
				{"wrong audience", e.hint(t, clientID, "s", "ada@contoso.com", func(m map[string]any) { m["aud"] = "someone-else" }, nil), "audience"},
				{"too old", e.hint(t, clientID, "s", "ada@contoso.com", func(m map[string]any) { m["iat"] = time.Now().Add(-11 * time.Minute).Unix() }, nil), "10 minutes"},
				{"no sub", e.hint(t, clientID, "", "ada@contoso.com", nil, nil), "sub"},
				{"not a JWT", "not.a.jwt", "JWT"},
				{"none", "", "id_token_hint is required"},
			} {
				e.send(t, ctx, e.request(authorize, clientID, tc.hint))
				if got := e.answer(t, ctx); got.Get("error") != "invalid_request" || got.Get("state") != "st-entra" || !strings.Contains(got.Get("error_description"), tc.want) || got.Has("id_token") {
					t.Errorf("%s: Entra received %v", tc.name, got)
				}
			}
			// Claims that a passkey cannot satisfy, and a response Entra does not take.
			v := e.request(authorize, clientID, e.hint(t, clientID, "s", "ada@contoso.com", nil, nil))
			v.Set("claims", `{"id_token":{"acr":{"essential":true,"values":["knowledge"]}}}`)
			e.send(t, ctx, v)
			if got := e.answer(t, ctx); got.Get("error") != "invalid_request" || !strings.Contains(got.Get("error_description"), "acr") {
				t.Errorf("acr knowledge: Entra received %v", got)
			}
			v = e.request(authorize, clientID, e.hint(t, clientID, "s", "ada@contoso.com", nil, nil))
			v.Set("response_type", "code")
			e.send(t, ctx, v)
			if got := e.answer(t, ctx); got.Get("error") != "unsupported_response_type" {
				t.Errorf("response_type=code: Entra received %v", got)
			}

			// The config's application under another realm or tenant: no such application.
			fabrikam := newRealm(t, c, "Fabrikam")
			for _, wrong := range []string{strings.Replace(authorize, "/realms/"+realm+"/", "/realms/"+fabrikam+"/", 1),
				strings.Replace(authorize, "/tenants/"+c.tenant+"/", "/tenants/ffffffffffffffff/", 1)} {
				v := e.request(wrong, clientID, e.hint(t, clientID, "s", "ada@contoso.com", nil, nil))
				v.Del("authorize")
				resp, err := http.PostForm(wrong, v)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s: %d, want 400", wrong, resp.StatusCode)
				}
			}

			// A redirect_uri that is not the config's: a page, nothing posted.
			v = e.request(authorize, clientID, e.hint(t, clientID, "s", "ada@contoso.com", nil, nil))
			v.Set("redirect_uri", "https://evil.example/common/federation/externalauthprovider")
			e.send(t, ctx, v)
			if ok, page := browsertest.WaitFor(ctx, `document.body.innerText.includes("redirect_uri is not registered")`, 10*time.Second); !ok {
				t.Errorf("an unregistered redirect_uri: the browser shows %q", page)
			}
			select {
			case got := <-e.got:
				t.Errorf("Entra received %v for an unregistered redirect_uri", got)
			default:
			}

			// Refused accounts: the refusal page's button posts access_denied.
			for _, tc := range []struct {
				name, username, title string
				ceremony              bool
			}{
				{"unknown", "nobody@contoso.com", "not set up here", false},
				{"not assigned", "grace@contoso.com", "do not have access", false},
				{"another's passkey", "bob@contoso.com", "do not have access", true}, // bob is assigned; ada's passkey signs
			} {
				e.send(t, ctx, e.request(authorize, clientID, e.hint(t, clientID, "s-"+tc.name, tc.username, nil, nil)))
				if tc.ceremony {
					signInOnHostedPage(t, ctx)
				}
				if ok, page := browsertest.WaitFor(ctx, `document.getElementById("back") !== null && document.body.innerText.includes("`+tc.title+`")`, 30*time.Second); !ok {
					t.Fatalf("%s: no refusal page saying %q; the browser shows %q", tc.name, tc.title, page)
				}
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("back"))); err != nil {
					t.Fatal(err)
				}
				if got := e.answer(t, ctx); got.Get("error") != "access_denied" || got.Get("state") != "st-entra" || got.Has("id_token") {
					t.Errorf("%s: Entra received %v", tc.name, got)
				}
			}
		})
	}
}
