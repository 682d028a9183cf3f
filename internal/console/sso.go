package console

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sso"
)

const ssoPrefix = realmPrefix + "/sso-configs/{sso}"

// ssoRoutes are the realm's SSO configs: a list with a form that creates one
// of any type from its payload (JSON, as the API takes it), and a page per
// config with its assignments, its test, and its deletion.
func (c *Console) ssoRoutes(mux *http.ServeMux) {
	if c.SSO == nil {
		return
	}
	c.handle(mux, "GET "+realmPrefix+"/sso-configs", c.ssoConfigs, "sso-configs:read")
	c.handle(mux, "POST "+realmPrefix+"/sso-configs", c.createSSOConfig, "sso-configs:read", "sso-configs:create")
	c.handle(mux, "GET "+ssoPrefix, c.ssoConfig, "sso-configs:read", "identities:read", "groups:read")
	c.handle(mux, "POST "+ssoPrefix+"/assign", c.assignSSO, "sso-configs:read", "sso-configs:update")
	c.handle(mux, "POST "+ssoPrefix+"/test", c.testSSOConfig, "sso-configs:read", "identities:read", "groups:read")
	c.handle(mux, "POST "+ssoPrefix+"/delete", c.deleteSSOConfig, "sso-configs:delete")
	c.handle(mux, "POST "+realmPrefix+"/identity-providers", c.createIdentityProvider, "sso-configs:read", "identity-providers:read", "identity-providers:create")
	c.handle(mux, "POST "+realmPrefix+"/identity-providers/{idp}/delete", c.deleteIdentityProvider, "identity-providers:delete")
}

var ssoFields = []string{"display_name", "payload"}

// ssoConfigsView is the list and the create form, and the realm's
// identity providers (when the administrator may read them) with theirs.
type ssoConfigsView struct {
	Configs   []sso.Config
	Form      *form
	Providers []sso.IdentityProvider
	IdPForm   *form
	Created   *sso.IdentityProvider // just made: its redirect URL to register upstream
}

func emptyForm(values map[string]string) *form {
	return &form{Values: values, Errors: map[string]string{}}
}

// ssoConfigView is a config's page: the config as the API answers it, its
// assignments, the form that changes them, and a test's result.
type ssoConfigView struct {
	Config     sso.Config
	JSON       string
	Identities []sso.AssociatedIdentity
	Groups     []sso.AssociatedGroup
	Form       *form
	Test       *sso.TestResult
	Created    bool // the answer of the create: a backed config's secret is in JSON, once
}

func (q *request) showSSOConfigs(status int, v ssoConfigsView) error {
	all := latchkey.ListOptions{Limit: 200, SkipTotal: true}
	var err error
	if v.Configs, _, err = q.c.SSO.List(q.Context(), q.tenantID, q.realm.ID, sso.ListFilter{}, all); err != nil {
		return err
	}
	if q.principal.HasScopes([]string{"identity-providers:read"}) {
		if v.Providers, _, err = q.c.SSO.ListIdentityProviders(q.Context(), q.tenantID, q.realm.ID, all); err != nil {
			return err
		}
	}
	if v.Form == nil {
		v.Form = emptyForm(map[string]string{"payload": `{"type":"bookmark","login_link":"https://"}`})
	}
	if v.IdPForm == nil {
		v.IdPForm = emptyForm(map[string]string{"protocol_config": `{"type":"oidc_idp","client_id":"","client_secret":"","pkce":"s256","identity_attribute":"email",` +
			`"identifying_claim_name":"email","token_scopes":["openid","email"],"authorize_url":"https://","token_url":"https://","jwks_url":"https://"}`})
	}
	q.render(status, "sso_configs.html", "Single sign-on", "sso-configs", v)
	return nil
}

func (c *Console) ssoConfigs(q *request) error {
	return q.showSSOConfigs(http.StatusOK, ssoConfigsView{})
}

// createSSOConfig shows the new config at once, without a redirect: the
// client secret of a backed config is in this answer only.
func (c *Console) createSSOConfig(q *request) error {
	f := q.newForm(ssoFields...)
	cfg, err := c.SSO.Create(q.Context(), q.tenantID, q.realm.ID, sso.In{DisplayName: ptr(f.Values["display_name"]), Payload: json.RawMessage(f.Values["payload"])})
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		return q.showSSOConfigs(http.StatusUnprocessableEntity, ssoConfigsView{Form: f})
	}
	return q.showSSOConfig(http.StatusCreated, cfg, nil, true)
}

func (q *request) showSSOConfig(status int, cfg sso.Config, test *sso.TestResult, created bool) error {
	ctx, all := q.Context(), latchkey.ListOptions{Limit: 200, SkipTotal: true}
	ids, _, err := q.c.SSO.ListIdentityAssociations(ctx, q.tenantID, q.realm.ID, cfg.ID, all)
	if err != nil {
		return err
	}
	groups, _, err := q.c.SSO.ListGroupAssociations(ctx, q.tenantID, q.realm.ID, cfg.ID, all)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	q.render(status, "sso_config.html", cfg.DisplayName, "sso-configs", ssoConfigView{Config: cfg, JSON: string(b), Identities: ids, Groups: groups,
		Form: &form{Values: map[string]string{}, Errors: map[string]string{}}, Test: test, Created: created})
	return nil
}

func (c *Console) ssoConfig(q *request) error {
	cfg, err := c.SSO.Config(q.Context(), q.tenantID, q.realm.ID, q.PathValue("sso"))
	if err != nil {
		return err
	}
	return q.showSSOConfig(http.StatusOK, cfg, nil, false)
}

// assignSSO adds or removes identities and groups (ids, one a line).
func (c *Console) assignSSO(q *request) error {
	f := q.newForm("identity_ids", "group_ids", "action")
	ctx, id := q.Context(), q.PathValue("sso")
	add := f.Values["action"] != "remove"
	changes := []struct {
		ids             func() []string
		addFn, removeFn func(ctx context.Context, tenantID, realmID, id string, ids []string) error
	}{
		{func() []string { return lines(f.Values["identity_ids"]) }, c.SSO.AddIdentities, c.SSO.DeleteIdentities},
		{func() []string { return lines(f.Values["group_ids"]) }, c.SSO.AddGroups, c.SSO.DeleteGroups},
	}
	for _, ch := range changes {
		ids := ch.ids()
		if len(ids) == 0 {
			continue
		}
		fn := ch.removeFn
		if add {
			fn = ch.addFn
		}
		if err := fn(ctx, q.tenantID, q.realm.ID, id, ids); err != nil {
			return err
		}
	}
	q.redirect(q.realmPath("/sso-configs/"+id), "Assignments saved.")
	return nil
}

func (c *Console) testSSOConfig(q *request) error {
	res, err := c.SSO.Test(q.Context(), q.tenantID, q.realm.ID, q.PathValue("sso"))
	if err != nil {
		return err
	}
	cfg, err := c.SSO.Config(q.Context(), q.tenantID, q.realm.ID, q.PathValue("sso"))
	if err != nil {
		return err
	}
	return q.showSSOConfig(http.StatusOK, cfg, &res, false)
}

func (c *Console) deleteSSOConfig(q *request) error {
	if err := c.SSO.Delete(q.Context(), q.tenantID, q.realm.ID, q.PathValue("sso")); err != nil {
		return err
	}
	q.redirect(q.realmPath("/sso-configs"), "SSO config deleted.")
	return nil
}

// createIdentityProvider shows the list with the new provider's redirect
// URL, to register at the provider.
func (c *Console) createIdentityProvider(q *request) error {
	f := q.newForm("idp_name", "protocol_config")
	p, err := c.SSO.CreateIdentityProvider(q.Context(), q.tenantID, q.realm.ID, sso.IdPIn{DisplayName: ptr(f.Values["idp_name"]),
		ProtocolConfig: json.RawMessage(f.Values["protocol_config"])})
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		return q.showSSOConfigs(http.StatusUnprocessableEntity, ssoConfigsView{IdPForm: f})
	}
	return q.showSSOConfigs(http.StatusCreated, ssoConfigsView{Created: &p})
}

func (c *Console) deleteIdentityProvider(q *request) error {
	if err := c.SSO.DeleteIdentityProvider(q.Context(), q.tenantID, q.realm.ID, q.PathValue("idp")); err != nil {
		return err
	}
	q.redirect(q.realmPath("/sso-configs"), "Identity provider deleted.")
	return nil
}
