package httpapi

import (
	"errors"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
)

// token is an application's OAuth token endpoint. Client credentials come
// by HTTP Basic or in the form; errors follow RFC 6749 §5.2.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "the body must be application/x-www-form-urlencoded"})
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
	req.ClientID, req.ClientSecret = clientCredentials(r)
	if req.GrantType == "" {
		writeOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "grant_type is missing"})
		return
	}
	resp, err := s.OAuth.Token(r.Context(), req)
	if err != nil {
		writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var e *oauth.Error
	if !errors.As(err, &e) {
		writeError(w, r, err)
		return
	}
	status := http.StatusBadRequest
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, e)
}

// jwks serves the public signing keys. Every application shares them.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	// Public keys: the embedded SDK fetches them from the customer's app.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, s.OAuth.JWKS())
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	f := oauth.TokenFilter{PrincipalType: r.URL.Query().Get("principal_type"), PrincipalID: r.URL.Query().Get("principal_id")}
	servePage(w, r, oauthPages, nil, "tokens", func(t oauth.Token) string { return t.ID },
		func(opts latchkey.ListOptions) ([]oauth.Token, int, error) {
			return s.OAuth.ListTokens(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"), f, opts)
		})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	replyEmpty(w, r, s.OAuth.DeleteToken(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"), r.PathValue("token")))
}

// listEvents lists the audit events of a realm, or of the whole tenant when
// the path names no realm, newest first (our extension).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	servePage(w, r, directoryPages, audit.FilterAttributes, "events", func(e audit.Event) string { return e.ID },
		func(opts latchkey.ListOptions) ([]audit.Event, int, error) {
			if realm != "" {
				if _, err := s.Directory.GetRealm(r.Context(), tenant, realm); err != nil {
					return nil, 0, err
				}
			}
			return s.Events.ListEvents(r.Context(), tenant, realm, opts)
		})
}

// clientCredentials are the client's id and secret, by HTTP Basic or in
// the form (RFC 6749 §2.3.1).
func clientCredentials(r *http.Request) (id, secret string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

// revoke is an application's token revocation endpoint (RFC 7009): 200
// whether or not the token was known.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		writeOAuthError(w, r, &oauth.Error{Code: "invalid_request", Description: "token is missing"})
		return
	}
	req := oauth.TokenRequest{TenantID: r.PathValue("tenant"), RealmID: r.PathValue("realm"), ApplicationID: r.PathValue("app")}
	req.ClientID, req.ClientSecret = clientCredentials(r)
	if err := s.OAuth.Revoke(r.Context(), req, r.PostForm.Get("token")); err != nil {
		writeOAuthError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
