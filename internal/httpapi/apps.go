package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

const (
	appsPath            = httpx.RealmPath + "/applications"
	resourceServersPath = httpx.RealmPath + "/resource-servers"
)

func (s *Server) appRoutes(mux *httpx.Mux) {
	mux.Handle("POST "+appsPath, s.auth(s.createApp, "applications:create"))
	mux.Handle("GET "+appsPath, s.auth(s.listApps, "applications:read"))
	mux.HandleVerbs("GET "+appsPath+"/{app}", httpx.Verbs{"": s.auth(s.getApp, "applications:read")})
	mux.HandleVerbs("PATCH "+appsPath+"/{app}", httpx.Verbs{"": s.auth(s.updateApp, "applications:update")})
	mux.HandleVerbs("DELETE "+appsPath+"/{app}", httpx.Verbs{"": s.auth(s.deleteApp, "applications:delete")})
	mux.HandleVerbs("POST "+appsPath+"/{app}", httpx.Verbs{"regenerateSecret": s.auth(s.regenerateSecret, "applications:update")})

	mux.Handle("POST "+resourceServersPath, s.auth(s.createResourceServer, "resource-servers:create"))
	mux.Handle("GET "+resourceServersPath, s.auth(s.listResourceServers, "resource-servers:read"))
	mux.HandleVerbs("GET "+resourceServersPath+"/{rs}", httpx.Verbs{"": s.auth(s.getResourceServer, "resource-servers:read")})
	mux.HandleVerbs("PATCH "+resourceServersPath+"/{rs}", httpx.Verbs{"": s.auth(s.updateResourceServer, "resource-servers:update")})
	mux.HandleVerbs("DELETE "+resourceServersPath+"/{rs}", httpx.Verbs{"": s.auth(s.deleteResourceServer, "resource-servers:delete")})
}

// decodeInto decodes the body {"<key>": {…}} onto v, strictly: fields it
// does not name keep their value (a PATCH), read-only ones are restored by
// the service.
func decodeInto(w http.ResponseWriter, r *http.Request, key string, v any) error {
	var raw json.RawMessage
	if err := httpx.DecodeWrapped(w, r, key, &raw, false); err != nil {
		return err
	}
	return latchkey.WithFieldPrefix(httpx.StrictDecode(raw, v), key+".")
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	var a oauth.Application
	if err := decodeInto(w, r, "application", &a); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a, err := s.OAuth.CreateApplication(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), a)
	httpx.Reply(w, r, a, latchkey.WithFieldPrefix(err, "application."))
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), oauthPages, []string{"id", "display_name"}, "applications", func(a oauth.Application) string { return a.ID },
		func(opts latchkey.ListOptions) ([]oauth.Application, int, error) {
			return s.OAuth.ListApplications(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.OAuth.GetApplication(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
	httpx.Reply(w, r, a, err)
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := httpx.DecodeWrapped(w, r, "application", &raw, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a, err := s.OAuth.UpdateApplication(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"),
		func(a *oauth.Application) error { return httpx.StrictDecode(raw, a) })
	httpx.Reply(w, r, a, latchkey.WithFieldPrefix(err, "application."))
}

func (s *Server) regenerateSecret(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a, err := s.OAuth.RegenerateSecret(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
	httpx.Reply(w, r, a, err)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.OAuth.DeleteApplication(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app")))
}

func (s *Server) createResourceServer(w http.ResponseWriter, r *http.Request) {
	var rs oauth.ResourceServer
	if err := decodeInto(w, r, "resource_server", &rs); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rs, err := s.OAuth.CreateResourceServer(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), rs)
	httpx.Reply(w, r, rs, latchkey.WithFieldPrefix(err, "resource_server."))
}

func (s *Server) listResourceServers(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), oauthPages, []string{"id", "display_name", "identifier"}, "resource_servers",
		func(rs oauth.ResourceServer) string { return rs.ID },
		func(opts latchkey.ListOptions) ([]oauth.ResourceServer, int, error) {
			return s.OAuth.ListResourceServers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getResourceServer(w http.ResponseWriter, r *http.Request) {
	rs, err := s.OAuth.GetResourceServer(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"))
	httpx.Reply(w, r, rs, err)
}

func (s *Server) updateResourceServer(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := httpx.DecodeWrapped(w, r, "resource_server", &raw, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rs, err := s.OAuth.UpdateResourceServer(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"),
		func(rs *oauth.ResourceServer) error { return httpx.StrictDecode(raw, rs) })
	httpx.Reply(w, r, rs, latchkey.WithFieldPrefix(err, "resource_server."))
}

func (s *Server) deleteResourceServer(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.OAuth.DeleteResourceServer(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs")))
}
