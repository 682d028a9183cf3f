package authenticator

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/upstream"
)

// upstreamCookie binds an authorization at an upstream provider to the
// browser that started it: a callback in another browser (a link an
// attacker made with their own code) is refused.
const upstreamCookie = "latchkey_upstream"

// upstreamRoutes are the hosted sign-in page's way to an upstream provider
// (an SSO config generic_oidc_idp or okta_idp; a pending sign-in of the
// application or of the SAML SP authorises it) and the callbacks of both kinds of upstream
// provider (the state and the browser's cookie authorise them).
func (s *Server) upstreamRoutes(mux *httpx.Mux) {
	mux.HandleFunc("GET "+httpx.AppPath+"/upstream/{config}", s.upstreamSignIn)
	mux.HandleFunc("GET "+samlPath+"/upstream/{provider}", s.samlUpstreamSignIn)
	mux.HandleFunc("GET "+httpx.RealmPath+"/sso-configs/{provider}/callback", s.upstreamCallback(upstream.KindSSOConfig))
	mux.HandleFunc("GET "+httpx.RealmPath+"/identity-providers/{provider}/callback", s.upstreamCallback(upstream.KindIdentityProvider))
}

// upstreamOffer is what the hosted sign-in page of the realm's pending
// sign-in requestID (of an application or a SAML SP, whose paths start with
// base) offers of upstream providers: each one's name and the link that
// signs in through it.
func (s *Server) upstreamOffer(r *http.Request, tenant, realm, base, requestID string) ([]map[string]string, error) {
	configs, err := s.SSO.SignInProviders(r.Context(), tenant, realm)
	var out []map[string]string
	for _, c := range configs {
		out = append(out, map[string]string{"id": c.ID, "name": c.DisplayName,
			"url": base + "/upstream/" + c.ID + "?" + url.Values{"request": {requestID}}.Encode()})
	}
	return out, err
}

// upstreamSignIn sends the browser of a pending sign-in to an SSO config's
// upstream provider.
func (s *Server) upstreamSignIn(w http.ResponseWriter, r *http.Request) {
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	req, ok := s.pendingPage(w, r, tenant, realm, appID, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	s.sendToProvider(w, r, tenant, realm, r.PathValue("config"), upstream.Authorization{ApplicationID: appID, RequestID: req.ID})
}

// sendToProvider sends the browser of the pending sign-in a to the realm's
// upstream provider (an SSO config's id), or says on a page that there is
// no such provider.
func (s *Server) sendToProvider(w http.ResponseWriter, r *http.Request, tenant, realm, provider string, a upstream.Authorization) {
	p, err := s.Upstream.Provider(r.Context(), tenant, realm, upstream.KindSSOConfig, provider)
	if errors.Is(err, latchkey.ErrNotFound) {
		s.pageError(w, r, http.StatusNotFound, "there is no such identity provider here")
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.sendUpstream(w, r, p, a, "")
}

// pendingPage returns the pending sign-in id of the application appID; or
// it answers why there is none, a refusal (expired, unknown) as a page:
// the browser came here by a link, not from the hosted page's script.
func (s *Server) pendingPage(w http.ResponseWriter, r *http.Request, tenant, realm, appID, id string) (oauth.AuthRequest, bool) {
	req, err := s.OAuth.PendingAuthRequest(r.Context(), tenant, realm, appID, id)
	if refused, ok := errors.AsType[*oauth.Error](err); ok {
		s.pageError(w, r, http.StatusBadRequest, refused.Description)
		return req, false
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return req, false
	}
	return req, true
}

// samlUpstreamSignIn sends the browser of a pending SAML sign-in to an SSO
// config's upstream provider.
func (s *Server) samlUpstreamSignIn(w http.ResponseWriter, r *http.Request) {
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	p, _, err := s.SAML.Pending(r.Context(), tenant, realm, config, r.URL.Query().Get("request"))
	if err != nil {
		s.samlOutcome(w, r, saml.Outcome{}, err)
		return
	}
	s.sendToProvider(w, r, tenant, realm, r.PathValue("provider"), upstream.ForSAML(config, p.ID))
}

// sendUpstream stores a as pending at p and sends the browser there, with
// the cookie that binds the callback to it.
func (s *Server) sendUpstream(w http.ResponseWriter, r *http.Request, p upstream.Provider, a upstream.Authorization, linkToken string) {
	to, browser, err := s.Upstream.Begin(r.Context(), p, a, linkToken)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: browser, Path: session.CookiePath(p.TenantID, p.RealmID),
		MaxAge: int(upstream.TTL.Seconds()), HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusFound)
}

// upstreamCallback takes a provider's answer: a sign-in finishes like a
// passkey's (the session starts, policy decides), a binding job's
// verification goes back to its link.
func (s *Server) upstreamCallback(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
		var browser string
		if c, err := r.Cookie(upstreamCookie); err == nil {
			browser = c.Value
		}
		a, identity, err := s.Upstream.Finish(r.Context(), tenant, realm, kind, r.PathValue("provider"), r.URL.Query(), browser)
		if a.ID == "" {
			s.upstreamError(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Path: session.CookiePath(tenant, realm), MaxAge: -1,
			HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
		if kind == upstream.KindIdentityProvider {
			s.upstreamVerified(w, r, a, err)
			return
		}
		if id, ok := a.SAMLRequest(); ok {
			s.samlUpstreamSignedIn(w, r, a, id, identity, err)
			return
		}
		s.upstreamSignedIn(w, r, a, identity, err)
	}
}

// upstreamError shows why a provider's answer is refused.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if le, ok := errors.AsType[*latchkey.Error](err); ok && le.Code != latchkey.CodeInternal {
		s.pageError(w, r, httpx.Status(le.Code), le.Message)
		return
	}
	httpx.WriteError(w, r, err)
}

// upstreamRefusals are the refusal pages of the identities an upstream
// provider vouched for but that may not sign in.
var upstreamRefusals = map[error]string{
	upstream.ErrUnknownIdentity: refusedUpstreamUnknown,
	upstream.ErrSuspended:       refusedSuspended,
	upstream.ErrNotAssigned:     refusedUpstreamDenied,
}

// upstreamSignedIn finishes the sign-in of a, whose provider vouched for
// identity (or failed with err): a refused sign-in is recorded with why;
// else the browser's session starts, with the upstream's amr and acr, and
// policy decides, as after a passkey.
func (s *Server) upstreamSignedIn(w http.ResponseWriter, r *http.Request, a upstream.Authorization, identity directory.Identity, err error) {
	req, ok := s.pendingPage(w, r, a.TenantID, a.RealmID, a.ApplicationID, a.RequestID)
	if !ok {
		return
	}
	via := s.upstreamVia(r, a)
	if le, ok := errors.AsType[*latchkey.Error](err); ok && le.Code != latchkey.CodeInternal {
		if rerr := s.OAuth.SignInRefused(r.Context(), req, identity, "", via.Reason(le.Message)); rerr != nil {
			err = rerr
		} else if kind := upstreamRefusals[err]; kind != "" {
			s.showUpstreamRefusal(w, r, kind, req)
			return
		}
	}
	if err != nil {
		s.upstreamError(w, r, err)
		return
	}
	ss, err := s.startUpstreamSession(w, r, a, identity)
	var to string
	if err == nil {
		_, to, err = s.OAuth.ApproveUpstream(r.Context(), req, identity, ss, via)
	}
	if kind := refusalKind(err); kind != "" {
		s.showUpstreamRefusal(w, r, kind, req)
		return
	}
	if err != nil {
		s.upstreamError(w, r, err)
		return
	}
	s.respond(w, r, req.Params.FormPost(), req.Params.RedirectURI, to)
}

// samlUpstreamSignedIn finishes the pending SAML sign-in id, whose provider
// vouched for identity (or failed with err, shown on a page): the browser's
// session starts with the upstream's amr and acr, and the SP gets its
// Response (without an assertion if the config's assignments refuse), as
// after a passkey.
func (s *Server) samlUpstreamSignedIn(w http.ResponseWriter, r *http.Request, a upstream.Authorization, id string, identity directory.Identity, err error) {
	p, sp, perr := s.SAML.Pending(r.Context(), a.TenantID, a.RealmID, a.ApplicationID, id)
	if perr != nil {
		s.samlOutcome(w, r, saml.Outcome{}, perr)
		return
	}
	if err != nil {
		s.upstreamError(w, r, err)
		return
	}
	ss, err := s.startUpstreamSession(w, r, a, identity)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	post, err := s.SAML.Finish(r.Context(), p, latchkey.ClientIPFrom(r.Context()), ss)
	s.samlOutcome(w, r, saml.Outcome{Post: &post, SP: sp}, err)
}

// startUpstreamSession starts (or renews) the browser's session of a's
// realm for identity, which a's upstream provider vouched for: its amr and
// acr are the upstream's.
func (s *Server) startUpstreamSession(w http.ResponseWriter, r *http.Request, a upstream.Authorization, identity directory.Identity) (session.Session, error) {
	ss, _, err := s.startSession(w, r, session.SignIn{TenantID: a.TenantID, RealmID: a.RealmID, IdentityID: identity.ID,
		AMR: upstream.AMR, ACR: upstream.ACR})
	return ss, err
}

// upstreamVia is the provider of a, as its sign-in's events name it (by id
// alone when it is no longer configured).
func (s *Server) upstreamVia(r *http.Request, a upstream.Authorization) oauth.Upstream {
	via := oauth.Upstream{ID: a.ProviderID, Name: a.ProviderID}
	if p, err := s.Upstream.Provider(r.Context(), a.TenantID, a.RealmID, upstream.KindSSOConfig, a.ProviderID); err == nil {
		via.Name = p.DisplayName
	}
	return via
}

// showUpstreamRefusal shows the refusal page of req, for the reason kind.
func (s *Server) showUpstreamRefusal(w http.ResponseWriter, r *http.Request, kind string, req oauth.AuthRequest) {
	name, err := s.OAuth.ApplicationName(r.Context(), req.TenantID, req.RealmID, req.ApplicationID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.showRefusal(w, r, newRefusal(kind, req, name))
}

// verifyUpstream sends the browser that opened a binding link to the
// identity provider that must vouch for the job's identity first.
func (s *Server) verifyUpstream(w http.ResponseWriter, r *http.Request, inv passkey.Invocation) {
	j := inv.Job
	p, err := s.Upstream.Provider(r.Context(), j.TenantID, j.RealmID, upstream.KindIdentityProvider, inv.VerifyingIdP())
	if errors.Is(err, latchkey.ErrNotFound) {
		s.pageError(w, r, http.StatusConflict, "the identity provider that must vouch for you is no longer configured; ask for a new link")
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.sendUpstream(w, r, p, upstream.Authorization{IdentityID: j.IdentityID, JobID: j.ID}, bindingToken(r))
}

// upstreamVerified finishes a binding job's verification a: once the
// identity provider vouched for the job's identity (err nil), the job
// records it and the browser goes back to the link, which now binds.
func (s *Server) upstreamVerified(w http.ResponseWriter, r *http.Request, a upstream.Authorization, err error) {
	var link string
	if err == nil {
		var token string
		if token, err = s.Upstream.LinkToken(a); err == nil {
			link, err = s.Passkeys.Verified(r.Context(), a.TenantID, a.RealmID, a.IdentityID, a.JobID, token, a.ProviderID)
		}
	}
	if err != nil {
		s.upstreamError(w, r, err)
		return
	}
	http.Redirect(w, r, link, http.StatusFound)
}
