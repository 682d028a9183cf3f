package httpapi

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/scim"
)

const scimPath = realmPath + "/scim/v2"

// scimRoutes mounts the SCIM endpoints. Users and groups need a management
// token holding scim:<resource>:<action> or scim:all; the discovery
// endpoints are served without one.
func (s *Server) scimRoutes(mux *http.ServeMux) {
	if s.SCIM == nil {
		return
	}
	known := http.NewServeMux() // the SCIM paths, any method: for 405 vs 404
	seen := map[string]bool{}
	for _, rt := range s.SCIM.Routes() {
		if !seen[rt.Path] {
			seen[rt.Path] = true
			known.Handle(scimPath+rt.Path, http.NotFoundHandler())
		}
		var h http.Handler = rt.Handler
		if rt.Resource != "" {
			h = s.guard(h, refuseSCIM, []string{"scim:" + rt.Resource + ":" + rt.Action}, []string{"scim:all"})
		}
		mux.Handle(rt.Method+" "+scimPath+rt.Path, h)
	}
	// Anything else under the SCIM base is a SCIM 405 or 404.
	mux.HandleFunc(scimPath+"/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := known.Handler(r); pattern != "" {
			scim.WriteError(w, scim.NewError(http.StatusMethodNotAllowed, "", "method "+r.Method+" is not allowed here"))
			return
		}
		scim.WriteError(w, scim.NotFound("no SCIM endpoint %s", r.URL.Path))
	})
}

// refuseSCIM writes a refusal as a SCIM error.
func refuseSCIM(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		scim.WriteError(w, scim.Unauthorized("The authorization header is invalid or missing."))
	case http.StatusTooManyRequests:
		scim.WriteError(w, scim.NewError(http.StatusTooManyRequests, "", "too many requests"))
	default:
		scim.WriteError(w, scim.Forbidden("token is unauthorized."))
	}
}
