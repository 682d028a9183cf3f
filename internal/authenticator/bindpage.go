package authenticator

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/passkey"
)

//go:embed pages/*.html pages/logo.svg
var pageFiles embed.FS

var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// serveLogo serves Latchkey's logo, the default of a realm's theme.
func serveLogo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, pageFiles, "pages/logo.svg")
}

// wantsHTML reports whether the client is a browser navigating, rather
// than a program asking for JSON.
// render writes a page. A template that fails midway is logged: the status
// and part of the page are sent by then.
func render(w http.ResponseWriter, r *http.Request, name string, data any) {
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		ctx := r.Context()
		latchkey.LoggerFrom(ctx).ErrorContext(ctx, "render page", "page", name, "err", err, "request_id", latchkey.RequestIDFrom(ctx))
	}
}

func wantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "application/json")
}

// query encodes values as a query string in a stable order.
func query(values map[string]string) string {
	q := url.Values{}
	for k, v := range values {
		q.Set(k, v)
	}
	return q.Encode()
}

// pageHeaders sets what every hosted page needs: no caching, a strict CSP
// whose nonce lets only the page's own script and style run.
func (s *Server) pageHeaders(w http.ResponseWriter) (nonce string) {
	return s.pageHeadersPostingTo(w, "")
}

// pageHeadersPostingTo is pageHeaders for a page that may post a form to
// target, a redirect URI (its origin; "" for none).
func (s *Server) pageHeadersPostingTo(w http.ResponseWriter, target string) (nonce string) {
	formAction := "'none'"
	if u, err := url.Parse(target); target != "" && err == nil {
		formAction = u.Scheme + ":"
		if u.Host != "" {
			formAction = u.Scheme + "://" + u.Host
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	nonce = base64.RawStdEncoding.EncodeToString(b)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the URL holds the link's token
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; img-src "+mail.LogoSources(s.PublicURL)+"; connect-src 'self'; base-uri 'none'; form-action "+formAction+"; frame-ancestors 'none'")
	return nonce
}

// bindPage is what the hosted binding page shows.
type bindPage struct {
	Nonce       string
	Realm       string
	Identity    string
	Username    string
	Error       string
	JobURL      string // the job's path, to which the page adds :getInfo and :bind
	Token       string
	RedirectURI string
	Theme       mail.Theme
}

// bindingPage serves the hosted page on which an identity binds a passkey.
func (s *Server) bindingPage(w http.ResponseWriter, r *http.Request, inv passkey.Invocation) {
	theme, err := s.Mail.ActiveTheme(r.Context(), inv.Tenant.ID, inv.Realm.ID)
	if err != nil {
		s.bindingError(w, r, err)
		return
	}
	j := inv.Job
	p := bindPage{
		Nonce: s.pageHeaders(w), Realm: theme.EmailRealmName, Identity: inv.Identity.DisplayName, Theme: theme,
		Username: inv.Identity.Traits.Username, Token: bindingToken(r), RedirectURI: j.PostBindingRedirectURI,
		JobURL: jobPath(j),
	}
	render(w, r, "bind.html", p)
}

// bindingError tells why a link cannot be used: as a page to a browser,
// as the API's error to a program.
func (s *Server) bindingError(w http.ResponseWriter, r *http.Request, err error) {
	var e *latchkey.Error
	if !wantsHTML(r) || !errors.As(err, &e) {
		httpx.WriteError(w, r, err)
		return
	}
	nonce := s.pageHeaders(w)
	w.WriteHeader(httpx.Status(e.Code))
	render(w, r, "bind.html", bindPage{Nonce: nonce, Error: e.Message,
		Theme: mail.Theme{ButtonColor: mail.DefaultButtonColor, ButtonTextColor: mail.DefaultButtonTextColor}})
}
