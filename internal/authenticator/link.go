package authenticator

import (
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/passkey"
)

// linkRoutes are a binding link's own methods on its job. The link's token
// authorises them, not a management token, and the embedded SDK calls them
// cross-origin. The management API adds the job's other methods.
func (s *Server) linkRoutes(mux *httpx.Mux) {
	job := httpx.JobsPath + "/{job}"
	mux.HandleVerbs("GET "+job, httpx.Verbs{"invokeAuthenticator": s.bindingCORS(s.invokeAuthenticator)})
	mux.HandleVerbs("POST "+job, httpx.Verbs{
		"getInfo": s.bindingCORS(s.getInfo),
		"bind":    s.bindingCORS(s.bind),
	})
	mux.HandleVerbs("OPTIONS "+job, httpx.Verbs{
		"invokeAuthenticator": s.bindingCORS(nil),
		"getInfo":             s.bindingCORS(nil),
		"bind":                s.bindingCORS(nil),
	})
}

// bindingCORS lets the origins that the job's authenticator config trusts
// call h from a browser, and answers their preflights (h nil).
func (s *Server) bindingCORS(h http.HandlerFunc) http.Handler {
	return cors(func(r *http.Request) []string {
		return s.Passkeys.TrustedOrigins(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("job"))
	}, h)
}

// sdkCORS lets the origins that an application's embedded authenticator
// config trusts call h from a browser, and answers their preflights (h nil).
func (s *Server) sdkCORS(h http.HandlerFunc) http.Handler {
	return cors(func(r *http.Request) []string {
		_, c, err := s.OAuth.EmbeddedConfig(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
		if err != nil {
			return nil
		}
		return s.Passkeys.AllowedOrigins(c.Config)
	}, h)
}

// appCORS lets a browser app served from the origin of one of the
// application's redirect URIs call h (its token, userinfo, revocation,
// introspection endpoints and discovery: a public client in the browser),
// and answers its preflights (h nil).
func (s *Server) appCORS(h http.HandlerFunc) http.Handler {
	return cors(func(r *http.Request) []string {
		return s.OAuth.RedirectOrigins(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
	}, h)
}

// cors lets the origins that trusted names call h from a browser, with the
// headers the embedded SDK sends, and answers their preflights (h nil).
func cors(trusted func(*http.Request) []string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Add("Vary", "Origin")
			if slices.Contains(trusted(r), origin) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Correlation-Id")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
		}
		if h == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	})
}

// bindingToken is the link's token: the query's on the link itself, the
// bearer one on the calls the authenticator makes with it.
func bindingToken(r *http.Request) string {
	if t, ok := httpx.Bearer(r); ok {
		return t
	}
	return r.URL.Query().Get("token")
}

// advance checks the request's binding token and moves the job to state.
func (s *Server) advance(r *http.Request, state string) (passkey.Invocation, error) {
	return s.Passkeys.Advance(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		r.PathValue("job"), bindingToken(r), state)
}

// invokeAuthenticator opens a binding link. A link whose identity an
// identity provider must vouch for first sends the browser there (it comes
// back here). An embedded config's link answers the SDK's JSON
// instruction, or sends a browser to the app's invoke URL; a hosted one
// lands on the hosted binding page.
func (s *Server) invokeAuthenticator(w http.ResponseWriter, r *http.Request) {
	inv, err := s.advance(r, passkey.LinkOpened)
	if err != nil {
		s.bindingError(w, r, err)
		return
	}
	if inv.Unverified() { // an identity provider must vouch for the identity first
		s.verifyUpstream(w, r, inv)
		return
	}
	j, token := inv.Job, bindingToken(r)
	if inv.Config.Config.Type == passkey.Embedded {
		instruction := map[string]string{
			"tenant_id": j.TenantID, "realm_id": j.RealmID, "identity_id": j.IdentityID, "job_id": j.ID,
			"token": token, "api_base_url": s.Passkeys.BaseURL,
		}
		if wantsHTML(r) {
			http.Redirect(w, r, strings.TrimSuffix(inv.Config.Config.InvokeURL, "/")+"/bind?"+query(instruction), http.StatusFound)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, instruction)
		return
	}
	s.bindingPage(w, r, inv)
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) {
	inv, err := s.advance(r, passkey.RequestDelivered)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	info, err := s.Passkeys.Info(r.Context(), inv, bindingToken(r))
	httpx.Reply(w, r, info, err)
}

func (s *Server) bind(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Type string `json:"type"`
		Raw  string `json:"raw"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := s.Passkeys.Bind(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		r.PathValue("job"), bindingToken(r), passkey.Proof{Type: in.Type, Raw: in.Raw})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// The SDK takes the credential flat, not wrapped.
	httpx.WriteJSON(w, http.StatusOK, c)
}
