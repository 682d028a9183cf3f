package httpx

import (
	"net/http"
	"regexp"
)

// The v1 paths that the handlers of both packages live under.
const (
	TenantPath = "/v1/tenants/{tenant}"
	RealmPath  = TenantPath + "/realms/{realm}"
	AppPath    = RealmPath + "/applications/{app}"
	// JobsPath are an identity's credential binding jobs: managed by the
	// management API, used through their links by the authenticator.
	JobsPath = RealmPath + "/identities/{identity}/credential-binding-jobs"
)

// Mux is the node's one router: the management API and the authenticator
// both register on it, and may add custom methods to the same resource.
type Mux struct {
	*http.ServeMux
	verbs map[string]Verbs
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{ServeMux: http.NewServeMux(), verbs: map[string]Verbs{}} }

// HandleVerbs routes the custom methods of pattern's last segment to their
// handlers, adding to those already registered for pattern; a method
// registered twice panics, as a pattern registered twice does.
func (m *Mux) HandleVerbs(pattern string, verbs Verbs) {
	v, ok := m.verbs[pattern]
	if !ok {
		v = Verbs{}
		m.verbs[pattern] = v
		m.Handle(pattern, v)
	}
	for name, h := range verbs {
		if _, dup := v[name]; dup {
			panic("httpx: method " + name + " of " + pattern + " registered twice")
		}
		v[name] = h
	}
}

// Verbs dispatches on the custom method of the last path segment
// ("{id}:addMembers", Google AIP-136 style); "" is the plain resource. The
// id without its verb replaces the last path value.
type Verbs map[string]http.Handler

func (v Verbs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := lastWildcard(r.Pattern)
	segment := r.PathValue(name)
	id, verb := splitVerb(segment)
	h, ok := v[verb]
	if !ok || id == "" || (verb == "" && id != segment) { // "{id}:" names no method
		WriteError(w, r, ErrNotFound)
		return
	}
	r.SetPathValue(name, id)
	h.ServeHTTP(w, r)
}

var lastWildcardRE = regexp.MustCompile(`\{(\w+)\}$`)

func lastWildcard(pattern string) string {
	m := lastWildcardRE.FindStringSubmatch(pattern)
	if m == nil {
		return ""
	}
	return m[1]
}

func splitVerb(segment string) (id, verb string) {
	for i := 0; i < len(segment); i++ {
		if segment[i] == ':' {
			return segment[:i], segment[i+1:]
		}
	}
	return segment, ""
}
