package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

const appPrefix = realmPrefix + "/applications/{app}"

// The application form chooses an authenticator config and a resource
// server: its pages read those too.
var appChoiceScopes = []string{"authenticator-configs:read", "resource-servers:read"}

func (c *Console) appRoutes(mux *http.ServeMux) {
	with := func(scopes ...string) []string { return append(scopes, appChoiceScopes...) }
	c.handle(mux, "GET "+realmPrefix+"/applications", c.apps, "applications:read")
	c.handle(mux, "GET "+realmPrefix+"/applications/new", c.newApp, with("applications:create")...)
	c.handle(mux, "POST "+realmPrefix+"/applications", c.createApp, with("applications:create")...)
	c.handle(mux, "GET "+appPrefix, c.app, with("applications:read")...)
	c.handle(mux, "POST "+appPrefix, c.updateApp, with("applications:update")...)
	c.handle(mux, "GET "+appPrefix+"/regenerate-secret", c.confirmRegenerateSecret, "applications:update")
	c.handle(mux, "POST "+appPrefix+"/regenerate-secret", c.regenerateSecret, with("applications:update")...)
	c.handle(mux, "GET "+appPrefix+"/delete", c.confirmDeleteApp, "applications:delete")
	c.handle(mux, "POST "+appPrefix+"/delete", c.deleteApp, "applications:delete")
}

// The application form's fields, named as the API's, relative to the application.
const (
	grantTypeField   = "protocol_config.grant_type"
	expiresField     = "protocol_config.token_configuration.expires_after"
	subjectField     = "protocol_config.token_configuration.subject_field"
	algorithmField   = "protocol_config.token_configuration.token_signing_algorithm"
	formatField      = "protocol_config.token_format"
	postLogoutField  = "protocol_config.post_logout_redirect_uris"
	backchannelField = "protocol_config.backchannel_logout_uri"
	// A Latchkey extension: how refresh tokens live.
	refreshExpiresField  = "protocol_config.refresh_token_configuration.expires_after"
	refreshAbsoluteField = "protocol_config.refresh_token_configuration.absolute_lifetime"
	rotationField        = "protocol_config.refresh_token_configuration.rotation_type"
)

var appFields = []string{"display_name", "protocol_config.type", "protocol_config.confidentiality", "protocol_config.pkce",
	"protocol_config.redirect_uris", postLogoutField, backchannelField, "protocol_config.allowed_scopes", expiresField, subjectField, algorithmField, formatField,
	"authenticator_config_id", "resource_server_id",
	refreshExpiresField, refreshAbsoluteField, rotationField}

// appOptions are the fixed choices of the application form.
var appOptions = map[string][]option{
	"protocol_config.type":            {{"oidc", "OpenID Connect (oidc)"}, {"oauth2", "OAuth 2.0 (oauth2)"}},
	"protocol_config.confidentiality": {{"confidential", "Confidential: a server that keeps a secret"}, {"public", "Public: a browser or mobile app, with PKCE"}},
	"protocol_config.pkce":            {{"disabled", "Disabled"}, {"s256", "S256"}, {"plain", "Plain"}},
	grantTypeField:                    {{"authorization_code", "Authorization code"}, {"client_credentials", "Client credentials"}, {"refresh_token", "Refresh token"}},
	subjectField:                      {{"id", "Identity id"}, {"email", "E-mail address"}, {"username", "Username"}, {"external_id", "External id"}},
	algorithmField:                    {{"RS256", "RS256: what every client accepts"}, {"ES256", "ES256: faster, a Latchkey extension"}},
	formatField:                       {{"self_contained", "Self-contained: a signed JWT"}, {"referential", "Referential: opaque, resolved by introspection"}},
	rotationField:                     {{oauth.Rotating, "Rotating: each refresh answers a new one"}, {oauth.NonRotating, "Non-rotating: the same one until it expires"}},
}

func (c *Console) apps(q *request) error {
	items, _, err := c.OAuth.ListApplications(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	q.render(http.StatusOK, "apps.html", "Applications", "applications", pageOf(items, func(a oauth.Application) string { return a.ID }))
	return nil
}

// appView is the application page; without an application it is the form
// that creates one. Secret is set only when asked to be shown.
type appView struct {
	App     oauth.Application
	Form    *form
	Options map[string][]option
	Secret  string
	Notice  string // what was just done, on a page answered without a redirect
	Connect *connectView
	// TryURI is the console's redirect URI that "Try sign-in" adds, when
	// the application can try; "" when it cannot.
	TryURI string
	// Access is whether the policy lets anyone sign in to the application;
	// nil when the administrator may not read the policy.
	Access *access
}

// access is what the application page says of the policy.
type access struct{ Allowed bool }

// showApp renders the application page with the form f and the realm's
// authenticator configs and resource servers to choose from.
func (c *Console) showApp(q *request, status int, a oauth.Application, f *form, secret string) error {
	return c.showAppWith(q, status, a, f, secret, "")
}

func (c *Console) showAppWith(q *request, status int, a oauth.Application, f *form, secret, notice string) error {
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return err
	}
	servers, _, err := c.OAuth.ListResourceServers(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return err
	}
	options := map[string][]option{"authenticator_config_id": {{"", "None"}}, "resource_server_id": {{"", "None"}}}
	for k, v := range appOptions {
		options[k] = v
	}
	for _, cfg := range configs {
		options["authenticator_config_id"] = append(options["authenticator_config_id"], option{cfg.ID, cfg.DisplayName + " (" + cfg.Config.Type + ")"})
	}
	for _, rs := range servers {
		options["resource_server_id"] = append(options["resource_server_id"], option{rs.ID, rs.DisplayName + " (" + rs.Identifier + ")"})
	}
	v := appView{App: a, Form: f, Options: options, Secret: secret, Notice: notice}
	title := a.DisplayName
	if a.ID == "" {
		title = "Create application"
	} else {
		if v.Connect, err = c.connectPanel(q, a); err != nil {
			return err
		}
		if canTry(a) && !a.IsManaged {
			v.TryURI = c.tryRedirectURI()
		}
		if q.principal.HasScopes([]string{"policy:read"}) {
			p, err := c.Policy.Get(q.Context(), q.tenantID, q.realm.ID)
			if err != nil {
				return err
			}
			v.Access = &access{Allowed: allowsSomeone(p, a.ID)}
		}
	}
	q.render(status, "app.html", title, "applications", v)
	return nil
}

// appForm is an application's editable fields as form values.
func appForm(a oauth.Application) *form {
	pc := a.ProtocolConfig
	return &form{Errors: map[string]string{}, Lists: map[string][]string{grantTypeField: pc.GrantType}, Values: map[string]string{
		"display_name": a.DisplayName, "protocol_config.type": pc.Type, "protocol_config.confidentiality": pc.Confidentiality,
		"protocol_config.pkce": pc.PKCE, "protocol_config.redirect_uris": strings.Join(pc.RedirectURIs, "\n"),
		postLogoutField: strings.Join(pc.PostLogoutRedirectURIs, "\n"), backchannelField: pc.BackchannelLogoutURI,
		"protocol_config.allowed_scopes": strings.Join(pc.AllowedScopes, "\n"), expiresField: strconv.Itoa(pc.TokenConfiguration.ExpiresAfter),
		subjectField: pc.TokenConfiguration.SubjectField, algorithmField: pc.TokenConfiguration.TokenSigningAlgorithm, formatField: pc.TokenFormat, "authenticator_config_id": a.AuthenticatorConfigID,
		"resource_server_id": a.ResourceServerID, grantTypeField: "",
		refreshExpiresField:  strconv.Itoa(pc.RefreshTokenConfiguration.ExpiresAfter),
		refreshAbsoluteField: strconv.Itoa(pc.RefreshTokenConfiguration.AbsoluteLifetime),
		rotationField:        pc.RefreshTokenConfiguration.RotationType}}
}

// postedApp is the application form as posted.
func (q *request) postedApp() *form {
	return q.newForm(appFields...).withLists(q, grantTypeField)
}

// applyApp sets the fields of the form on a; the service validates them.
func applyApp(f *form, a *oauth.Application) {
	pc := &a.ProtocolConfig
	a.DisplayName = f.Values["display_name"]
	a.AuthenticatorConfigID, a.ResourceServerID = f.Values["authenticator_config_id"], f.Values["resource_server_id"]
	pc.Type, pc.Confidentiality, pc.PKCE = f.Values["protocol_config.type"], f.Values["protocol_config.confidentiality"], f.Values["protocol_config.pkce"]
	// Not nil: no grant ticked must be refused, not taken for the default.
	pc.GrantType = append([]string{}, f.Lists[grantTypeField]...)
	pc.RedirectURIs = lines(f.Values["protocol_config.redirect_uris"])
	pc.PostLogoutRedirectURIs = lines(f.Values[postLogoutField])
	pc.BackchannelLogoutURI = strings.TrimSpace(f.Values[backchannelField])
	pc.AllowedScopes = strings.Fields(f.Values["protocol_config.allowed_scopes"])
	// A value that is no number becomes 0, which the service refuses with its range.
	pc.TokenConfiguration.ExpiresAfter, _ = strconv.Atoi(f.Values[expiresField])
	pc.TokenConfiguration.SubjectField = f.Values[subjectField]
	if alg := f.Values[algorithmField]; alg != "" { // a form of before the field keeps the algorithm
		pc.TokenConfiguration.TokenSigningAlgorithm = alg
	}
	pc.TokenFormat = f.Values[formatField]
	rc := &pc.RefreshTokenConfiguration
	rc.ExpiresAfter, _ = strconv.Atoi(f.Values[refreshExpiresField])
	var err error
	if rc.AbsoluteLifetime, err = strconv.Atoi(f.Values[refreshAbsoluteField]); f.Values[refreshAbsoluteField] != "" && err != nil {
		rc.AbsoluteLifetime = -1 // no number: refused with the range, not taken for no bound ("0" is no bound)
	}
	rc.RotationType = f.Values[rotationField]
}

func (c *Console) newApp(q *request) error {
	f := appForm(oauth.Application{ProtocolConfig: oauth.ProtocolConfig{Type: "oidc", Confidentiality: "confidential", PKCE: "s256",
		GrantType: []string{"authorization_code"}, TokenFormat: "self_contained",
		TokenConfiguration:        oauth.TokenConfiguration{ExpiresAfter: 3600, SubjectField: "id", TokenSigningAlgorithm: string(oauth.TokenAlgorithm)},
		RefreshTokenConfiguration: oauth.RefreshTokenConfiguration{ExpiresAfter: int(oauth.RefreshTokenTTL / time.Second), RotationType: oauth.Rotating}}})
	return c.showApp(q, http.StatusOK, oauth.Application{}, f, "")
}

func (c *Console) createApp(q *request) error {
	f := q.postedApp()
	var a oauth.Application
	applyApp(f, &a)
	created, err := c.OAuth.CreateApplication(q.Context(), q.tenantID, q.realm.ID, a)
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		return c.showApp(q, http.StatusUnprocessableEntity, oauth.Application{}, f, "")
	}
	// The page itself, not a redirect: the secret is shown this once and
	// never stored in a cookie.
	return c.showCreatedApp(q, created)
}

// showCreatedApp is showApp with the new secret and a notice.
func (c *Console) showCreatedApp(q *request, a oauth.Application) error {
	q.w.Header().Set("HX-Push-Url", q.appPath(a, ""))
	return c.showAppWith(q, http.StatusCreated, a, appForm(a), a.ProtocolConfig.ClientSecret, "Application "+a.DisplayName+" created.")
}

func (q *request) appPath(a oauth.Application, rest string) string {
	return q.realmPath("/applications/" + a.ID + rest)
}

func (q *request) pathApp() (oauth.Application, error) {
	return q.c.OAuth.GetApplication(q.Context(), q.tenantID, q.realm.ID, q.PathValue("app"))
}

func (c *Console) app(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	return c.showApp(q, http.StatusOK, a, appForm(a), "")
}

// updateApp saves the form; a managed application is refused by the
// service, whose message the page shows.
func (c *Console) updateApp(q *request) error {
	f := q.postedApp()
	a, err := c.OAuth.UpdateApplication(q.Context(), q.tenantID, q.realm.ID, q.PathValue("app"), func(a *oauth.Application) error {
		applyApp(f, a)
		return nil
	})
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.CodeNotFound || !f.refused(err, "") {
			return err
		}
		current, err := q.pathApp()
		if err != nil {
			return err
		}
		return c.showApp(q, http.StatusUnprocessableEntity, current, f, "")
	}
	q.redirect(q.appPath(a, ""), "Saved.")
	return nil
}

func (q *request) secretRegeneration(a oauth.Application) confirmation {
	return confirmation{Title: "Regenerate the secret of " + a.DisplayName + "?", Section: "applications",
		Warning: "The current client secret stops working at once: every client using it fails until it is given the new one.",
		Action:  q.appPath(a, "/regenerate-secret"), Button: "Regenerate secret", Cancel: q.appPath(a, "")}
}

func (c *Console) confirmRegenerateSecret(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	q.confirm(http.StatusOK, q.secretRegeneration(a))
	return nil
}

// regenerateSecret shows the new secret on the application page at once,
// not through a redirect, so that it is never stored in a cookie.
func (c *Console) regenerateSecret(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	done, err := q.confirmed(q.secretRegeneration(a), func() error {
		a, err = c.OAuth.RegenerateSecret(q.Context(), q.tenantID, q.realm.ID, a.ID)
		return err
	})
	if !done {
		return err
	}
	return c.showApp(q, http.StatusOK, a, appForm(a), a.ProtocolConfig.ClientSecret)
}

func (q *request) appDeletion(a oauth.Application) confirmation {
	return confirmation{Title: "Delete " + a.DisplayName + "?", Name: a.DisplayName, Section: "applications",
		Warning: "This deletes the application " + a.DisplayName + " and the records of the tokens it issued; its clients can no longer sign in or get tokens. It cannot be undone.",
		Action:  q.appPath(a, "/delete"), Button: "Delete application", Cancel: q.appPath(a, "")}
}

func (c *Console) confirmDeleteApp(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	q.confirm(http.StatusOK, q.appDeletion(a))
	return nil
}

// deleteApp deletes once the name was typed; the service refuses a managed
// application, and the page says why.
func (c *Console) deleteApp(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	done, err := q.confirmed(q.appDeletion(a), func() error {
		return c.OAuth.DeleteApplication(q.Context(), q.tenantID, q.realm.ID, a.ID)
	})
	if done {
		q.redirect(q.realmPath("/applications"), "Application "+a.DisplayName+" deleted.")
	}
	return err
}
