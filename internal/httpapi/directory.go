package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
)

// readOnly are the read-only fields a client may send back; they are ignored.
type readOnly struct {
	ID         json.RawMessage `json:"id"`
	TenantID   json.RawMessage `json:"tenant_id"`
	RealmID    json.RawMessage `json:"realm_id"`
	CreateTime json.RawMessage `json:"create_time"`
	UpdateTime json.RawMessage `json:"update_time"`
}

type tenantIn struct {
	readOnly
	DisplayName *string `json:"display_name"`
}

type realmIn struct {
	readOnly
	DisplayName        *string `json:"display_name"`
	Classification     *string `json:"classification"`
	SessionIdleTimeout *int    `json:"session_idle_timeout"`
	SessionLifetime    *int    `json:"session_lifetime"`
}

type identityIn struct {
	readOnly
	EnrollmentStatus json.RawMessage `json:"enrollment_status"`
	DisplayName      *string         `json:"display_name"`
	Status           *string         `json:"status"`
	Traits           traitsIn        `json:"traits"`
}

// traitsIn are the traits of a request body, by name; null is "". Unlike a
// plain map it names the trait whose value is not a string
// ("traits.username must be a string", not "traits").
type traitsIn map[string]string

func (t *traitsIn) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*t = nil
		return nil
	}
	out := make(traitsIn, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) { // sorted: the first bad trait is reported
		var v *string
		if err := json.Unmarshal(raw[name], &v); err != nil {
			return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[string](), Field: name}
		}
		if v != nil {
			out[name] = *v
		} else {
			out[name] = ""
		}
	}
	*t = out
	return nil
}

type groupIn struct {
	readOnly
	DisplayName *string `json:"display_name"`
	Description *string `json:"description"`
}

func deref[T any](s *T) T {
	var zero T
	if s == nil {
		return zero
	}
	return *s
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.Directory.GetTenant(r.Context(), r.PathValue("tenant"))
	httpx.Reply(w, r, t, err)
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request) {
	var in tenantIn
	if err := httpx.DecodeWrapped(w, r, "tenant", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	t, err := s.Directory.UpdateTenant(r.Context(), r.PathValue("tenant"), directory.TenantPatch{DisplayName: in.DisplayName})
	httpx.Reply(w, r, t, latchkey.WithFieldPrefix(err, "tenant."))
}

func (s *Server) createRealm(w http.ResponseWriter, r *http.Request) {
	var in realmIn
	if err := httpx.DecodeWrapped(w, r, "realm", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	realm, err := s.Directory.CreateRealm(r.Context(), r.PathValue("tenant"),
		directory.Realm{DisplayName: deref(in.DisplayName), Classification: deref(in.Classification),
			SessionIdleTimeout: deref(in.SessionIdleTimeout), SessionLifetime: deref(in.SessionLifetime)})
	httpx.Reply(w, r, realm, latchkey.WithFieldPrefix(err, "realm."))
}

func (s *Server) listRealms(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, directory.RealmFilterAttributes, "realms", func(v directory.Realm) string { return v.ID },
		func(opts latchkey.ListOptions) ([]directory.Realm, int, error) {
			return s.Directory.ListRealms(r.Context(), r.PathValue("tenant"), opts)
		})
}

func (s *Server) getRealm(w http.ResponseWriter, r *http.Request) {
	realm, err := s.Directory.GetRealm(r.Context(), r.PathValue("tenant"), r.PathValue("realm"))
	httpx.Reply(w, r, realm, err)
}

func (s *Server) updateRealm(w http.ResponseWriter, r *http.Request) {
	var in realmIn
	if err := httpx.DecodeWrapped(w, r, "realm", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	realm, err := s.Directory.UpdateRealm(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		directory.RealmPatch{DisplayName: in.DisplayName, Classification: in.Classification,
			SessionIdleTimeout: in.SessionIdleTimeout, SessionLifetime: in.SessionLifetime})
	httpx.Reply(w, r, realm, latchkey.WithFieldPrefix(err, "realm."))
}

func (s *Server) deleteRealm(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.Directory.DeleteRealm(r.Context(), r.PathValue("tenant"), r.PathValue("realm")))
}

func identityID(v directory.Identity) string { return v.ID }
func groupID(v directory.Group) string       { return v.ID }

func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request) {
	var in identityIn
	if err := httpx.DecodeWrapped(w, r, "identity", &in, true); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	traits, err := directory.NewTraits(in.Traits)
	if err != nil {
		httpx.WriteError(w, r, latchkey.WithFieldPrefix(err, "identity."))
		return
	}
	i, err := s.Directory.CreateIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		directory.Identity{DisplayName: deref(in.DisplayName), Status: deref(in.Status), Traits: traits})
	httpx.Reply(w, r, i, latchkey.WithFieldPrefix(err, "identity."))
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, directory.IdentityFilterAttributes, "identities", identityID,
		func(opts latchkey.ListOptions) ([]directory.Identity, int, error) {
			return s.Directory.ListIdentities(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request) {
	i, err := s.Directory.GetIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"))
	httpx.Reply(w, r, i, err)
}

func (s *Server) updateIdentity(w http.ResponseWriter, r *http.Request) {
	var in identityIn
	if err := httpx.DecodeWrapped(w, r, "identity", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	i, err := s.Directory.UpdateIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"),
		directory.IdentityPatch{DisplayName: in.DisplayName, Status: in.Status, Traits: directory.TraitsPatch(in.Traits)})
	httpx.Reply(w, r, i, latchkey.WithFieldPrefix(err, "identity."))
}

func (s *Server) deleteIdentity(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.Directory.DeleteIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity")))
}

func (s *Server) batchDeleteIdentities(w http.ResponseWriter, r *http.Request) {
	var in struct {
		IDs []string `json:"ids"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.ReplyEmpty(w, r, s.Directory.BatchDeleteIdentities(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.IDs))
}

func (s *Server) listIdentityGroups(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "groups", groupID,
		func(opts latchkey.ListOptions) ([]directory.Group, int, error) {
			return s.Directory.ListGroupsOfIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
		})
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in groupIn
	if err := httpx.DecodeWrapped(w, r, "group", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := s.Directory.CreateGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		directory.Group{DisplayName: deref(in.DisplayName), Description: deref(in.Description)}, nil)
	httpx.Reply(w, r, g, latchkey.WithFieldPrefix(err, "group."))
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, directory.GroupFilterAttributes, "groups", groupID,
		func(opts latchkey.ListOptions) ([]directory.Group, int, error) {
			return s.Directory.ListGroups(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.Directory.GetGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"))
	httpx.Reply(w, r, g, err)
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	var in groupIn
	if err := httpx.DecodeWrapped(w, r, "group", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := s.Directory.UpdateGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"),
		directory.GroupPatch{DisplayName: in.DisplayName, Description: in.Description})
	httpx.Reply(w, r, g, latchkey.WithFieldPrefix(err, "group."))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.Directory.DeleteGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group")))
}

type membersIn struct {
	IdentityIDs []string `json:"identity_ids"`
}

func (s *Server) addGroupMembers(w http.ResponseWriter, r *http.Request) {
	var in membersIn
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := s.Directory.AddGroupMembers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"), in.IdentityIDs)
	httpx.Reply(w, r, g, err)
}

func (s *Server) deleteGroupMembers(w http.ResponseWriter, r *http.Request) {
	var in membersIn
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	g, err := s.Directory.DeleteGroupMembers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"), in.IdentityIDs)
	httpx.Reply(w, r, g, err)
}

func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, directory.IdentityFilterAttributes, "identities", identityID,
		func(opts latchkey.ListOptions) ([]directory.Identity, int, error) {
			return s.Directory.ListGroupMembers(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"), opts)
		})
}
