package console

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey/internal/sso"
)

// idpRoutes are an identity provider's own page: its settings as the API
// answers them (never its client secret) and the form that edits them. The
// SSO page lists, adds and deletes identity providers.
func (c *Console) idpRoutes(mux *http.ServeMux) {
	if c.SSO == nil {
		return
	}
	idp := realmPrefix + "/identity-providers/{idp}"
	c.handle(mux, "GET "+idp, c.identityProvider, "identity-providers:read")
	c.handle(mux, "POST "+idp, c.updateIdentityProvider, "identity-providers:read", "identity-providers:update")
}

// idpView is an identity provider's page and its edit form.
type idpView struct {
	Provider sso.IdentityProvider
	Form     *form
	Saved    bool
}

// showIdentityProvider renders p's page; f is the form as posted (nil: p's
// settings, without the secret, which a blank field keeps).
func (q *request) showIdentityProvider(status int, p sso.IdentityProvider, f *form, saved bool) error {
	if f == nil {
		pc := p.ProtocolConfig
		pc.ClientSecret, pc.RedirectURL = "", ""
		b, err := json.MarshalIndent(pc, "", "  ")
		if err != nil {
			return err
		}
		f = emptyForm(map[string]string{"idp_name": p.DisplayName, "protocol_config": string(b)})
	}
	q.render(status, "idp.html", p.DisplayName, "sso-configs", idpView{Provider: p, Form: f, Saved: saved})
	return nil
}

func (c *Console) identityProvider(q *request) error {
	p, err := c.SSO.IdentityProvider(q.Context(), q.tenantID, q.realm.ID, q.PathValue("idp"))
	if err != nil {
		return err
	}
	return q.showIdentityProvider(http.StatusOK, p, nil, false)
}

// updateIdentityProvider saves the form: a client_secret given is sealed
// (and not shown), an empty one keeps the provider's.
func (c *Console) updateIdentityProvider(q *request) error {
	f := q.newForm("idp_name", "protocol_config")
	id := q.PathValue("idp")
	p, err := c.SSO.UpdateIdentityProvider(q.Context(), q.tenantID, q.realm.ID, id, sso.IdPIn{DisplayName: ptr(f.Values["idp_name"]),
		ProtocolConfig: json.RawMessage(f.Values["protocol_config"])})
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		if p, err = c.SSO.IdentityProvider(q.Context(), q.tenantID, q.realm.ID, id); err != nil {
			return err
		}
		return q.showIdentityProvider(http.StatusUnprocessableEntity, p, f, false)
	}
	return q.showIdentityProvider(http.StatusOK, p, nil, true)
}
