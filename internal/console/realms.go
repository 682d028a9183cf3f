package console

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
)

func (c *Console) realmRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+Prefix+"/realms", c.realmList, "realms:read")
	c.handle(mux, "POST "+Prefix+"/realms", c.createRealm, "realms:create")
	c.handle(mux, "GET "+realmPrefix+"/settings", c.realmSettings, "realms:read")
	c.handle(mux, "POST "+realmPrefix+"/settings", c.renameRealm, "realms:update")
	c.handle(mux, "POST "+realmPrefix+"/delete", c.deleteRealm, "realms:delete")
}

var realmFields = []string{"display_name", "classification"}

func (c *Console) realmList(q *request) error {
	q.render(http.StatusOK, "realms.html", "Realms", "", &form{Values: map[string]string{"classification": directory.SecureCustomer}})
	return nil
}

func (c *Console) createRealm(q *request) error {
	f := q.newForm(realmFields...)
	r, err := c.Directory.CreateRealm(q.Context(), q.tenantID, directory.Realm{DisplayName: f.Values["display_name"], Classification: f.Values["classification"]})
	if err != nil {
		if !f.refused(err, "display_name") {
			return err
		}
		q.render(http.StatusUnprocessableEntity, "realms.html", "Realms", "", f)
		return nil
	}
	flash := "Realm " + r.DisplayName + " created."
	// A realm made here works at once: passkeys can be added with
	// Latchkey's hosted pages (the Getting started page leads on).
	if q.principal.HasScopes([]string{"authenticator-configs:create"}) {
		cfg, err := c.Passkeys.CreateAuthenticatorConfig(q.Context(), q.tenantID, r.ID, passkey.DefaultConfig(c.PublicURL))
		if err != nil {
			return err
		}
		flash = "Realm " + r.DisplayName + " created, with the authenticator config " + cfg.DisplayName + "."
	}
	q.redirect(Prefix+"/realms/"+r.ID+"/start", flash)
	return nil
}

func (c *Console) realmSettings(q *request) error {
	q.render(http.StatusOK, "realm_settings.html", "Realm settings", "settings", &form{
		Values: map[string]string{"display_name": q.realm.DisplayName, "classification": q.realm.Classification}})
	return nil
}

func (c *Console) renameRealm(q *request) error {
	f := q.newForm("display_name")
	r, err := c.Directory.UpdateRealm(q.Context(), q.tenantID, q.realm.ID, directory.RealmPatch{DisplayName: ptr(f.Values["display_name"])})
	if err != nil {
		if !f.refused(err, "display_name") {
			return err
		}
		f.Values["classification"] = q.realm.Classification
		q.render(http.StatusUnprocessableEntity, "realm_settings.html", "Realm settings", "settings", f)
		return nil
	}
	q.redirect(Prefix+"/realms/"+r.ID+"/settings", "Realm renamed to "+r.DisplayName+".")
	return nil
}

// deleteRealm deletes an empty realm; the admin realm, where the console
// itself lives, is refused by the service like any realm with children.
func (c *Console) deleteRealm(q *request) error {
	if q.PostFormValue("confirm") != q.realm.DisplayName {
		f := &form{Values: map[string]string{"display_name": q.realm.DisplayName, "classification": q.realm.Classification},
			Errors: map[string]string{"confirm": "Type the realm's name exactly to confirm."}}
		q.render(http.StatusUnprocessableEntity, "realm_settings.html", "Realm settings", "settings", f)
		return nil
	}
	err := c.Directory.DeleteRealm(q.Context(), q.tenantID, q.realm.ID)
	if latchkey.ErrorCode(err) == latchkey.CodeConflict {
		err = c.deleteRealmAndConfigs(q)
	}
	if latchkey.ErrorCode(err) == latchkey.CodeConflict {
		q.fail(http.StatusConflict, "The realm "+q.realm.DisplayName+" is not empty: delete its identities, groups, applications and authenticator configs first.")
		return nil
	}
	if err != nil {
		return err
	}
	q.redirect(Prefix+"/realms", "Realm "+q.realm.DisplayName+" deleted.")
	return nil
}

// deleteRealmAndConfigs deletes a realm that holds nothing but unused
// authenticator configs (such as the one a realm made here starts with):
// those go first. A realm with anything else is refused before any config
// goes, with the directory's conflict.
func (c *Console) deleteRealmAndConfigs(q *request) error {
	ctx, one := q.Context(), latchkey.ListOptions{Limit: 1, SkipTotal: true}
	identities, _, err := c.Directory.ListIdentities(ctx, q.tenantID, q.realm.ID, one)
	if err != nil {
		return err
	}
	groups, _, err := c.Directory.ListGroups(ctx, q.tenantID, q.realm.ID, one)
	if err != nil {
		return err
	}
	apps, _, err := c.OAuth.ListApplications(ctx, q.tenantID, q.realm.ID, one)
	if err != nil {
		return err
	}
	if len(identities)+len(groups)+len(apps) > 0 || !q.principal.HasScopes([]string{"authenticator-configs:read", "authenticator-configs:delete"}) {
		return errRealmNotEmpty
	}
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(ctx, q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return err
	}
	for _, cfg := range configs {
		if err := c.Passkeys.DeleteAuthenticatorConfig(ctx, q.tenantID, q.realm.ID, cfg.ID); err != nil {
			return err
		}
	}
	return c.Directory.DeleteRealm(ctx, q.tenantID, q.realm.ID)
}

var errRealmNotEmpty = latchkey.Errorf(latchkey.CodeConflict, "the realm is not empty")
