package authenticator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
)

// accountRoutes are a realm's self-service account page: the people of
// the realm manage their own passkeys there, signed in by the browser's
// session of the realm (or by a passkey on the page, which starts it).
// Only the session's identity is served, for its own passkeys; the posts
// need the session's CSRF token and a same-origin request.
func (s *Server) accountRoutes(mux *httpx.Mux) {
	sameOrigin := http.NewCrossOriginProtection()
	account := httpx.RealmPath + "/account"
	mux.HandleFunc("GET "+account, s.accountPage)
	mux.Handle("POST "+account+"/signin", sameOrigin.Handler(http.HandlerFunc(s.accountSignIn)))
	mux.Handle("POST "+account+"/passkeys", sameOrigin.Handler(http.HandlerFunc(s.addPasskey)))
	mux.Handle("POST "+account+"/passkeys/{credential}/revoke", sameOrigin.Handler(http.HandlerFunc(s.revokePasskey)))
	mux.Handle("POST "+account+"/passkeys/{credential}/rename", sameOrigin.Handler(http.HandlerFunc(s.renamePasskey)))
}

// accountPath is the path of a realm's account page.
func accountPath(tenantID, realmID string) string {
	return "/v1/tenants/" + tenantID + "/realms/" + realmID + "/account"
}

// csrfToken is the token that the account's forms carry: made of the
// session's cookie, which a page of another site can neither read nor
// guess, so no store is needed.
func csrfToken(cookie string) string {
	sum := sha256.Sum256([]byte("latchkey account form\x00" + cookie))
	return hex.EncodeToString(sum[:])
}

// accountPage is what the account page shows: the sign-in (SignIn set)
// or the signed-in identity's passkeys.
type accountPage struct {
	Nonce    string
	Theme    mail.Theme
	Realm    string
	SignIn   any // the sign-in's id, WebAuthn options and where to post the assertion
	Name     string
	Username string
	Passkeys []accountPasskey
	MaxName  int // the longest name a passkey may be given
	CSRF     string
	Base     string // the account page's path
	// ConfirmLast is the passkey whose revocation waits for the
	// confirmation that it is the last one.
	ConfirmLast string
	Notice      string
	Error       string
}

// accountPasskey is a passkey as its owner sees it.
type accountPasskey struct {
	ID string
	// Name is the one the passkey was given, else its provider's (from
	// its AAGUID), else its kind; Icon the provider's (a data: URI, or "").
	Name, Icon string
	Given      string // the name its owner gave it ("": none)
	Kind       string // a passkey of a browser or security key, or of an app (the embedded SDK)
	Synced     string // synced, may sync, or bound to its device: what losing the device means
	Created    time.Time
	LastUsed   time.Time // zero: never
	Current    bool      // the passkey that signed this session in
}

// passkeyView describes c to its owner.
func passkeyView(c passkey.Credential, ss session.Session) accountPasskey {
	v := accountPasskey{ID: c.ID, Name: c.Name(), Given: c.DisplayName, Kind: "App passkey", Synced: "On one device", Created: c.CreateTime,
		LastUsed: c.LastUsedTime, Current: c.ID == ss.CredentialID}
	if k := c.WebAuthn; k != nil {
		_, v.Icon = passkey.AuthenticatorName(k.AAGUID)
		v.Kind = "Passkey"
		switch {
		case k.BackupState:
			v.Synced = "Synced across your devices"
		case k.BackupEligible:
			v.Synced = "Can sync, not synced yet"
		}
	}
	return v
}

// account is the browser's session of the realm with its cookie's value,
// or ok false when no one is signed in.
func (s *Server) account(r *http.Request) (ss session.Session, cookie string, ok bool, err error) {
	cookie = sessionCookie(r)
	ss, ok, err = s.Sessions.Find(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), cookie)
	return ss, cookie, ok, err
}

// accountPage serves the account page: the signed-in identity's passkeys,
// or, without a session, a sign-in with a passkey.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	ss, cookie, ok, err := s.account(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.showAccount(w, r, http.StatusOK, ss, cookie, ok, accountPage{Notice: accountNotices[r.URL.Query().Get("done")]})
}

// accountNotices are what the page says after an action it redirected from.
var accountNotices = map[string]string{"revoked": "The passkey was revoked.", "added": "Your new passkey is ready.",
	"renamed": "The passkey was renamed."}

// showAccount renders p, filled in for the session ss (signedIn false:
// the sign-in).
func (s *Server) showAccount(w http.ResponseWriter, r *http.Request, status int, ss session.Session, cookie string, signedIn bool, p accountPage) {
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	ctx := r.Context()
	theme, err := s.Mail.ActiveTheme(ctx, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p.Theme, p.Realm, p.Base, p.MaxName = theme, theme.EmailRealmName, accountPath(tenant, realm), passkey.MaxCredentialName
	if signedIn {
		identity, err := s.OAuth.SessionIdentity(ctx, ss)
		signedIn = err == nil
		if err != nil && !errors.Is(err, oauth.ErrSessionEnded) {
			httpx.WriteError(w, r, err)
			return
		}
		p.Name, p.Username, p.CSRF = identity.DisplayName, identity.Traits.Username, csrfToken(cookie)
	}
	if signedIn {
		creds, _, err := s.Passkeys.ListCredentials(ctx, tenant, realm, ss.IdentityID, latchkey.ListOptions{Limit: 100, SkipTotal: true})
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		for _, c := range creds {
			if c.State == passkey.Active {
				p.Passkeys = append(p.Passkeys, passkeyView(c, ss))
			}
		}
	} else if p.SignIn, err = s.pageSignIn(r, p.Base+"/signin"); err != nil {
		s.pageSignInError(w, r, err)
		return
	}
	p.Nonce = s.pageHeadersPostingTo(w, s.PublicURL)
	w.WriteHeader(status)
	render(w, r, "account.html", p)
}

// pageSignIn starts the passkey sign-in of a realm's own page (the
// account page, the app portal) that posts its assertion to url: the
// sign-in's id, WebAuthn options and url, for the page's script. A realm
// whose launch mechanisms allow no hosted sign-in on this browser refuses
// (a *sso.LaunchDisabled).
func (s *Server) pageSignIn(r *http.Request, url string) (any, error) {
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	if err := s.SSO.CheckLaunch(r.Context(), tenant, realm, hostedLaunches(r)...); err != nil {
		return nil, err
	}
	req, err := s.OAuth.StartAccountSignIn(r.Context(), tenant, realm)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": req.ID, "options": s.Passkeys.AssertionOptions(req.Challenge, passkey.Config{}), "url": url}, nil
}

// pageSignInError shows why a realm's own page cannot sign in.
func (s *Server) pageSignInError(w http.ResponseWriter, r *http.Request, err error) {
	if kind := refusalKind(err); kind != "" {
		s.pageError(w, r, http.StatusForbidden, refusalTexts[kind].Reason)
		return
	}
	httpx.WriteError(w, r, err)
}

// accountSignIn finishes the account page's sign-in.
func (s *Server) accountSignIn(w http.ResponseWriter, r *http.Request) {
	s.finishPageSignIn(w, r, accountPath(r.PathValue("tenant"), r.PathValue("realm")))
}

// finishPageSignIn finishes the sign-in of a realm's own page
// (pageSignIn): the passkey's assertion is verified, if the launch
// mechanisms allow its kind of passkey, the browser's session of the
// realm starts, and the page is told to go to to.
func (s *Server) finishPageSignIn(w http.ResponseWriter, r *http.Request, to string) {
	var in signInProof
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	req, err := s.OAuth.PendingAuthRequest(r.Context(), tenant, realm, "", in.Request)
	if err != nil {
		httpx.WriteError(w, r, asBadRequest(err))
		return
	}
	if err := s.SSO.CheckLaunch(r.Context(), tenant, realm, sso.HostedLaunch(r.UserAgent(), attachment(in.Credential))); err != nil {
		httpx.WriteError(w, r, launchError(err))
		return
	}
	cred, identity, err := s.verifyPasskey(r, req, passkey.Config{}, in.Credential)
	if err == nil {
		err = s.OAuth.FinishAccountSignIn(r.Context(), req, identity, cred.ID)
	}
	err = asBadRequest(err)
	if err == nil {
		_, _, err = s.startSession(w, r, session.SignIn{TenantID: tenant, RealmID: realm, IdentityID: identity.ID, CredentialID: cred.ID,
			AMR: oauth.PasskeyAMR(passkey.Config{}), ACR: oauth.PasskeyACR})
	}
	httpx.Reply(w, r, map[string]string{"redirect": to}, err)
}

var errSignedOut = latchkey.Errorf(latchkey.CodeUnauthorized, "you are signed out; reload the page and sign in with a passkey")

// signedInPost checks a post of the account page: a live session of the
// realm and its CSRF token (form field csrf or header X-CSRF-Token). It
// writes the refusal and returns ok false.
func (s *Server) signedInPost(w http.ResponseWriter, r *http.Request) (ss session.Session, cookie string, ok bool) {
	ss, cookie, ok, err := s.account(r)
	if err == nil && !ok {
		err = errSignedOut
	}
	if err == nil {
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
			got = r.PostFormValue("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(cookie))) != 1 {
			err = latchkey.Errorf(latchkey.CodeForbidden, "this form has expired; reload the page and try again")
		}
	}
	if err == nil {
		_, err = s.OAuth.SessionIdentity(r.Context(), ss)
	}
	if errors.Is(err, oauth.ErrSessionEnded) {
		err = errSignedOut
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return ss, cookie, false
	}
	return ss, cookie, true
}

// addPasskey makes the binding job with which the signed-in identity adds
// a passkey on this device, and answers where it is and its token, for the
// page to bind as a binding link's page does.
func (s *Server) addPasskey(w http.ResponseWriter, r *http.Request) {
	ss, _, ok := s.signedInPost(w, r)
	if !ok {
		return
	}
	j, token, err := s.Passkeys.SelfServiceJob(r.Context(), ss.TenantID, ss.RealmID, ss.IdentityID)
	httpx.Reply(w, r, map[string]string{"job_url": jobPath(j), "token": token}, err)
}

// jobPath is the path of a binding job, to which :getInfo and :bind are added.
func jobPath(j passkey.BindingJob) string {
	return "/v1/tenants/" + j.TenantID + "/realms/" + j.RealmID + "/identities/" + j.IdentityID + "/credential-binding-jobs/" + j.ID
}

// revokePasskey revokes one of the signed-in identity's passkeys (a form
// post; confirm=last confirms the revocation of the last one). The page
// asks for that confirmation, warning of the lock-out, when it is missing.
func (s *Server) revokePasskey(w http.ResponseWriter, r *http.Request) {
	ss, cookie, ok := s.signedInPost(w, r)
	if !ok {
		return
	}
	id := r.PathValue("credential")
	_, err := s.Passkeys.RevokeOwnCredential(r.Context(), ss.TenantID, ss.RealmID, ss.IdentityID, id, r.PostFormValue("confirm") == "last")
	if errors.Is(err, passkey.ErrLastPasskey) {
		s.showAccount(w, r, http.StatusConflict, ss, cookie, true, accountPage{ConfirmLast: id})
		return
	}
	s.accountDone(w, r, ss, cookie, "revoked", err)
}

// renamePasskey gives one of the signed-in identity's passkeys the name
// of the form's field name (empty: back to its provider's name).
func (s *Server) renamePasskey(w http.ResponseWriter, r *http.Request) {
	ss, cookie, ok := s.signedInPost(w, r)
	if !ok {
		return
	}
	_, err := s.Passkeys.RenameCredential(r.Context(), ss.TenantID, ss.RealmID, ss.IdentityID, r.PathValue("credential"), r.PostFormValue("name"))
	if e := (*latchkey.Error)(nil); errors.As(err, &e) && e.Code == latchkey.CodeBadRequest {
		err = latchkey.Errorf(latchkey.CodeBadRequest, "That name cannot be used: %s.", refusalReason(e))
	}
	s.accountDone(w, r, ss, cookie, "renamed", err)
}

// accountDone answers a post of the account page: back to the page with
// the notice done, or the page with the refusal's message.
func (s *Server) accountDone(w http.ResponseWriter, r *http.Request, ss session.Session, cookie, done string, err error) {
	var e *latchkey.Error
	switch {
	case err == nil:
		http.Redirect(w, r, accountPath(ss.TenantID, ss.RealmID)+"?done="+done, http.StatusSeeOther)
	case !errors.As(err, &e) || e.Code == latchkey.CodeInternal:
		httpx.WriteError(w, r, err)
	default:
		s.showAccount(w, r, httpx.Status(e.Code), ss, cookie, true, accountPage{Error: e.Message})
	}
}

// offerCookie remembers, for offerFor, that this browser was offered a
// passkey of its own after a sign-in from another device.
const offerCookie = "latchkey_passkey_offer"

// offerFor is how long a browser is not offered again to create a passkey
// on it after a sign-in from another device: a person who declined is not
// asked at every sign-in, and one whose new passkey was lost is asked again.
const offerFor = 30 * 24 * time.Hour

// mayOffer reports whether this browser may be offered a passkey of its
// own, and if so remembers that it was (for offerFor).
func (s *Server) mayOffer(w http.ResponseWriter, r *http.Request, tenantID, realmID string) bool {
	if _, err := r.Cookie(offerCookie); err == nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: offerCookie, Value: "1", Path: session.CookiePath(tenantID, realmID),
		MaxAge: int(offerFor / time.Second), HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	return true
}

// attachment is what the browser said of the authenticator of an
// assertion (authenticatorAttachment in the PublicKeyCredential's JSON).
func attachment(credential json.RawMessage) string {
	var c struct {
		Attachment string `json:"authenticatorAttachment"`
	}
	json.Unmarshal(credential, &c)
	if slices.Contains([]string{"platform", "cross-platform"}, c.Attachment) {
		return c.Attachment
	}
	return ""
}
