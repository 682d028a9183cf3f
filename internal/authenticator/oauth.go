package authenticator

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

// token is an application's OAuth token endpoint. Client credentials come
// by HTTP Basic or in the form; errors follow RFC 6749 §5.2.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil {
		httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "the body must be application/x-www-form-urlencoded"})
		return
	}
	req := oauth.TokenRequest{
		TenantID: r.PathValue("tenant"), RealmID: r.PathValue("realm"), ApplicationID: r.PathValue("app"),
		GrantType: r.PostForm.Get("grant_type"), Scope: r.PostForm.Get("scope"),
		ExpirationTime: r.PostForm.Get("expiration_time"),
		Code:           r.PostForm.Get("code"), RedirectURI: r.PostForm.Get("redirect_uri"),
		CodeVerifier: r.PostForm.Get("code_verifier"), RefreshToken: r.PostForm.Get("refresh_token"),
		CustomClaims: r.PostForm.Get("custom_claims"),
	}
	req.ClientID, req.ClientSecret = httpx.ClientCredentials(r)
	if req.GrantType == "" {
		httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "grant_type is missing"})
		return
	}
	resp, err := s.OAuth.Token(r.Context(), req)
	if err != nil {
		httpx.WriteOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// introspect is an application's token introspection endpoint (RFC 7662),
// authenticated by its own client credentials: only the tokens it issued
// are active for it.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	req, token, ok := tokenForm(w, r)
	if !ok {
		return
	}
	answer, err := s.OAuth.IntrospectAsClient(r.Context(), req, token)
	if err != nil {
		httpx.WriteOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, answer)
}

// jwks serves the public signing keys. Every application shares them.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	// Public keys: the embedded SDK fetches them from the customer's app.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	httpx.WriteJSON(w, http.StatusOK, s.OAuth.JWKS())
}

// revoke is an application's token revocation endpoint (RFC 7009): 200
// whether or not the token was known.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	req, token, ok := tokenForm(w, r)
	if !ok {
		return
	}
	if err := s.OAuth.Revoke(r.Context(), req, token); err != nil {
		httpx.WriteOAuthError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// tokenForm reads the form of the endpoints to which an application brings
// a token with its client credentials (revoke, introspect): the request of
// the path's application and the token. It answers invalid_request itself,
// and reports false, when the form cannot be read or names no token.
func tokenForm(w http.ResponseWriter, r *http.Request) (oauth.TokenRequest, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		httpx.WriteOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "token is missing"})
		return oauth.TokenRequest{}, "", false
	}
	req := oauth.TokenRequest{TenantID: r.PathValue("tenant"), RealmID: r.PathValue("realm"), ApplicationID: r.PathValue("app")}
	req.ClientID, req.ClientSecret = httpx.ClientCredentials(r)
	return req, r.PostForm.Get("token"), true
}
