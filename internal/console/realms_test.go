package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRealms(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		// Create: a refused name keeps what was typed; then the realm.
		wantPage(t, e.post(t, "/console/realms", url.Values{"display_name": {""}, "classification": {"SECURE_WORKFORCE"}}),
			http.StatusUnprocessableEntity, `id="e-display_name"`, `value="SECURE_WORKFORCE" selected`)
		p := e.post(t, "/console/realms", url.Values{"display_name": {"Partners"}, "classification": {"SECURE_CUSTOMER"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("create: %d %s", p.status, excerpt(p.body))
		}
		realm := strings.TrimSuffix(strings.TrimPrefix(p.location, "/console/realms/"), "/start")
		wantPage(t, e.post(t, "/console/realms", url.Values{"display_name": {"partners"}, "classification": {"SECURE_CUSTOMER"}}),
			http.StatusUnprocessableEntity, "realm display name already exists")

		// Rename, as the API then shows.
		wantPage(t, e.follow(t, "/console/realms/"+realm+"/settings", url.Values{"display_name": {"Suppliers"}}), http.StatusOK, "Realm renamed to Suppliers.")
		if got := e.api(t, "GET", "/realms/"+realm, nil); got["display_name"] != "Suppliers" {
			t.Fatalf("the API shows %v", got)
		}
		// The switcher moves to the same section of another realm.
		if p := e.get(t, "/console/switch?realm="+realm+"&section=groups"); p.status != http.StatusSeeOther || p.location != "/console/realms/"+realm+"/groups" {
			t.Fatalf("switch: %d %s", p.status, p.location)
		}

		// Delete: the typed name must match; a realm with an identity is refused; an empty one goes.
		wantPage(t, e.post(t, "/console/realms/"+realm+"/delete", url.Values{"confirm": {"Partners"}}), http.StatusUnprocessableEntity, "name exactly to confirm")
		id := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Z",
			"traits": map[string]any{"type": "traits_v0", "username": "z"}}})["id"].(string)
		wantPage(t, e.post(t, "/console/realms/"+realm+"/delete", url.Values{"confirm": {"Suppliers"}}), http.StatusConflict, "is not empty: delete its identities")
		e.api(t, "DELETE", "/realms/"+realm+"/identities/"+id, nil)
		wantPage(t, e.follow(t, "/console/realms/"+realm+"/delete", url.Values{"confirm": {"Suppliers"}}), http.StatusOK, "Realm Suppliers deleted.")
		wantPage(t, e.get(t, "/console/realms/"+realm+"/identities"), http.StatusNotFound, "deleted meanwhile")
	})
}
