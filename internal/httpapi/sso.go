package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/sso"
)

// ssoRoutes are workforce single sign-on's: SSO configs and their
// assignments, identity providers and launch mechanisms (API §12).
func (s *Server) ssoRoutes(mux *httpx.Mux) {
	if s.SSO == nil {
		return
	}
	h := func(fn http.HandlerFunc, scopes ...string) http.Handler { return correlated(s.auth(fn, scopes...)) }
	configs := httpx.RealmPath + "/sso-configs"
	config := configs + "/{sso_config}"
	mux.Handle("POST "+configs, h(s.createSSOConfig, "sso-configs:create"))
	mux.Handle("GET "+configs, h(s.listSSOConfigs, "sso-configs:read"))
	mux.HandleVerbs("GET "+config, httpx.Verbs{
		"":                         h(s.getSSOConfig, "sso-configs:read"),
		"listIdentityAssociations": h(s.listSSOIdentityAssociations, "sso-configs:read", "identities:read", "groups:read"),
		"listGroupAssociations":    h(s.listSSOGroupAssociations, "sso-configs:read", "groups:read"),
	})
	mux.HandleVerbs("PATCH "+config, httpx.Verbs{"": h(s.updateSSOConfig, "sso-configs:update")})
	mux.HandleVerbs("DELETE "+config, httpx.Verbs{"": h(s.deleteSSOConfig, "sso-configs:delete")})
	mux.HandleVerbs("POST "+config, httpx.Verbs{
		"addIdentities":    h(s.ssoAssignments(s.SSO.AddIdentities, "identity_ids"), "sso-configs:update"),
		"deleteIdentities": h(s.ssoAssignments(s.SSO.DeleteIdentities, "identity_ids"), "sso-configs:update"),
		"addGroups":        h(s.ssoAssignments(s.SSO.AddGroups, "group_ids"), "sso-configs:update"),
		"deleteGroups":     h(s.ssoAssignments(s.SSO.DeleteGroups, "group_ids"), "sso-configs:update"),
	})
	mux.Handle("POST "+config+"/is-group-assigned", h(s.isGroupAssigned, "sso-configs:read"))
	mux.Handle("POST "+config+"/test", h(s.testSSOConfig, "sso-configs:read"))
	mux.Handle("GET "+httpx.RealmPath+"/identities/{identity}/sso-configs", h(s.listSSOConfigsOfIdentity, "sso-configs:read"))
	mux.Handle("GET "+httpx.RealmPath+"/identities/{identity}/sso-configs/{sso_config}/is-identity-assigned", h(s.isIdentityAssigned, "sso-configs:read"))
	mux.Handle("GET "+httpx.RealmPath+"/groups/{group}/sso-configs", h(s.listSSOConfigsOfGroup, "sso-configs:read"))
	mux.Handle("GET "+httpx.AppPath+"/sso-configs-id", h(s.ssoConfigOfApplication, "sso-configs:read"))

	idps := httpx.RealmPath + "/identity-providers"
	mux.Handle("POST "+idps, h(s.createIdentityProvider, "identity-providers:create"))
	mux.Handle("GET "+idps, h(s.listIdentityProviders, "identity-providers:read"))
	mux.HandleVerbs("GET "+idps+"/{idp}", httpx.Verbs{"": h(s.getIdentityProvider, "identity-providers:read")})
	mux.HandleVerbs("PATCH "+idps+"/{idp}", httpx.Verbs{"": h(s.updateIdentityProvider, "identity-providers:update")})
	mux.HandleVerbs("DELETE "+idps+"/{idp}", httpx.Verbs{"": h(s.deleteIdentityProvider, "identity-providers:delete")})

	mux.Handle("GET "+httpx.RealmPath+"/flow-type-config", h(s.getFlowTypes, "flow-type:read"))
	mux.Handle("PATCH "+httpx.RealmPath+"/flow-type-config", h(s.updateFlowTypes, "flow-type:read", "flow-type:update"))
}

// correlated echoes a request's correlation id (x-correlation-id, or the
// spec's x-correlation_id) in the x-correlation-id header of the answer,
// or makes one, as the SSO endpoints of the reference say.
func correlated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Correlation-Id")
		if id == "" {
			id = r.Header.Get("X-Correlation_id")
		}
		if !validRequestID.MatchString(id) {
			id = latchkey.NewID()
		}
		w.Header().Set("X-Correlation-Id", id)
		next.ServeHTTP(w, r)
	})
}

type ssoConfigIn struct {
	DisplayName *string         `json:"display_name"`
	IsMigrated  *bool           `json:"is_migrated"`
	Payload     json.RawMessage `json:"payload"`
	ID          json.RawMessage `json:"id"` // read-only
}

func (in ssoConfigIn) sso() sso.In {
	return sso.In{DisplayName: in.DisplayName, IsMigrated: in.IsMigrated, Payload: in.Payload}
}

func (s *Server) createSSOConfig(w http.ResponseWriter, r *http.Request) {
	var in ssoConfigIn
	if err := httpx.DecodeWrapped(w, r, "sso_config", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := s.SSO.Create(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.sso())
	httpx.Reply(w, r, c, latchkey.WithFieldPrefix(err, "sso_config."))
}

// ssoListFilter reads the list's type (repeatable) and is_migrated
// parameters; order_by may only name the order lists have (id).
func ssoListFilter(r *http.Request) (sso.ListFilter, error) {
	q := r.URL.Query()
	f := sso.ListFilter{Types: q["type"]}
	if raw := q.Get("is_migrated"); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return f, latchkey.InvalidField("is_migrated", "must be true or false")
		}
		f.IsMigrated = &b
	}
	if o := q.Get("order_by"); o != "" && o != "id" {
		return f, latchkey.InvalidField("order_by", "lists are ordered by id; no other order is supported")
	}
	return f, nil
}

func configID(c sso.Config) string { return c.ID }

func (s *Server) listSSOConfigs(w http.ResponseWriter, r *http.Request) {
	f, err := ssoListFilter(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "sso_configs", configID, func(opts latchkey.ListOptions) ([]sso.Config, int, error) {
		return s.SSO.List(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), f, opts)
	})
}

func (s *Server) getSSOConfig(w http.ResponseWriter, r *http.Request) {
	c, err := s.SSO.Config(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"))
	httpx.Reply(w, r, c, err)
}

// updateSSOConfig takes the reference's body, {"sso_config": {"type": …,
// <payload fields to change>}}, in which display_name and is_migrated may
// stand too; or the create's shape, {"sso_config": {"display_name",
// "is_migrated", "payload": {…}}}.
func (s *Server) updateSSOConfig(w http.ResponseWriter, r *http.Request) {
	var fields map[string]json.RawMessage
	if err := httpx.DecodeWrapped(w, r, "sso_config", &fields, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var in ssoConfigIn
	if _, ok := fields["payload"]; !ok {
		flat := map[string]json.RawMessage{}
		for k, v := range fields {
			switch k {
			case "display_name", "is_migrated", "id":
			default:
				flat[k] = v
				delete(fields, k)
			}
		}
		if len(flat) > 0 {
			fields["payload"], _ = json.Marshal(flat)
		}
	}
	b, _ := json.Marshal(fields)
	if err := httpx.StrictDecode(b, &in); err != nil {
		httpx.WriteError(w, r, latchkey.WithFieldPrefix(err, "sso_config."))
		return
	}
	c, err := s.SSO.Update(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"), in.sso())
	httpx.Reply(w, r, c, latchkey.WithFieldPrefix(err, "sso_config."))
}

func (s *Server) deleteSSOConfig(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.SSO.Delete(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config")))
}

// ssoAssignments serves :addIdentities and the like: a body {"<field>": [ids]}
// answered with 200 and no body.
func (s *Server) ssoAssignments(change func(ctx context.Context, tenantID, realmID, id string, ids []string) error, field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in map[string][]string
		if err := httpx.DecodeBody(w, r, &in); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		for k := range in {
			if k != field {
				httpx.WriteError(w, r, latchkey.InvalidField(k, "unknown field"))
				return
			}
		}
		httpx.ReplyEmpty(w, r, change(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"), in[field]))
	}
}

func associationKey(a sso.AssociatedIdentity) string { return a.ID + "/" + a.GroupID }

func (s *Server) listSSOIdentityAssociations(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "identities", associationKey,
		func(opts latchkey.ListOptions) ([]sso.AssociatedIdentity, int, error) {
			return s.SSO.ListIdentityAssociations(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"), opts)
		})
}

func (s *Server) listSSOGroupAssociations(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "groups", func(g sso.AssociatedGroup) string { return g.ID },
		func(opts latchkey.ListOptions) ([]sso.AssociatedGroup, int, error) {
			return s.SSO.ListGroupAssociations(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"), opts)
		})
}

func (s *Server) listSSOConfigsOfIdentity(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "sso_configs", configID, func(opts latchkey.ListOptions) ([]sso.Config, int, error) {
		return s.SSO.ListConfigsOfIdentity(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), opts)
	})
}

func (s *Server) listSSOConfigsOfGroup(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "sso_configs", configID, func(opts latchkey.ListOptions) ([]sso.Config, int, error) {
		return s.SSO.ListConfigsOfGroup(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("group"), opts)
	})
}

type assignedOut struct {
	IsAssigned bool `json:"is_assigned_to_sso_config"`
}

func (s *Server) isIdentityAssigned(w http.ResponseWriter, r *http.Request) {
	ok, err := s.SSO.IsIdentityAssigned(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"), r.PathValue("sso_config"))
	httpx.Reply(w, r, assignedOut{ok}, err)
}

func (s *Server) isGroupAssigned(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GroupIDs []string `json:"group_ids"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ok, err := s.SSO.IsGroupAssigned(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"), in.GroupIDs)
	httpx.Reply(w, r, assignedOut{ok}, err)
}

func (s *Server) ssoConfigOfApplication(w http.ResponseWriter, r *http.Request) {
	id, err := s.SSO.ConfigOfApplication(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("app"))
	httpx.Reply(w, r, struct {
		SSOConfigID string `json:"sso_config_id,omitempty"`
	}{id}, err)
}

func (s *Server) testSSOConfig(w http.ResponseWriter, r *http.Request) {
	res, err := s.SSO.Test(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("sso_config"))
	httpx.Reply(w, r, res, err)
}

type identityProviderIn struct {
	readOnly
	DisplayName    *string         `json:"display_name"`
	ProtocolConfig json.RawMessage `json:"protocol_config"`
}

func (in identityProviderIn) sso() sso.IdPIn {
	return sso.IdPIn{DisplayName: in.DisplayName, ProtocolConfig: in.ProtocolConfig}
}

// createIdentityProvider takes the bare identity provider, as the reference
// sends it, or one wrapped in {"identity_provider": …} as its update is.
func (s *Server) createIdentityProvider(w http.ResponseWriter, r *http.Request) {
	var in identityProviderIn
	if err := httpx.DecodeWrapped(w, r, "identity_provider", &in, true); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := s.SSO.CreateIdentityProvider(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.sso())
	httpx.Reply(w, r, p, err)
}

func (s *Server) listIdentityProviders(w http.ResponseWriter, r *http.Request) {
	servePage(w, r, s.Clock.Now(), directoryPages, nil, "identity_providers", func(p sso.IdentityProvider) string { return p.ID },
		func(opts latchkey.ListOptions) ([]sso.IdentityProvider, int, error) {
			return s.SSO.ListIdentityProviders(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), opts)
		})
}

func (s *Server) getIdentityProvider(w http.ResponseWriter, r *http.Request) {
	p, err := s.SSO.IdentityProvider(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("idp"))
	httpx.Reply(w, r, p, err)
}

func (s *Server) updateIdentityProvider(w http.ResponseWriter, r *http.Request) {
	var in identityProviderIn
	if err := httpx.DecodeWrapped(w, r, "identity_provider", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := s.SSO.UpdateIdentityProvider(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("idp"), in.sso())
	httpx.Reply(w, r, p, latchkey.WithFieldPrefix(err, "identity_provider."))
}

func (s *Server) deleteIdentityProvider(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.SSO.DeleteIdentityProvider(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("idp")))
}

func (s *Server) getFlowTypes(w http.ResponseWriter, r *http.Request) {
	c, err := s.SSO.FlowTypes(r.Context(), r.PathValue("tenant"), r.PathValue("realm"))
	httpx.Reply(w, r, c, err)
}

func (s *Server) updateFlowTypes(w http.ResponseWriter, r *http.Request) {
	var patch sso.FlowTypePatch
	if err := httpx.DecodeBody(w, r, &patch); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := s.SSO.UpdateFlowTypes(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), patch)
	httpx.Reply(w, r, c, err)
}
