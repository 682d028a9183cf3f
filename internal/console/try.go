package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// tryCookie holds a "Try sign-in" under way, sealed: as the console's own
// sign-in does, its state and PKCE verifier, and the application tried.
const tryCookie = "latchkey_console_try"

type trial struct {
	login
	RealmID, AppID string
}

func (c *Console) tryRoutes(mux *http.ServeMux) {
	c.handle(mux, "POST "+appPrefix+"/try", c.trySignIn, "applications:read", "applications:update", oauth.SecretsScope)
	c.handle(mux, "GET "+Prefix+"/try-callback", c.tryCallback, "applications:read", oauth.SecretsScope)
}

// tryRedirectURI is the console's own redirect URI, which "Try sign-in"
// adds to an application's: the code comes back to the console, which
// redeems it as the app would and shows the ID token's claims.
func (c *Console) tryRedirectURI() string {
	return strings.TrimRight(c.PublicURL, "/") + Prefix + "/try-callback"
}

// canTry reports whether "Try sign-in" can run an application's sign-in:
// an OpenID Connect application with the authorization code grant.
func canTry(a oauth.Application) bool {
	return a.ProtocolConfig.Type == "oidc" && slices.Contains(a.ProtocolConfig.GrantType, "authorization_code")
}

// trySignIn starts the hosted sign-in of an application, with the
// console's redirect URI, added to the application's first if need be.
func (c *Console) trySignIn(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	if !canTry(a) {
		q.fail(http.StatusUnprocessableEntity, "Try sign-in needs an OpenID Connect application with the authorization code grant.")
		return nil
	}
	if !slices.Contains(a.ProtocolConfig.RedirectURIs, c.tryRedirectURI()) {
		a, err = c.OAuth.UpdateApplication(q.Context(), q.tenantID, q.realm.ID, a.ID, func(a *oauth.Application) error {
			a.ProtocolConfig.RedirectURIs = append(a.ProtocolConfig.RedirectURIs, c.tryRedirectURI())
			return nil
		})
		if msg, ok := refusal(err); err != nil && ok {
			q.fail(http.StatusConflict, sentence(msg))
			return nil
		}
		if err != nil {
			return err
		}
	}
	t := trial{login: login{State: latchkey.RandomString(32), Verifier: latchkey.RandomString(64)}, RealmID: q.realm.ID, AppID: a.ID}
	c.setSealed(q.w, tryCookie, t, 600)
	sum := sha256.Sum256([]byte(t.Verifier))
	v := url.Values{"client_id": {a.ProtocolConfig.ClientID}, "redirect_uri": {c.tryRedirectURI()}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {t.State}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "prompt": {"login"}}
	http.Redirect(q.w, q.Request, c.OAuth.Issuer(q.tenantID, q.realm.ID, a.ID)+"/authorize?"+v.Encode(), http.StatusSeeOther)
	return nil
}

// tryView is the outcome of a "Try sign-in": the ID token's claims, or why
// there is none.
type tryView struct {
	App    oauth.Application
	Error  string
	Claims []option // name, value as JSON
}

// tryCallback redeems the code as the application would (its client
// credentials, the PKCE verifier) and shows the ID token's claims. The
// token comes straight from the service, so its claims need no signature
// check here (OpenID Connect Core 3.1.3.7).
func (c *Console) tryCallback(q *request) error {
	var t trial
	ok := c.sealed(q.Request, tryCookie, &t)
	clearCookie(q.w, tryCookie)
	params := q.URL.Query()
	if !ok || subtle.ConstantTimeCompare([]byte(params.Get("state")), []byte(t.State)) != 1 || params.Get("state") == "" {
		q.fail(http.StatusBadRequest, "This sign-in has expired or was started elsewhere: press “Try sign-in” again.")
		return nil
	}
	var err error
	if q.realm, err = c.Directory.GetRealm(q.Context(), q.tenantID, t.RealmID); err != nil {
		return err
	}
	a, err := c.OAuth.RevealSecret(q.Context(), q.tenantID, t.RealmID, t.AppID)
	if err != nil {
		return err
	}
	v := tryView{App: a}
	if e := params.Get("error"); e != "" {
		v.Error = e + ": " + params.Get("error_description")
		q.render(http.StatusOK, "try.html", "Try sign-in", "applications", v)
		return nil
	}
	pc := a.ProtocolConfig
	tok, err := c.OAuth.Token(q.Context(), oauth.TokenRequest{TenantID: q.tenantID, RealmID: t.RealmID, ApplicationID: a.ID,
		GrantType: "authorization_code", ClientID: pc.ClientID, ClientSecret: pc.ClientSecret, Code: params.Get("code"),
		RedirectURI: c.tryRedirectURI(), CodeVerifier: t.Verifier})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		v.Error = oe.Code + ": " + oe.Description
		q.render(http.StatusOK, "try.html", "Try sign-in", "applications", v)
		return nil
	}
	if err != nil {
		return err
	}
	if v.Claims, err = claimsOf(tok.IDToken); err != nil {
		return err
	}
	q.render(http.StatusOK, "try.html", "Try sign-in", "applications", v)
	return nil
}

// claimsOf returns the claims of a JWT's payload, by name.
func claimsOf(jwt string) ([]option, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("the ID token is no JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, err
	}
	out := make([]option, 0, len(claims))
	for k, v := range claims {
		out = append(out, option{Value: k, Label: string(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}
