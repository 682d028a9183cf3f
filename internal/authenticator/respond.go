package authenticator

import (
	"html/template"
	"net/http"

	"github.com/latchkey/latchkey/internal/oauth"
)

// formPostPage is the page that posts an authorization response to the
// client's redirect URI (OAuth 2.0 Form Post Response Mode).
type formPostPage struct {
	Nonce  string
	Action template.URL // a registered redirect URI, checked: any scheme it has
	Fields map[string]string
}

// respond sends the browser the authorization response (a code or an
// error) that the URL to carries for the client's redirect URI: a redirect,
// or, for response_mode form_post, a page whose form posts it there.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, formPost bool, redirectURI, to string) {
	if !formPost {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	fields := map[string]string{}
	for k, v := range oauth.FormFields(redirectURI, to) {
		fields[k] = v[0]
	}
	nonce := s.pageHeadersPostingTo(w, redirectURI)
	render(w, r, "formpost.html", formPostPage{Nonce: nonce, Action: template.URL(redirectURI), Fields: fields})
}
