package httpapi

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/scim"
)

const scimPath = httpx.RealmPath + "/scim/v2"

// scimPathRE matches the paths under a SCIM base, whose errors are SCIM errors.
var scimPathRE = regexp.MustCompile(`^/v1/tenants/[^/]+/realms/[^/]+/scim/v2(/|$)`)

// scimRoutes mounts the SCIM endpoints. Users, groups and bulk need a
// management token of the tenant; the users and groups handlers then require
// scim:<resource>:<action> or scim:all (scimAllowed), also for each
// operation of a bulk request. The discovery endpoints are served without a
// token.
func (s *Server) scimRoutes(mux *httpx.Mux) {
	if s.SCIM == nil {
		return
	}
	known := http.NewServeMux() // the SCIM paths, any method: for 405 vs 404
	seen := map[string]bool{}
	anyScope := []string{}
	for _, rt := range s.SCIM.Routes(scimAllowed) {
		if !seen[rt.Path] {
			seen[rt.Path] = true
			known.Handle(scimPath+rt.Path, http.NotFoundHandler())
		}
		var h http.Handler = rt.Handler
		if rt.Resource != "" {
			h = s.guard(h, refuseSCIM, anyScope)
		}
		mux.Handle(rt.Method+" "+scimPath+rt.Path, h)
	}
	// Anything else under the SCIM base, and the base itself, is a SCIM 405 or 404.
	fallback := func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := known.Handler(r); pattern != "" {
			scim.WriteError(w, r, scim.NewError(http.StatusMethodNotAllowed, "", "method "+r.Method+" is not allowed here"))
			return
		}
		scim.WriteError(w, r, scim.NotFound("no SCIM endpoint %s", r.URL.Path))
	}
	mux.HandleFunc(scimPath, fallback)
	mux.HandleFunc(scimPath+"/{rest...}", fallback)
}

// scimAllowed reports whether the request's token holds the scope of a SCIM
// action on users or groups.
func scimAllowed(r *http.Request, resource, action string) bool {
	p := principalFrom(r.Context())
	return p.HasScopes([]string{"scim:" + resource + ":" + action}) || p.HasScopes([]string{"scim:all"})
}

// refuseSCIM writes a refusal as a SCIM error.
func refuseSCIM(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		scim.WriteError(w, r, scim.Unauthorized("The authorization header is invalid or missing."))
	case http.StatusTooManyRequests:
		scim.WriteError(w, r, scim.NewError(http.StatusTooManyRequests, "", "too many requests"))
	case http.StatusInternalServerError:
		scim.WriteJSON(w, status, scim.NewError(status, "", "internal server error")) // guard logged the cause
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(latchkey.RetryAfter))
		scim.WriteJSON(w, status, scim.NewError(status, "", httpx.ErrUnavailable.Message))
	default:
		scim.WriteError(w, r, scim.Forbidden("token is unauthorized."))
	}
}

// refusalFor returns the refusal in the error format of the request's API.
func refusalFor(r *http.Request) refusal {
	if scimPathRE.MatchString(r.URL.Path) {
		return refuseSCIM
	}
	return refuseAPI
}
