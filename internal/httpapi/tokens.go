package httpapi

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	f := oauth.TokenFilter{PrincipalType: r.URL.Query().Get("principal_type"), PrincipalID: r.URL.Query().Get("principal_id")}
	servePage(w, r, s.Clock.Now(), oauthPages, nil, "tokens", func(t oauth.Token) string { return t.ID },
		func(opts latchkey.ListOptions) ([]oauth.Token, int, error) {
			return s.OAuth.ListTokens(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"), f, opts)
		})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.OAuth.DeleteToken(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"), r.PathValue("token")))
}

// introspect is the realm's token introspection endpoint (RFC 7662), for
// resource servers holding a management token with tokens:introspect. It
// answers in OAuth's format, but a management token authorises it: so it is
// the management API's, behind guard like every other route here.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "token is missing"})
		return
	}
	answer, err := s.OAuth.Introspect(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PostForm.Get("token"))
	w.Header().Set("Cache-Control", "no-store")
	httpx.Reply(w, r, answer, err)
}
