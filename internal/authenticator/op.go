package authenticator

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
)

// opRoutes are each application's OAuth 2.0 / OpenID Connect provider
// endpoints, under its issuer, and the hosted sign-in page's.
func (s *Server) opRoutes(mux *httpx.Mux) {
	mux.HandleFunc("GET "+httpx.AppPath+"/.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET "+httpx.AppPath+"/authorize", s.authorize)
	mux.HandleFunc("POST "+httpx.AppPath+"/authorize", s.authorize)
	mux.HandleFunc("POST "+httpx.AppPath+"/signin", s.signin)
	mux.HandleFunc("POST "+httpx.AppPath+"/signin/continue", s.continueSignIn)
	mux.HandleFunc("GET "+httpx.AppPath+"/refused", s.refused)
	// The embedded SDK posts its proof cross-origin, from the customer's app.
	mux.Handle("POST "+httpx.AppPath+"/bi-authenticate", s.sdkCORS(s.biAuthenticate))
	mux.Handle("OPTIONS "+httpx.AppPath+"/bi-authenticate", s.sdkCORS(nil))
	// A browser app served from a redirect URI's origin calls these itself.
	for _, route := range []struct {
		methods, path string
		h             http.HandlerFunc
	}{
		{"POST", "/token", s.token},
		{"GET POST", "/userinfo", s.userinfo},
		{"POST", "/revoke", s.revoke},
		{"POST", "/introspect", s.introspect},
		{"GET", "/.well-known/openid-configuration", s.discovery},
	} {
		for _, m := range strings.Fields(route.methods) {
			mux.Handle(m+" "+httpx.AppPath+route.path, s.appCORS(route.h))
		}
		mux.Handle("OPTIONS "+httpx.AppPath+route.path, s.appCORS(nil))
	}
	mux.HandleFunc("GET "+httpx.AppPath+"/end_session", s.endSession)
	mux.HandleFunc("POST "+httpx.AppPath+"/end_session", s.endSession)
}

// signinPage is what the hosted sign-in page shows.
type signinPage struct {
	Nonce       string
	Theme       mail.Theme
	Realm       string
	Application string
	Error       string
	Request     any // the sign-in's id, WebAuthn options and where to post the assertion
}

// pageError shows a sign-in that cannot start, never redirecting to an
// unchecked redirect URI.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, status int, message string) {
	nonce := s.pageHeaders(w)
	w.WriteHeader(status)
	render(w, r, "signin.html", signinPage{Nonce: nonce, Error: message,
		Theme: mail.Theme{ButtonColor: mail.DefaultButtonColor, ButtonTextColor: mail.DefaultButtonTextColor}})
}

// authorize starts a sign-in (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) and
// answers the hosted page that signs in with a passkey.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, http.StatusBadRequest, "the sign-in request is malformed")
		return
	}
	f := r.Form
	p := oauth.AuthParams{ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"), ResponseType: f.Get("response_type"),
		Scope: f.Get("scope"), State: f.Get("state"), Nonce: f.Get("nonce"), CodeChallenge: f.Get("code_challenge"),
		CodeChallengeMethod: f.Get("code_challenge_method"), LoginHint: f.Get("login_hint"), Prompt: f.Get("prompt"),
		MaxAge: f.Get("max_age"), ACRValues: f.Get("acr_values"), IDTokenHint: f.Get("id_token_hint")}
	p.ResponseMode, p.Request, p.RequestURI = f.Get("response_mode"), f.Get("request"), f.Get("request_uri")
	p.Claims = f.Get("claims")
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	current, err := s.currentSignIn(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	req, app, signedIn, err := s.OAuth.Authorize(r.Context(), tenant, realm, appID, p, current)
	var toClient *oauth.RedirectError
	var refused *oauth.Error
	var eam *oauth.EAMRefused
	switch {
	case errors.As(err, &eam): // Entra ID named an account that may not sign in (eam.go)
		s.showRefusal(w, r, eamRefusal(eam, tenant, realm, appID, app.DisplayName))
		return
	case err == nil && signedIn != "": // the browser's session signed in, without a ceremony
		s.respond(w, r, p.FormPost(), p.RedirectURI, signedIn)
		return
	case errors.As(err, &toClient) && toClient.Err.Code == "access_denied" && p.Prompt != "none":
		// The session's identity may not use the application: a page
		// says so before the browser goes back (prompt=none shows none).
		s.showRefusal(w, r, refusal{Kind: refusedDenied, TenantID: tenant, RealmID: realm, AppID: appID, Application: app.DisplayName,
			Back: toClient.URL, FormPost: toClient.FormPost, RedirectURI: toClient.RedirectURI})
		return
	case errors.As(err, &toClient):
		s.respond(w, r, toClient.FormPost, toClient.RedirectURI, toClient.URL)
		return
	case errors.As(err, &refused):
		s.pageError(w, r, http.StatusBadRequest, "the application's sign-in request is invalid: "+refused.Description)
		return
	case err != nil:
		httpx.WriteError(w, r, err)
		return
	}
	config, ok, err := s.OAuth.AuthenticatorConfig(r.Context(), tenant, realm, appID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	sdk := ok && config.Config.Type == passkey.Embedded
	launches := hostedLaunches(r)
	if sdk {
		launches = []sso.Launch{sso.SDKLaunch(r.UserAgent())}
	}
	if err := s.SSO.CheckLaunch(r.Context(), tenant, realm, launches...); err != nil {
		if kind := refusalKind(err); kind != "" {
			s.showRefusal(w, r, newRefusal(kind, req, app.DisplayName))
		} else {
			httpx.WriteError(w, r, err)
		}
		return
	}
	if sdk {
		s.invokeSDK(w, r, req, app, config)
		return
	}
	options := s.Passkeys.AssertionOptions(req.Challenge, config.Config)
	theme, err := s.Mail.ActiveTheme(r.Context(), tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	formAction := ""
	if p.FormPost() { // the page posts the response to the redirect URI
		formAction = p.RedirectURI
	}
	base := strings.TrimSuffix(r.URL.Path, "/authorize") // the application's paths
	providers, err := s.upstreamOffer(r, tenant, realm, base, req.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	nonce := s.pageHeadersPostingTo(w, formAction)
	render(w, r, "signin.html", signinPage{Nonce: nonce, Theme: theme, Realm: theme.EmailRealmName,
		Application: app.DisplayName, Request: map[string]any{
			"id": req.ID, "options": options, "url": base + "/signin", "otp": codeOffer(base, config.Config),
			"upstream": providers,
		}})
}

// invokeSDK hands a sign-in to the embedded SDK in the customer's app: a
// redirect to its invoke URL with the request JWT (invocation_type
// automatic), or that URL as JSON for the app to open (manual).
func (s *Server) invokeSDK(w http.ResponseWriter, r *http.Request, req oauth.AuthRequest, app oauth.Application, config passkey.AuthenticatorConfig) {
	to, err := s.OAuth.EmbeddedAuthenticateURL(req, app, config, oauth.Origin{
		IP: latchkey.ClientIPFrom(r.Context()), UserAgent: r.UserAgent(), Referer: r.Referer()})
	switch {
	case err != nil:
		httpx.WriteError(w, r, err)
	case config.Config.InvocationType == "manual":
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"authenticate_url": to})
	default:
		http.Redirect(w, r, to, http.StatusFound)
	}
}

// biAuthenticate finishes a sign-in through the embedded SDK: its proof
// (form field claims) is verified against an ACTIVE passkey of an active
// identity, it must answer this sign-in's transaction and nonce, and policy
// decides (in oauth.Approve). The SDK is told "allow" with the code, or "deny" and why.
func (s *Server) biAuthenticate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("claims") == "" {
		httpx.WriteError(w, r, latchkey.InvalidField("claims", "the form field claims is missing"))
		return
	}
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	_, config, err := s.OAuth.EmbeddedConfig(r.Context(), tenant, realm, appID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := s.SSO.CheckLaunch(r.Context(), tenant, realm, sso.SDKLaunch(r.UserAgent())); err != nil {
		if kind := refusalKind(err); kind != "" {
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"type": "deny", "message": refusalTexts[kind].Reason})
		} else {
			httpx.WriteError(w, r, err)
		}
		return
	}
	audience := s.OAuth.Issuer(tenant, realm, appID) + "/bi-authenticate"
	proof, cred, identity, err := s.Passkeys.VerifySDKProof(r.Context(), realm, config.Config, audience, []byte(r.PostForm.Get("claims")))
	// A proof that does not verify, or a passkey that may not sign in, is
	// a denied sign-in; only the latter is told to the SDK's user.
	if refused, ok := errors.AsType[*latchkey.Error](err); ok && refused.Code != latchkey.CodeInternal {
		req := oauth.AuthRequest{ID: proof.TransactionID, TenantID: tenant, RealmID: realm, ApplicationID: appID}
		if rerr := s.OAuth.SignInRefused(r.Context(), req, identity, cred.ID, refusalReason(refused)); rerr != nil {
			err = rerr
		} else if refused.Code == latchkey.CodeForbidden {
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"type": "deny", "message": refused.Message})
			return
		}
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// The proof names the sign-in and its nonce: Approve finishes it only
	// if it is this application's, pending, and its challenge is the nonce.
	req := oauth.AuthRequest{ID: proof.TransactionID, TenantID: tenant, RealmID: realm, ApplicationID: appID, Challenge: proof.Nonce}
	code, _, err := s.OAuth.Approve(r.Context(), req, identity, cred.ID)
	var denied *oauth.Denied
	if errors.As(err, &denied) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"type": "deny", "message": denied.Error()})
		return
	}
	var invalid *oauth.Error
	if errors.As(err, &invalid) {
		httpx.WriteError(w, r, latchkey.InvalidField("claims", invalid.Description))
		return
	}
	httpx.Reply(w, r, map[string]string{"type": "allow", "code": code, "message": "signed in"}, err)
}

// signin finishes a sign-in on the hosted page: the passkey's assertion is
// verified, the browser's session starts (or is renewed), policy decides,
// and the browser is sent back to the client with a code, or with
// error=access_denied. (The session starts even when policy denies this
// application: the passkey did sign in, and may be let in to others.)
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	var in signInProof
	req, config, ok := s.pendingSignIn(w, r, &in, &in.Request)
	if !ok {
		return
	}
	launch := sso.HostedLaunch(r.UserAgent(), attachment(in.Credential))
	if err := s.SSO.CheckLaunch(r.Context(), req.TenantID, req.RealmID, launch); err != nil {
		s.answerApproval(w, r, req, "", err)
		return
	}
	signed, err := s.passkeySignIn(w, r, req, config.Config, in.Credential)
	if kind := refusalKind(err); kind != "" {
		s.answerRefusal(w, r, kind, req)
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// A sign-in from another device is offered a passkey on this one
	// first: its code (which lives a minute) is issued after (continueSignIn).
	if signed.cred.FromAnotherDevice(attachment(in.Credential)) && s.mayOffer(w, r, req.TenantID, req.RealmID) {
		if err := s.keepSession(r, signed.session, signed.fresh); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"offer": map[string]string{
			"url": accountPath(req.TenantID, req.RealmID) + "/passkeys", "csrf": csrfToken(signed.cookie), "continue": r.URL.Path + "/continue"}})
		return
	}
	s.approve(w, r, req, signed.identity, signed.session, signed.fresh)
}

// signInProof is the body with which a hosted page finishes a sign-in: the
// pending sign-in it names and the passkey's assertion.
type signInProof struct {
	Request    string          `json:"request"`
	Credential json.RawMessage `json:"credential"`
}

// pendingSignIn decodes the hosted page's body into in and returns the
// pending sign-in of the request's application that in names by *id, with
// the application's authenticator config (zero when it has none); or it
// answers why there is none.
func (s *Server) pendingSignIn(w http.ResponseWriter, r *http.Request, in any, id *string) (oauth.AuthRequest, passkey.AuthenticatorConfig, bool) {
	var req oauth.AuthRequest
	var config passkey.AuthenticatorConfig
	if err := httpx.DecodeBody(w, r, in); err != nil {
		httpx.WriteError(w, r, err)
		return req, config, false
	}
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	req, err := s.OAuth.PendingAuthRequest(r.Context(), tenant, realm, appID, *id)
	err = asBadRequest(err)
	if err == nil {
		config, _, err = s.OAuth.AuthenticatorConfig(r.Context(), tenant, realm, appID)
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return req, config, false
	}
	return req, config, true
}

// asBadRequest turns oauth's refusal of what a hosted page sent (a sign-in
// that expired or is unknown, …) into a 400 with its description; other
// errors stay as they are.
func asBadRequest(err error) error {
	if refused, ok := errors.AsType[*oauth.Error](err); ok {
		return latchkey.Errorf(latchkey.CodeBadRequest, "%s", refused.Description)
	}
	return err
}

// finishInSession finishes a sign-in on the hosted page whose identity
// proved itself (in says how): the browser's session starts (or is
// renewed), policy decides, and the page is told where the browser goes:
// back to the client with a code, or with error=access_denied.
func (s *Server) finishInSession(w http.ResponseWriter, r *http.Request, req oauth.AuthRequest, identity directory.Identity, in session.SignIn) {
	ss, _, fresh, err := s.beginSession(w, r, in)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.approve(w, r, req, identity, ss, fresh)
}

// approve asks policy whether identity, signed in on the browser's
// session ss, may have req's code, and tells the page where the browser
// goes: back to the client with a code, or to the refusal page. A fresh
// session (beginSession) is stored with the code, or, when the approval
// stores nothing, alone.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req oauth.AuthRequest, identity directory.Identity, ss session.Session, fresh bool) {
	var to string
	var err error
	if fresh {
		_, to, err = s.OAuth.ApproveInNewSession(r.Context(), req, identity, ss)
		if err != nil {
			err = cmp.Or(s.keepSession(r, ss, true), err)
		}
	} else {
		_, to, err = s.OAuth.ApproveInSession(r.Context(), req, identity, ss)
	}
	s.answerApproval(w, r, req, to, err)
}

// continueSignIn finishes a sign-in whose passkey signed the browser's
// session in after the sign-in started (the offer of a passkey on this
// device came between): policy decides, as for any sign-in.
func (s *Server) continueSignIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Request string `json:"request"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	req, err := s.OAuth.PendingAuthRequest(r.Context(), tenant, realm, appID, in.Request)
	var ss *session.Session
	if err == nil {
		ss, err = s.currentSession(r, tenant, realm)
	}
	if err == nil && (ss == nil || ss.AuthTime.Before(req.CreateTime.Truncate(time.Second))) {
		err = latchkey.Errorf(latchkey.CodeBadRequest, "no passkey signed in for this sign-in; start again from the application")
	}
	var identity directory.Identity
	if err == nil {
		identity, err = s.OAuth.SessionIdentity(r.Context(), *ss)
	}
	var to string
	if err == nil {
		_, to, err = s.OAuth.ApproveInSession(r.Context(), req, identity, *ss)
	}
	s.answerApproval(w, r, req, to, err)
}

// answerApproval answers the hosted page with the outcome of a sign-in's
// approval: where to send the browser with the code (to), the page of a
// refusal, or the error.
func (s *Server) answerApproval(w http.ResponseWriter, r *http.Request, req oauth.AuthRequest, to string, err error) {
	if kind := refusalKind(err); kind != "" {
		s.answerRefusal(w, r, kind, req)
		return
	}
	if refused, ok := errors.AsType[*oauth.Error](err); ok {
		err = latchkey.Errorf(latchkey.CodeBadRequest, "%s", refused.Description)
	}
	httpx.Reply(w, r, signinAnswer(req, to), err)
}

// signedIn is a passkey's sign-in on the hosted page: the passkey, its
// identity, and the browser's session with its cookie's value; fresh when
// the session is new and not stored yet (beginSession).
type signedIn struct {
	cred     passkey.Credential
	identity directory.Identity
	session  session.Session
	cookie   string
	fresh    bool
}

// passkeySignIn verifies the passkey's assertion of the hosted sign-in
// page for req (its challenge) and begins the browser's session, or renews
// it: every hosted sign-in, OIDC or SAML, goes through it. A passkey that
// could not sign in (unknown, revoked, suspended, an assertion that does
// not verify) is recorded as a denied sign-in.
func (s *Server) passkeySignIn(w http.ResponseWriter, r *http.Request, req oauth.AuthRequest, config passkey.Config, credential json.RawMessage) (signedIn, error) {
	cred, identity, err := s.verifyPasskey(r, req, config, credential)
	if err != nil {
		return signedIn{}, err
	}
	ss, cookie, fresh, err := s.beginSession(w, r, session.SignIn{TenantID: req.TenantID, RealmID: req.RealmID, IdentityID: identity.ID,
		CredentialID: cred.ID, AMR: oauth.PasskeyAMR(config), ACR: oauth.PasskeyACR})
	return signedIn{cred: cred, identity: identity, session: ss, cookie: cookie, fresh: fresh}, err
}

// verifyPasskey verifies a passkey's assertion for req, and records the
// refusal of one that cannot sign in (the reason in the event).
func (s *Server) verifyPasskey(r *http.Request, req oauth.AuthRequest, config passkey.Config, credential json.RawMessage) (passkey.Credential, directory.Identity, error) {
	cred, identity, err := s.Passkeys.VerifyAssertion(r.Context(), req.RealmID, config, req.Challenge, credential)
	if le, ok := errors.AsType[*latchkey.Error](err); ok && le.Code != latchkey.CodeInternal {
		if rerr := s.OAuth.SignInRefused(r.Context(), req, identity, cred.ID, refusalReason(le)); rerr != nil {
			err = rerr
		}
	}
	return cred, identity, err
}

// answerRefusal tells the hosted page to show the refusal of req, for
// the reason kind, on its own page.
func (s *Server) answerRefusal(w http.ResponseWriter, r *http.Request, kind string, req oauth.AuthRequest) {
	name, err := s.OAuth.ApplicationName(r.Context(), req.TenantID, req.RealmID, req.ApplicationID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"refused": s.refusalURL(newRefusal(kind, req, name))})
}

// signinAnswer tells the hosted page where the response goes: the URL to
// send the browser to, and, for response_mode form_post, the form that it
// posts there instead.
func signinAnswer(req oauth.AuthRequest, to string) map[string]any {
	answer := map[string]any{"redirect": to}
	if req.Params.FormPost() {
		answer["form"] = map[string]any{"action": req.Params.RedirectURI, "fields": oauth.FormFields(req.Params.RedirectURI, to)}
	}
	return answer
}

// refusalReason is what a sign-in event says of a refused passkey: the
// error's message, or its field's description (a failed assertion).
func refusalReason(e *latchkey.Error) string {
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			return v.Description
		}
	}
	return e.Message
}

// userinfo answers the claims of the identity an access token of this
// application is for (OIDC Core §5.3): the token comes in the
// Authorization header or as the form field access_token of a POST
// (RFC 6750 §2.1, §2.2), never both.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := httpx.Bearer(r)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
		if err := r.ParseForm(); err != nil {
			bearerError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
			return
		}
		if form, inForm := r.PostForm["access_token"]; inForm {
			if ok || len(form) != 1 {
				bearerError(w, http.StatusBadRequest, "invalid_request", "send the access token once, in the header or in the body")
				return
			}
			raw, ok = form[0], form[0] != ""
		}
	}
	p, err := s.OAuth.Verify(r.Context(), raw)
	if ok && err == nil {
		var claims oauth.IDClaims
		claims, err = s.OAuth.UserInfo(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"), p)
		if err == nil {
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusOK, claims)
			return
		}
	}
	if !ok || errors.Is(err, oauth.ErrInvalidToken) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is missing, invalid, expired or of another application")
		return
	}
	httpx.WriteError(w, r, err)
}

// bearerError answers a request refused for its bearer token (RFC 6750 §3).
func bearerError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+description+`"`)
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, status, &oauth.Error{Code: code, Description: description})
}

// discovery is an application's OpenID Provider metadata (OIDC Discovery §3).
func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	meta, err := s.OAuth.Metadata(r.Context(), tenant, realm, appID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpx.WriteJSON(w, http.StatusOK, meta)
}

// currentSession is the browser's live session of the realm, read from the
// database, or nil.
func (s *Server) currentSession(r *http.Request, tenant, realm string) (*session.Session, error) {
	ss, ok, err := s.Sessions.Find(r.Context(), tenant, realm, sessionCookie(r))
	if !ok || err != nil {
		return nil, err
	}
	return &ss, nil
}

// currentSignIn is currentSession with the session's identity, read with it
// (single sign-on needs both), or nil.
func (s *Server) currentSignIn(r *http.Request, tenant, realm string) (*oauth.SignedIn, error) {
	id, found := s.Sessions.Named(tenant, realm, sessionCookie(r))
	if !found {
		return nil, nil
	}
	return s.OAuth.SignedIn(r.Context(), id)
}

// sessionCookie is the value of the browser's session cookie, or "".
func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(session.CookieName); err == nil {
		return c.Value
	}
	return ""
}

// startSession records a passkey's sign-in as the browser's session of
// the realm (renewing its current one of the same identity) and sets its
// cookie: HttpOnly, SameSite=Lax (sent on the top-level GET to /authorize
// that an application's redirect makes), Secure under HTTPS, for the
// realm's paths only, until the session's absolute expiry.
// It returns the session and the cookie's value.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, in session.SignIn) (session.Session, string, error) {
	ss, value, fresh, err := s.beginSession(w, r, in)
	if err == nil {
		err = s.keepSession(r, ss, fresh)
	}
	return ss, value, err
}

// beginSession is startSession with a new session returned fresh and not
// stored yet (session.Service.Begin): the caller stores it with its own
// writes, or keepSession does.
func (s *Server) beginSession(w http.ResponseWriter, r *http.Request, in session.SignIn) (ss session.Session, value string, fresh bool, err error) {
	current, err := s.currentSession(r, in.TenantID, in.RealmID)
	if err != nil {
		return session.Session{}, "", false, err
	}
	in.IP, in.UserAgent = latchkey.ClientIPFrom(r.Context()), r.UserAgent()
	ss, value, fresh, err = s.Sessions.Begin(r.Context(), in, current)
	if err != nil {
		return ss, "", false, err
	}
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: value, Path: session.CookiePath(in.TenantID, in.RealmID),
		Expires: ss.AbsoluteExpireTime, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	return ss, value, fresh, nil
}

// keepSession stores a session that beginSession returned fresh.
func (s *Server) keepSession(r *http.Request, ss session.Session, fresh bool) error {
	if !fresh {
		return nil
	}
	return s.Sessions.Create(r.Context(), ss)
}

// secureCookies is whether cookies are sent over HTTPS only: when
// Latchkey is served over HTTPS.
func (s *Server) secureCookies() bool { return strings.HasPrefix(s.PublicURL, "https://") }
