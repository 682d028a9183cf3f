package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

const rolesPath = resourceServersPath + "/{rs}/roles"

func (s *Server) roleRoutes(mux *httpx.Mux) {
	mux.Handle("POST "+rolesPath, s.auth(s.createRole, "roles:create"))
	mux.Handle("GET "+rolesPath, s.auth(s.listRoles, "roles:read"))
	mux.HandleVerbs("GET "+rolesPath+"/{role}", httpx.Verbs{
		"":            s.auth(s.getRole, "roles:read"),
		"listMembers": s.auth(s.listRoleMembers, "roles:read", "groups:read", "identities:read"),
		"listScopes":  s.auth(s.listRoleScopes, "roles:read", "resource-servers:read"),
	})
	mux.HandleVerbs("PATCH "+rolesPath+"/{role}", httpx.Verbs{"": s.auth(s.updateRole, "roles:update")})
	mux.HandleVerbs("DELETE "+rolesPath+"/{role}", httpx.Verbs{"": s.auth(s.deleteRole, "roles:delete")})
	mux.HandleVerbs("POST "+rolesPath+"/{role}", httpx.Verbs{
		"addMembers":    s.auth(s.changeRoleMembers(s.OAuth.AddRoleMembers), "roles:update", "groups:read", "identities:read"),
		"deleteMembers": s.auth(s.changeRoleMembers(s.OAuth.DeleteRoleMembers), "roles:update", "groups:read", "identities:read"),
		"addScopes":     s.auth(s.changeRoleScopes(s.OAuth.AddRoleScopes), "roles:update", "resource-servers:read"),
		"deleteScopes":  s.auth(s.changeRoleScopes(s.OAuth.DeleteRoleScopes), "roles:update", "resource-servers:read"),
	})
}

func roleID(v oauth.Role) string { return v.ID }

func (s *Server) createRole(w http.ResponseWriter, r *http.Request) {
	var role oauth.Role
	if err := decodeInto(w, r, "role", &role); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	role, err := s.OAuth.CreateRole(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), role)
	httpx.Reply(w, r, role, latchkey.WithFieldPrefix(err, "role."))
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, []string{"id", "display_name"}, "roles", roleID,
		func(opts latchkey.ListOptions) ([]oauth.Role, int, error) {
			return s.OAuth.ListRoles(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), opts)
		})
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request) {
	role, err := s.OAuth.GetRole(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"))
	httpx.Reply(w, r, role, err)
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := httpx.DecodeWrapped(w, r, "role", &raw, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	role, err := s.OAuth.UpdateRole(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"),
		func(role *oauth.Role) error { return httpx.StrictDecode(raw, role) })
	httpx.Reply(w, r, role, latchkey.WithFieldPrefix(err, "role."))
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.OAuth.DeleteRole(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role")))
}

// changeRoleMembers serves addMembers and deleteMembers.
func (s *Server) changeRoleMembers(change func(ctx context.Context, tenantID, realmID, resourceServerID, id string, groupIDs, identityIDs []string) (oauth.Role, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			GroupIDs    []string `json:"group_ids"`
			IdentityIDs []string `json:"identity_ids"`
		}
		if err := httpx.DecodeBody(w, r, &in); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		role, err := change(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"), in.GroupIDs, in.IdentityIDs)
		httpx.Reply(w, r, role, err)
	}
}

// changeRoleScopes serves addScopes and deleteScopes.
func (s *Server) changeRoleScopes(change func(ctx context.Context, tenantID, realmID, resourceServerID, id string, scopes []string) (oauth.Role, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Scopes []string `json:"scopes"`
		}
		if err := httpx.DecodeBody(w, r, &in); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		role, err := change(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"), in.Scopes)
		httpx.Reply(w, r, role, err)
	}
}

func (s *Server) listRoleScopes(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "scopes", func(scope string) string { return scope },
		func(opts latchkey.ListOptions) ([]string, int, error) {
			return s.OAuth.ListRoleScopes(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"), opts)
		})
}

// membersPageToken is the page token of listMembers, which pages two lists
// at once: where each of them goes on, and their page sizes.
type membersPageToken struct {
	GroupsAt       int   `json:"g"`
	IdentitiesAt   int   `json:"i"`
	GroupsSize     int   `json:"gs"`
	IdentitiesSize int   `json:"is"`
	Issued         int64 `json:"t"`
}

// membersPage reads listMembers' parameters: the page token, then
// groups_page_size, groups_skip, identities_page_size and identities_skip
// (skips count from where the token goes on).
func membersPage(q url.Values, now time.Time) (membersPageToken, error) {
	p := membersPageToken{GroupsSize: directoryPages.def, IdentitiesSize: directoryPages.def}
	if raw := q.Get("page_token"); raw != "" {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || json.Unmarshal(b, &p) != nil || p.GroupsSize <= 0 || p.IdentitiesSize <= 0 || p.GroupsAt < 0 || p.IdentitiesAt < 0 ||
			now.Sub(time.Unix(p.Issued, 0)) > pageTokenLifetime {
			return p, invalidPageToken()
		}
	}
	for _, param := range []struct {
		name   string
		value  *int
		isSize bool
	}{
		{"groups_page_size", &p.GroupsSize, true},
		{"identities_page_size", &p.IdentitiesSize, true},
		{"groups_skip", &p.GroupsAt, false},
		{"identities_skip", &p.IdentitiesAt, false},
	} {
		raw := q.Get(param.name)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseUint(raw, 10, 31)
		switch {
		case err != nil:
			return p, latchkey.InvalidField(param.name, "must be a non-negative integer")
		case param.isSize && n > 0:
			*param.value = min(int(n), directoryPages.max)
		case !param.isSize:
			*param.value += int(n)
		}
	}
	return p, nil
}

func (s *Server) listRoleMembers(w http.ResponseWriter, r *http.Request) {
	now := s.Clock.Now()
	p, err := membersPage(r.URL.Query(), now)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	m, err := s.OAuth.ListRoleMembers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("rs"), r.PathValue("role"),
		latchkey.ListOptions{Limit: p.GroupsSize, Skip: p.GroupsAt}, latchkey.ListOptions{Limit: p.IdentitiesSize, Skip: p.IdentitiesAt})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	body := map[string]any{
		"groups": nonNil(m.Groups), "total_groups_size": m.TotalGroups,
		"identities": nonNil(m.Identities), "total_identities_size": m.TotalIdentities,
	}
	p.GroupsAt += len(m.Groups)
	p.IdentitiesAt += len(m.Identities)
	if p.GroupsAt < m.TotalGroups || p.IdentitiesAt < m.TotalIdentities {
		p.Issued = now.Unix()
		b, _ := json.Marshal(p)
		body["next_page_token"] = base64.RawURLEncoding.EncodeToString(b)
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// listIdentityRoles and listGroupRoles list the roles given to an identity
// or a group itself, narrowed to one resource_server_id when given.
func (s *Server) listIdentityRoles(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "roles", roleID, func(opts latchkey.ListOptions) ([]oauth.Role, int, error) {
		return s.OAuth.ListRolesOfIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
			r.URL.Query().Get("resource_server_id"), opts)
	})
}

func (s *Server) listGroupRoles(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "roles", roleID, func(opts latchkey.ListOptions) ([]oauth.Role, int, error) {
		return s.OAuth.ListRolesOfGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"),
			r.URL.Query().Get("resource_server_id"), opts)
	})
}
