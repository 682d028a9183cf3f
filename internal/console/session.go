package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// Cookies of the console, all on its path only.
const (
	sessionCookie = "latchkey_console"
	loginCookie   = "latchkey_console_login"
	flashCookie   = "latchkey_console_flash"
	realmCookie   = "latchkey_console_realm"
)

var flashEncoding = base64.RawURLEncoding

// session is what the session cookie holds, sealed with the master key so
// that any node can read it and nobody can forge or read it: the access
// token of the administrator's sign-in, which every request verifies (so
// revoking it signs out everywhere), the CSRF token, and when the session
// was last used.
type session struct {
	Token string `json:"t"`
	CSRF  string `json:"c"`
	Seen  int64  `json:"s"`
	Admin string `json:"a"`
}

// login is what the console remembers across the sign-in redirect.
type login struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
}

func (c *Console) secure() bool { return strings.HasPrefix(c.PublicURL, "https://") }

func (c *Console) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return DefaultIdleTimeout
}

// cookieChunk is the most of a sealed value one cookie holds, and
// maxChunks how many cookies one value may take: browsers drop a cookie
// over 4,096 bytes, and a session's access token (every management scope
// in its scope claim) outgrows one.
const (
	cookieChunk = 3800
	maxChunks   = 4
)

// chunkName is the name of the cookie holding part i of a value named name.
func chunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "_" + strconv.Itoa(i)
}

// setSealed sets cookies holding v sealed, in parts of cookieChunk (clearing
// parts a longer value left); maxAge 0 makes them last as long as the
// browser session.
func (c *Console) setSealed(w http.ResponseWriter, name string, v any, maxAge int) {
	b, _ := json.Marshal(v)
	value := c.Box.Seal(b)
	for i := 0; i < maxChunks; i++ {
		part := value[min(i*cookieChunk, len(value)):min((i+1)*cookieChunk, len(value))]
		if part == "" && i > 0 {
			http.SetCookie(w, &http.Cookie{Name: chunkName(name, i), Path: Prefix, MaxAge: -1, HttpOnly: true})
			continue
		}
		http.SetCookie(w, &http.Cookie{Name: chunkName(name, i), Value: part, Path: Prefix, HttpOnly: true,
			Secure: c.secure(), SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
	}
}

// sealed reads the cookies that setSealed wrote into v.
func (c *Console) sealed(r *http.Request, name string, v any) bool {
	var value strings.Builder
	for i := 0; i < maxChunks; i++ {
		ck, err := r.Cookie(chunkName(name, i))
		if err != nil {
			break
		}
		value.WriteString(ck.Value)
	}
	b, err := c.Box.Open(value.String())
	return value.Len() > 0 && err == nil && json.Unmarshal(b, v) == nil
}

func clearCookie(w http.ResponseWriter, name string) {
	for i := 0; i < maxChunks; i++ {
		http.SetCookie(w, &http.Cookie{Name: chunkName(name, i), Path: Prefix, MaxAge: -1, HttpOnly: true})
	}
}

// signedIn returns the request of a valid, recently used session. Without
// one it sends a page to sign-in (an htmx request through HX-Redirect) and
// reports false.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (*request, bool) {
	var s session
	reason := "" // why the session ended, for the sign-in page
	switch {
	case !c.sealed(r, sessionCookie, &s): // none, or not ours
	case c.Clock.Now().Sub(time.Unix(s.Seen, 0)) > c.idleTimeout():
		reason = "idle"
	default:
		p, err := c.OAuth.Verify(r.Context(), s.Token)
		if err != nil && !errors.Is(err, oauth.ErrInvalidToken) {
			http.Error(w, "the server cannot check your session now; try again", c.fault(w, r, "verify console session", err))
			return nil, false
		}
		if err == nil && p.Manages(c.Client.TenantID) {
			if c.Clock.Now().Sub(time.Unix(s.Seen, 0)) > time.Minute {
				s.Seen = c.Clock.Now().Unix()
				c.setSealed(w, sessionCookie, s, 0)
			}
			ctx := latchkey.WithActor(r.Context(), latchkey.Actor{Type: p.Type, ID: p.ID, TenantID: p.TenantID, RealmID: p.RealmID, TokenID: p.TokenID, Scopes: p.Scopes,
				DisplayName: c.OAuth.ActorName(r.Context(), p)})
			return &request{Request: r.WithContext(ctx), w: w, c: c, session: s, principal: p, admin: s.Admin, tenantID: p.TenantID}, true
		}
		reason = "expired" // revoked, past its lifetime, or not for this tenant
	}
	clearCookie(w, sessionCookie)
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", Prefix+"/login?"+q.Encode())
		w.WriteHeader(http.StatusUnauthorized)
		return nil, false
	}
	if r.Method == http.MethodGet {
		q.Set("return", r.URL.RequestURI())
	}
	http.Redirect(w, r, Prefix+"/login?"+q.Encode(), http.StatusSeeOther)
	return nil, false
}

// csrfValid checks the session's CSRF token: from the X-CSRF-Token header
// (htmx), the query (multipart uploads, read as a stream) or the form.
func (q *request) csrfValid() bool {
	got := q.Header.Get("X-CSRF-Token")
	if got == "" {
		got = q.URL.Query().Get("csrf")
	}
	if got == "" && !strings.HasPrefix(q.Header.Get("Content-Type"), "multipart/") {
		got = q.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(q.session.CSRF)) == 1
}

// loginReasons are the messages the sign-in page shows.
var loginReasons = map[string]string{
	"idle":    "You were signed out after a while without activity.",
	"expired": "Your session has ended. Sign in again.",
	"out":     "You are signed out.",
}

// loginPage offers to sign in with a passkey.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	start := Prefix + "/login/start"
	if ret := r.FormValue("return"); safeReturn(ret) {
		start += "?return=" + url.QueryEscape(ret)
	}
	writePage(w, r, http.StatusOK, "login.html", "layout", view{Title: "Sign in", Data: map[string]string{
		"Start": start, "Message": loginReasons[r.FormValue("reason")]}})
}

// safeReturn reports whether a path to return to after sign-in stays in
// the console (no open redirect).
func safeReturn(p string) bool {
	return strings.HasPrefix(p, Prefix+"/") && !strings.HasPrefix(p, "//") && !strings.ContainsAny(p, "\\\r\n")
}

// issuer is the console application's OIDC issuer.
func (c *Console) issuer() string {
	return c.OAuth.Issuer(c.Client.TenantID, c.Client.RealmID, c.Client.ApplicationID)
}

func (c *Console) redirectURI() string {
	return strings.TrimRight(c.PublicURL, "/") + Prefix + "/callback"
}

// scopes are what the console asks for: every management scope; the token
// holds those the administrator's roles grant.
func scopes() string { return "openid profile " + strings.Join(oauth.ManagementScopes, " ") }

// loginStart sends the browser to the console application's /authorize,
// with PKCE and a state that the login cookie remembers.
func (c *Console) loginStart(w http.ResponseWriter, r *http.Request) {
	l := login{State: latchkey.RandomString(32), Verifier: latchkey.RandomString(64)}
	if ret := r.FormValue("return"); safeReturn(ret) {
		l.Return = ret
	}
	c.setSealed(w, loginCookie, l, 600)
	sum := sha256.Sum256([]byte(l.Verifier))
	// prompt=login: the console's sign-out does not end the browser's
	// sign-in session of the admin realm, so without it "Sign in" after
	// "Sign out" would let the next person at the browser in silently.
	q := url.Values{"client_id": {c.Client.ClientID}, "redirect_uri": {c.redirectURI()}, "response_type": {"code"},
		"scope": {scopes()}, "state": {l.State}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "prompt": {"login"}}
	http.Redirect(w, r, c.issuer()+"/authorize?"+q.Encode(), http.StatusSeeOther)
}

// callback finishes the sign-in: it redeems the code for the
// administrator's access token, in process, and starts the session. A
// refusal (policy, a cancelled ceremony) is shown with its reason.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	var l login
	ok := c.sealed(r, loginCookie, &l)
	clearCookie(w, loginCookie)
	q := r.URL.Query()
	refuse := func(status int, msg string) {
		writePage(w, r, status, "login.html", "layout", view{Title: "Sign in", Data: map[string]string{
			"Start": Prefix + "/login/start", "Error": msg}})
	}
	switch {
	case !ok || q.Get("state") == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.State)) != 1:
		refuse(http.StatusBadRequest, "This sign-in has expired or was started elsewhere. Try again.")
		return
	case q.Get("error") != "":
		msg := q.Get("error_description")
		if msg == "" {
			msg = q.Get("error")
		}
		refuse(http.StatusForbidden, "Access to the console was refused: "+msg+".")
		return
	}
	tok, err := c.OAuth.Token(r.Context(), oauth.TokenRequest{TenantID: c.Client.TenantID, RealmID: c.Client.RealmID,
		ApplicationID: c.Client.ApplicationID, GrantType: "authorization_code", ClientID: c.Client.ClientID,
		ClientSecret: c.Client.ClientSecret, Code: q.Get("code"), RedirectURI: c.redirectURI(), CodeVerifier: l.Verifier})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		refuse(http.StatusBadRequest, "The sign-in could not be completed: "+oe.Description+". Try again.")
		return
	}
	if err != nil {
		refuse(c.fault(w, r, "console sign-in", err), "The sign-in could not be completed because of a server error. Try again.")
		return
	}
	p, err := c.OAuth.Verify(r.Context(), tok.AccessToken)
	if err != nil {
		refuse(http.StatusInternalServerError, "The sign-in could not be completed. Try again.")
		return
	}
	admin := p.ID
	if i, err := c.Directory.GetIdentity(r.Context(), c.Client.TenantID, c.Client.RealmID, p.ID); err == nil {
		admin = i.DisplayName
	}
	c.setSealed(w, sessionCookie, session{Token: tok.AccessToken, CSRF: latchkey.RandomString(32),
		Seen: c.Clock.Now().Unix(), Admin: admin}, 0)
	to := Prefix + "/"
	if safeReturn(l.Return) {
		to = l.Return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// logout revokes the session's token, so that a copy of the cookie is
// worthless too, and forgets the session.
func (c *Console) logout(q *request) error {
	if err := c.OAuth.DeleteToken(q.Context(), c.Client.TenantID, c.Client.RealmID, c.Client.ApplicationID, q.principal.TokenID); err != nil &&
		!errors.Is(err, latchkey.ErrNotFound) && latchkey.ErrorCode(err) != latchkey.CodeNotFound {
		return err
	}
	clearCookie(q.w, sessionCookie)
	http.Redirect(q.w, q.Request, Prefix+"/login?reason=out", http.StatusSeeOther)
	return nil
}
