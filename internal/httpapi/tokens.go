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

// introspection is the realm's token introspection endpoint (RFC 7662).
// A resource server holding a management token with tokens:introspect
// (Bearer) learns about any access token of the realm: that path is the
// management API's, behind guard like every other route here. An
// application authenticating with its own client credentials (HTTP Basic
// or client_id and client_secret in the form) learns only about the tokens
// it issued, with RFC 6749's errors.
func (s *Server) introspection() http.Handler {
	managed := s.auth(func(w http.ResponseWriter, r *http.Request) {
		token, ok := introspectedToken(w, r)
		if !ok {
			return
		}
		answer, err := s.OAuth.Introspect(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), token)
		w.Header().Set("Cache-Control", "no-store")
		httpx.Reply(w, r, answer, err)
	}, "tokens:introspect")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, bearer := httpx.Bearer(r); bearer {
			managed.ServeHTTP(w, r)
			return
		}
		token, ok := introspectedToken(w, r)
		if !ok {
			return
		}
		req := oauth.TokenRequest{TenantID: r.PathValue("tenant"), RealmID: r.PathValue("realm")}
		req.ClientID, req.ClientSecret = httpx.ClientCredentials(r)
		answer, err := s.OAuth.IntrospectAsClient(r.Context(), req, token)
		if err != nil {
			httpx.WriteOAuthError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusOK, answer)
	})
}

// introspectedToken is the token an introspection asks about, or false
// once the request was refused for not naming one.
func introspectedToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "token is missing"})
		return "", false
	}
	return r.PostForm.Get("token"), true
}
