package authenticator

import (
	"errors"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
)

// logoutPage is what the end-session page shows: an error, the
// confirmation (Confirm set), or that the browser signed out.
type logoutPage struct {
	Nonce       string
	Theme       mail.Theme
	Realm       string
	Application string
	Error       string
	// Confirm is the confirmation's token; Action and Params are where the
	// form posts and the request's parameters it posts again.
	Confirm string
	Action  string
	Params  map[string]string
}

// endSession is an application's end_session_endpoint (OpenID Connect
// RP-Initiated Logout 1.0), GET or POST. With an id_token_hint of the
// application it signs the browser out at once; without, it asks first
// with a form that posts back a token only this page has. It ends the
// browser's session (and the hint's), clears the cookie, and sends the
// browser to the post_logout_redirect_uri, if registered exactly, or shows
// that it signed out.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	tenant, realm, appID := r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")
	page := s.newLogoutPage(r, tenant, realm)
	if err := r.ParseForm(); err != nil {
		s.logoutPage(w, r, http.StatusBadRequest, page, "the sign-out request is malformed")
		return
	}
	f := r.Form
	l, err := s.OAuth.CheckLogout(r.Context(), tenant, realm, appID, oauth.LogoutParams{IDTokenHint: f.Get("id_token_hint"),
		ClientID: f.Get("client_id"), PostLogoutRedirectURI: f.Get("post_logout_redirect_uri"), State: f.Get("state")})
	var refused *oauth.Error
	var notFound *latchkey.Error
	switch {
	case errors.As(err, &refused):
		s.logoutPage(w, r, http.StatusBadRequest, page, "the application's sign-out request is invalid: "+refused.Description)
		return
	case errors.As(err, &notFound) && notFound.Code == latchkey.CodeNotFound:
		s.logoutPage(w, r, http.StatusNotFound, page, "no such application")
		return
	case err != nil:
		httpx.WriteError(w, r, err)
		return
	}
	page.Application = l.Application.DisplayName
	current, err := s.currentSession(r, tenant, realm)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	confirmed := r.Method == http.MethodPost && current != nil && s.OAuth.LogoutConfirmed(r.PostForm.Get("confirm"), *current)
	if current != nil && !l.Hinted && !confirmed {
		page.Confirm, page.Action, page.Params = s.OAuth.LogoutConfirmation(*current), r.URL.Path, map[string]string{}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			if v := f.Get(k); v != "" {
				page.Params[k] = v
			}
		}
		s.logoutPage(w, r, http.StatusOK, page, "")
		return
	}
	if _, err := s.OAuth.SignOut(r.Context(), l, current); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	s.clearSessionCookie(w, tenant, realm)
	if l.Redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, l.Redirect, http.StatusFound)
		return
	}
	s.logoutPage(w, r, http.StatusOK, page, "")
}

// logoutPage renders the end-session page; its form may post only to
// Latchkey itself.
func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request, status int, page logoutPage, message string) {
	page.Nonce, page.Error = s.pageHeadersPostingTo(w, s.PublicURL), message
	w.WriteHeader(status)
	render(w, r, "logout.html", page)
}

// clearSessionCookie removes the browser's session cookie of a realm,
// once its session ended.
func (s *Server) clearSessionCookie(w http.ResponseWriter, tenant, realm string) {
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: "", Path: session.CookiePath(tenant, realm), MaxAge: -1,
		HttpOnly: true, Secure: strings.HasPrefix(s.PublicURL, "https://"), SameSite: http.SameSiteLaxMode})
}

// newLogoutPage is the end-session page of a realm, in its active theme.
func (s *Server) newLogoutPage(r *http.Request, tenant, realm string) logoutPage {
	page := logoutPage{Theme: mail.Theme{ButtonColor: mail.DefaultButtonColor, ButtonTextColor: mail.DefaultButtonTextColor}}
	if theme, err := s.Mail.ActiveTheme(r.Context(), tenant, realm); err == nil {
		page.Theme, page.Realm = theme, theme.EmailRealmName
	}
	return page
}
