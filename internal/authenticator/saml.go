package authenticator

import (
	"encoding/xml"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/sso"
)

// samlPath is where an SSO config's SAML identity provider lives.
var samlPath = saml.Path("{tenant}", "{realm}", "{config}")

// samlRoutes are each SAML SSO config's IdP endpoints: the metadata (its
// URL is the entity ID), SSO (HTTP-Redirect and HTTP-POST), the hosted
// sign-in page's continuation and passkey sign-in, IdP-initiated sign-in,
// and Single Logout.
func (s *Server) samlRoutes(mux *httpx.Mux) {
	mux.HandleFunc("GET "+samlPath+"/metadata", s.samlMetadata)
	mux.HandleFunc("GET "+samlPath+"/sso", s.samlSSO)
	mux.HandleFunc("POST "+samlPath+"/sso", s.samlSSO)
	mux.HandleFunc("GET "+samlPath+"/continue", s.samlContinue)
	mux.HandleFunc("POST "+samlPath+"/signin", s.samlSignin)
	mux.HandleFunc("GET "+samlPath+"/idp-initiated", s.samlIdPInitiated)
	mux.HandleFunc("GET "+samlPath+"/slo", s.samlSLO)
	mux.HandleFunc("POST "+samlPath+"/slo", s.samlSLO)
}

// samlMetadata serves a config's IdP metadata.
func (s *Server) samlMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.SAML.Metadata(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"))
	if err != nil {
		httpx.WriteError(w, r, samlNotFound(err))
		return
	}
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(append([]byte(xml.Header), out...))
}

// samlNotFound names a config that is not a SAML service provider.
func samlNotFound(err error) error {
	if errors.Is(err, latchkey.ErrNotFound) {
		return latchkey.Errorf(latchkey.CodeNotFound, "no SAML service provider here")
	}
	return err
}

// samlSSO takes an SP's AuthnRequest. A request posted cross-site brings
// no session cookie (SameSite=Lax), so once it is checked and stored the
// browser is sent to continue by GET, a top-level navigation that does.
func (s *Server) samlSSO(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	current, err := s.currentSession(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := s.SAML.Begin(r.Context(), tenant, realm, config, r, current)
	if err == nil && out.Pending != nil && current == nil && r.Method == http.MethodPost {
		http.Redirect(w, r, r.URL.Path[:len(r.URL.Path)-len("/sso")]+"/continue?"+url.Values{"request": {out.Pending.ID}}.Encode(), http.StatusSeeOther)
		return
	}
	s.samlOutcome(w, r, out, err)
}

// samlContinue answers a pending SAML sign-in with the browser's session,
// or shows the hosted sign-in page.
func (s *Server) samlContinue(w http.ResponseWriter, r *http.Request) {
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	p, sp, err := s.SAML.Pending(r.Context(), tenant, realm, config, r.URL.Query().Get("request"))
	if err != nil {
		s.samlOutcome(w, r, saml.Outcome{}, err)
		return
	}
	current, err := s.currentSession(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if current == nil || p.ForceAuthn {
		s.samlOutcome(w, r, saml.Outcome{Pending: &p, SP: sp}, nil)
		return
	}
	post, err := s.SAML.Finish(r.Context(), p, latchkey.ClientIPFrom(r.Context()), *current)
	s.samlOutcome(w, r, saml.Outcome{Post: &post, SP: sp}, err)
}

// samlIdPInitiated starts a sign-in to the config's SP without an
// AuthnRequest (RelayState in the query, optional).
func (s *Server) samlIdPInitiated(w http.ResponseWriter, r *http.Request) {
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	current, err := s.currentSession(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := s.SAML.IdPInitiated(r.Context(), tenant, realm, config, r.URL.Query().Get("RelayState"), r, current)
	s.samlOutcome(w, r, out, err)
}

// samlOutcome posts a Response to the SP, or shows the hosted sign-in page
// of a pending sign-in, or why the request is refused.
func (s *Server) samlOutcome(w http.ResponseWriter, r *http.Request, out saml.Outcome, err error) {
	var refused *latchkey.Error
	switch {
	case errors.Is(err, latchkey.ErrNotFound):
		s.pageError(w, r, http.StatusNotFound, "there is no SAML service provider here")
		return
	case errors.As(err, &refused) && refused.Code != latchkey.CodeInternal:
		s.pageError(w, r, httpx.Status(refused.Code), refused.Message)
		return
	case err != nil:
		httpx.WriteError(w, r, err)
		return
	case out.Post != nil:
		nonce := s.pageHeadersPostingTo(w, out.Post.URL)
		render(w, r, "formpost.html", formPostPage{Nonce: nonce, Action: template.URL(out.Post.URL), Fields: out.Post.Fields()})
		return
	}
	p := out.Pending
	if err := s.SSO.CheckLaunch(r.Context(), p.TenantID, p.RealmID, hostedLaunches(r)...); err != nil {
		s.pageSignInError(w, r, err)
		return
	}
	theme, err := s.Mail.ActiveTheme(r.Context(), p.TenantID, p.RealmID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	base := saml.Path(p.TenantID, p.RealmID, p.ConfigID)
	providers, err := s.upstreamOffer(r, p.TenantID, p.RealmID, base, p.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	nonce := s.pageHeadersPostingTo(w, p.ACSURL)
	render(w, r, "signin.html", signinPage{Nonce: nonce, Theme: theme, Realm: theme.EmailRealmName, Application: out.SP.DisplayName,
		Request: map[string]any{"id": p.ID, "options": s.Passkeys.AssertionOptions(p.Challenge, passkey.Config{}),
			"url": base + "/signin", "upstream": providers}})
}

// samlSignin finishes a pending SAML sign-in on the hosted page: the
// passkey signs in as for OIDC (passkeySignIn), then the Response (or, if
// policy refuses, a Response without an assertion) is the form the page
// posts to the SP's ACS URL. Passkeys sign in with the realm's hosted
// defaults (user verification required).
func (s *Server) samlSignin(w http.ResponseWriter, r *http.Request) {
	var in signInProof
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	p, _, err := s.SAML.Pending(r.Context(), tenant, realm, config, in.Request)
	if err == nil {
		err = s.SSO.CheckLaunch(r.Context(), tenant, realm, sso.HostedLaunch(r.UserAgent(), attachment(in.Credential)))
	}
	if err != nil {
		httpx.WriteError(w, r, launchError(err))
		return
	}
	// Its sign-in events name the SSO config as their application.
	req := oauth.AuthRequest{ID: p.ID, TenantID: tenant, RealmID: realm, ApplicationID: config, Challenge: p.Challenge}
	signed, err := s.passkeySignIn(w, r, req, passkey.Config{}, in.Credential)
	if err == nil {
		err = s.keepSession(r, signed.session, signed.fresh)
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	post, err := s.SAML.Finish(r.Context(), p, latchkey.ClientIPFrom(r.Context()), signed.session)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	fields := map[string][]string{}
	for k, v := range post.Fields() {
		fields[k] = []string{v}
	}
	answer := map[string]any{"redirect": post.URL, "form": map[string]any{"action": post.URL, "fields": fields}}
	if post.Denied != "" {
		answer["message"] = post.Denied
	}
	httpx.WriteJSON(w, http.StatusOK, answer)
}

// samlSLO takes an SP's LogoutRequest (signed, HTTP-Redirect or HTTP-POST):
// the sessions it names end, and the SP gets a signed LogoutResponse.
func (s *Server) samlSLO(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	lr, _, err := s.SAML.Logout(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"), r)
	if err != nil {
		s.samlOutcome(w, r, saml.Outcome{}, err)
		return
	}
	if err := lr.WriteLogoutResponse(w, lr.MakeLogoutResponse(crewsaml.StatusSuccess)); err != nil {
		httpx.WriteError(w, r, err)
	}
}
