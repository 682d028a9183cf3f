package console

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
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
	q.redirect(Prefix+"/realms/"+r.ID+"/identities", "Realm "+r.DisplayName+" created.")
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
		q.fail(http.StatusConflict, "The realm "+q.realm.DisplayName+" is not empty: delete its identities, groups, applications and authenticator configs first.")
		return nil
	}
	if err != nil {
		return err
	}
	q.redirect(Prefix+"/realms", "Realm "+q.realm.DisplayName+" deleted.")
	return nil
}
