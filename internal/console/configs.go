package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
)

const configPrefix = realmPrefix + "/authenticator-configs/{config}"

func (c *Console) configRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/authenticator-configs", c.configs, "authenticator-configs:read")
	c.handle(mux, "GET "+realmPrefix+"/authenticator-configs/new", c.newConfig, "authenticator-configs:create")
	c.handle(mux, "POST "+realmPrefix+"/authenticator-configs", c.createConfig, "authenticator-configs:create")
	c.handle(mux, "GET "+configPrefix, c.config, "authenticator-configs:read")
	c.handle(mux, "POST "+configPrefix, c.updateConfig, "authenticator-configs:update")
	c.handle(mux, "GET "+configPrefix+"/delete", c.confirmDeleteConfig, "authenticator-configs:delete")
	c.handle(mux, "POST "+configPrefix+"/delete", c.deleteConfig, "authenticator-configs:delete")
}

// The config form's fields, named as the API's, relative to the config.
const (
	configTypeField  = "config.type"
	methodsField     = "config.authentication_methods"
	deviceBoundField = "config.device_bound_only"
)

var configFields = []string{"display_name", configTypeField, "config.invoke_url", "config.trusted_origins", "config.invocation_type",
	"config.user_verification", "config.allowed_aaguids", "config.denied_aaguids"}

// configOptions are the choices of the config form; a console or platform
// config, which the API stores as given, keeps its type when edited.
func configOptions(current string) map[string][]option {
	types := []option{{passkey.HostedWeb, "Hosted web pages (hosted_web)"}, {passkey.Embedded, "Embedded SDK in your app (embedded)"}}
	if current == passkey.Console || current == passkey.Platform {
		types = append(types, option{current, current})
	}
	return map[string][]option{
		configTypeField:          types,
		"config.invocation_type": {{"automatic", "Automatic: redirect to the invoke URL"}, {"manual", "Manual: your app handles the URL"}},
		"config.user_verification": {{passkey.UVRequired, "Required: PIN or biometric at every bind and sign-in"},
			{passkey.UVPreferred, "Preferred: also passkeys that cannot verify their user"}},
		methodsField: {{passkey.WebAuthnPasskey, "Passkey in the browser or device (webauthn_passkey)"},
			{passkey.SoftwarePasskey, "Software passkey (software_passkey)"}, {passkey.EmailOneTimePassword, "One-time code by e-mail (email_one_time_password)"}},
		deviceBoundField: {{"true", "Device-bound passkeys only: refuse synced passkeys (iCloud Keychain, Google Password Manager, password managers)"}},
	}
}

func (c *Console) configs(q *request) error {
	items, _, err := c.Passkeys.ListAuthenticatorConfigs(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		After: q.FormValue("after"), Limit: PageSize + 1, SkipTotal: true})
	if err != nil {
		return err
	}
	q.render(http.StatusOK, "configs.html", "Authenticator configs", "authenticator-configs",
		pageOf(items, func(a passkey.AuthenticatorConfig) string { return a.ID }))
	return nil
}

// configView is the config page; without a config it is the form that
// creates one.
type configView struct {
	Config  passkey.AuthenticatorConfig
	Form    *form
	Options map[string][]option
}

func (q *request) showConfig(status int, a passkey.AuthenticatorConfig, f *form) {
	title := a.DisplayName
	if a.ID == "" {
		title = "Create authenticator config"
	}
	q.render(status, "config.html", title, "authenticator-configs", configView{Config: a, Form: f, Options: configOptions(a.Config.Type)})
}

// configForm is a config's editable fields as form values.
func configForm(a passkey.AuthenticatorConfig) *form {
	f := &form{Errors: map[string]string{}, Lists: map[string][]string{}, Values: map[string]string{
		"display_name": a.DisplayName, configTypeField: a.Config.Type, "config.invoke_url": a.Config.InvokeURL,
		"config.trusted_origins": strings.Join(a.Config.TrustedOrigins, "\n"), "config.invocation_type": a.Config.InvocationType,
		"config.user_verification": a.Config.UserVerification, methodsField: "",
		"config.allowed_aaguids": strings.Join(a.Config.AllowedAAGUIDs, "\n"), "config.denied_aaguids": strings.Join(a.Config.DeniedAAGUIDs, "\n")}}
	for _, m := range a.Config.AuthenticationMethods {
		f.Lists[methodsField] = append(f.Lists[methodsField], m.Type)
	}
	if a.Config.DeviceBoundOnly {
		f.Lists[deviceBoundField] = []string{"true"}
	}
	return f
}

func (q *request) postedConfig() *form {
	return q.newForm(configFields...).withLists(q, methodsField, deviceBoundField)
}

// applyConfig sets the fields of the form on a. Another type starts the
// config anew, as the API's does; a hosted_web config has no invoke URL
// or invocation type (Latchkey's pages are its authenticator).
func applyConfig(f *form, a *passkey.AuthenticatorConfig) {
	a.DisplayName = f.Values["display_name"]
	if f.Values[configTypeField] != a.Config.Type {
		a.Config = passkey.Config{Type: f.Values[configTypeField]}
	}
	a.Config.InvokeURL, a.Config.InvocationType = "", ""
	if a.Config.Type != passkey.HostedWeb {
		a.Config.InvokeURL, a.Config.InvocationType = f.Values["config.invoke_url"], f.Values["config.invocation_type"]
	}
	a.Config.TrustedOrigins = lines(f.Values["config.trusted_origins"])
	a.Config.UserVerification = f.Values["config.user_verification"]
	a.Config.AllowedAAGUIDs, a.Config.DeniedAAGUIDs = lines(f.Values["config.allowed_aaguids"]), lines(f.Values["config.denied_aaguids"])
	a.Config.DeviceBoundOnly = len(f.Lists[deviceBoundField]) > 0
	kept := a.Config.AuthenticationMethods // the form has no field for a method's use: an edit keeps it
	a.Config.AuthenticationMethods = nil
	for _, m := range f.Lists[methodsField] {
		method := passkey.Method{Type: m}
		if i := slices.IndexFunc(kept, func(k passkey.Method) bool { return k.Type == m }); i >= 0 {
			method.Use = kept[i].Use
		}
		a.Config.AuthenticationMethods = append(a.Config.AuthenticationMethods, method)
	}
}

func (c *Console) newConfig(q *request) error {
	q.showConfig(http.StatusOK, passkey.AuthenticatorConfig{}, configForm(passkey.AuthenticatorConfig{Config: passkey.Config{
		Type: passkey.HostedWeb, InvocationType: "automatic", AuthenticationMethods: []passkey.Method{{Type: passkey.WebAuthnPasskey}},
		UserVerification: passkey.UVRequired}}))
	return nil
}

func (c *Console) createConfig(q *request) error {
	f := q.postedConfig()
	var a passkey.AuthenticatorConfig
	applyConfig(f, &a)
	created, err := c.Passkeys.CreateAuthenticatorConfig(q.Context(), q.tenantID, q.realm.ID, a)
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		q.showConfig(http.StatusUnprocessableEntity, passkey.AuthenticatorConfig{}, f)
		return nil
	}
	q.redirect(q.configPath(created, ""), "Authenticator config "+created.DisplayName+" created.")
	return nil
}

func (q *request) configPath(a passkey.AuthenticatorConfig, rest string) string {
	return q.realmPath("/authenticator-configs/" + a.ID + rest)
}

func (q *request) pathConfig() (passkey.AuthenticatorConfig, error) {
	return q.c.Passkeys.GetAuthenticatorConfig(q.Context(), q.tenantID, q.realm.ID, q.PathValue("config"))
}

func (c *Console) config(q *request) error {
	a, err := q.pathConfig()
	if err != nil {
		return err
	}
	q.showConfig(http.StatusOK, a, configForm(a))
	return nil
}

func (c *Console) updateConfig(q *request) error {
	f := q.postedConfig()
	a, err := c.Passkeys.UpdateAuthenticatorConfig(q.Context(), q.tenantID, q.realm.ID, q.PathValue("config"), func(a *passkey.AuthenticatorConfig) error {
		applyConfig(f, a)
		return nil
	})
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.CodeNotFound || !f.refused(err, "") {
			return err
		}
		current, err := q.pathConfig()
		if err != nil {
			return err
		}
		q.showConfig(http.StatusUnprocessableEntity, current, f)
		return nil
	}
	q.redirect(q.configPath(a, ""), "Saved.")
	return nil
}

// configDeletion asks for the config's name; the service refuses a config
// that an application or a pending binding job uses.
func (q *request) configDeletion(a passkey.AuthenticatorConfig) confirmation {
	return confirmation{Title: "Delete " + a.DisplayName + "?", Name: a.DisplayName, Section: "authenticator-configs",
		Warning: "This deletes the authenticator config " + a.DisplayName + ". A config that an application or a pending binding job uses cannot be deleted. It cannot be undone.",
		Action:  q.configPath(a, "/delete"), Button: "Delete config", Cancel: q.configPath(a, "")}
}

func (c *Console) confirmDeleteConfig(q *request) error {
	a, err := q.pathConfig()
	if err != nil {
		return err
	}
	q.confirm(http.StatusOK, q.configDeletion(a))
	return nil
}

func (c *Console) deleteConfig(q *request) error {
	a, err := q.pathConfig()
	if err != nil {
		return err
	}
	done, err := q.confirmed(q.configDeletion(a), func() error {
		return c.Passkeys.DeleteAuthenticatorConfig(q.Context(), q.tenantID, q.realm.ID, a.ID)
	})
	if done {
		q.redirect(q.realmPath("/authenticator-configs"), "Authenticator config "+a.DisplayName+" deleted.")
	}
	return err
}
