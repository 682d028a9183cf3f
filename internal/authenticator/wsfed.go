package authenticator

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/saml"
)

// wsfedPath is where a ws_fed SSO config's WS-Federation endpoints live.
var wsfedPath = saml.WSFedPath("{tenant}", "{realm}", "{config}")

// wsfedRoutes are each ws_fed config's passive requestor endpoint (GET or
// POST, by wa) and its federation metadata. Its hosted sign-in is SAML's
// (samlContinue, samlSignin), under the config's SAML path: the pending
// sign-in is the same, only its answer differs.
func (s *Server) wsfedRoutes(mux *httpx.Mux) {
	mux.HandleFunc("GET "+wsfedPath, s.wsfed)
	mux.HandleFunc("POST "+wsfedPath, s.wsfed)
	mux.HandleFunc("GET "+wsfedPath+"/metadata", s.wsfedMetadata)
}

// wsfedMetadata serves a config's signed federation metadata.
func (s *Server) wsfedMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.SAML.WSFedMetadata(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config"))
	if errors.Is(err, latchkey.ErrNotFound) {
		err = latchkey.Errorf(latchkey.CodeNotFound, "no WS-Federation relying party here")
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(md)
}

// wsfed takes a relying party's message by its wa: wsignin1.0 signs the
// browser in (with its session, or the hosted page) and posts the token to
// the reply URL; wsignout1.0 and wsignoutcleanup1.0 end the browser's
// session and send it to wreply when that is the reply URL. A sign-in
// posted cross-site brings no session cookie (SameSite=Lax), so it goes on
// by GET, as SAML's does.
func (s *Server) wsfed(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	tenant, realm, config := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("config")
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, http.StatusBadRequest, "the WS-Federation request is malformed")
		return
	}
	current, err := s.currentSession(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	f := r.Form
	switch wa := f.Get("wa"); wa {
	case "wsignin1.0":
		in := saml.WSFedSignIn{Realm: f.Get("wtrealm"), Reply: f.Get("wreply"), Context: f.Get("wctx"), Fresh: f.Get("wfresh")}
		out, err := s.SAML.WSFedSignIn(r.Context(), tenant, realm, config, in, latchkey.ClientIPFrom(r.Context()), current)
		switch {
		case errors.Is(err, latchkey.ErrNotFound):
			s.pageError(w, r, http.StatusNotFound, "there is no WS-Federation relying party here")
		case err == nil && out.Pending != nil && current == nil && r.Method == http.MethodPost:
			http.Redirect(w, r, saml.Path(tenant, realm, config)+"/continue?"+url.Values{"request": {out.Pending.ID}}.Encode(), http.StatusSeeOther)
		default:
			s.samlOutcome(w, r, out, err)
		}
	case "wsignout1.0", "wsignoutcleanup1.0":
		to, err := s.SAML.WSFedSignOut(r.Context(), tenant, realm, config, f.Get("wreply"), current)
		switch {
		case errors.Is(err, latchkey.ErrNotFound):
			s.pageError(w, r, http.StatusNotFound, "there is no WS-Federation relying party here")
			return
		case err != nil:
			httpx.WriteError(w, r, err)
			return
		}
		s.clearSessionCookie(w, tenant, realm)
		w.Header().Set("Cache-Control", "no-store")
		if to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		s.logoutPage(w, r, http.StatusOK, s.newLogoutPage(r, tenant, realm), "")
	case "":
		s.pageError(w, r, http.StatusBadRequest, "the WS-Federation request has no wa")
	default:
		s.pageError(w, r, http.StatusBadRequest, "the WS-Federation action "+wa+" is not supported (wsignin1.0, wsignout1.0, wsignoutcleanup1.0)")
	}
}
