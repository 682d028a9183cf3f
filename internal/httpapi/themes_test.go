package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestThemes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		realm := newRealm(t, e.api, "Branded")
		themes := "/realms/" + realm + "/themes"

		def := e.api.get(t, themes+"/active")
		if def["email_realm_name"] != "Branded" || def["button_color"] != "#4673D3" || def["button_text_color"] != "#FFFFFF" ||
			def["realm_id"] != realm || def["tenant_id"] != e.tenant() || def["id"] != nil {
			t.Errorf("default theme %v", def)
		}

		created := e.api.post(t, themes, map[string]any{"theme": map[string]any{
			"email_realm_name": "Acme", "logo_url_light": "https://acme.example/light.png", "support_url": "https://acme.example/help",
			"id": "ignored", "create_time": "2000-01-01T00:00:00Z"}})
		assertKeys(t, created, "id", "tenant_id", "realm_id", "create_time", "update_time", "email_realm_name",
			"logo_url_light", "logo_url_dark", "support_url", "button_color", "button_text_color")
		id := str(t, created, "id")
		if !uuidRE.MatchString(id) {
			t.Errorf("id %q is not a UUID v4", id)
		}
		assertTime(t, created, "create_time")
		if created["email_realm_name"] != "Acme" || created["logo_url_light"] != "https://acme.example/light.png" ||
			created["logo_url_dark"] != "" || created["button_color"] != "#4673D3" || created["realm_id"] != realm {
			t.Errorf("created %v", created)
		}
		assertSame(t, e.api.get(t, themes+"/"+id), created)
		assertSame(t, e.api.get(t, themes+"/active"), created)

		assertError(t, e.api.do(t, "POST", themes, map[string]any{"theme": map[string]any{}}),
			http.StatusConflict, "conflict", "theme already exists for this realm")

		patched := e.api.patch(t, themes+"/"+id, map[string]any{"theme": map[string]any{"button_color": "#000000", "logo_url_light": ""}})
		if patched["button_color"] != "#000000" || patched["logo_url_light"] != "" || patched["email_realm_name"] != "Acme" ||
			patched["create_time"] != created["create_time"] {
			t.Errorf("patched %v", patched)
		}
		assertSame(t, e.api.get(t, themes+"/active"), patched)

		t.Run("not found", func(t *testing.T) {
			missing := "00000000-0000-4000-8000-000000000000"
			assertNotFound(t, e.api.do(t, "GET", themes+"/"+missing, nil), "Theme", missing, "theme not found")
			assertNotFound(t, e.api.do(t, "PATCH", themes+"/"+missing, map[string]any{"theme": map[string]any{}}), "Theme", missing, "theme not found")
			other := newRealm(t, e.api, "Other")
			assertNotFound(t, e.api.do(t, "GET", "/realms/"+other+"/themes/"+id, nil), "Theme", id, "theme not found")
			assertNotFound(t, e.api.do(t, "GET", "/realms/0123456789abcdef/themes/active", nil), "Realm", "0123456789abcdef", "realm not found")
			assertNotFound(t, e.api.do(t, "POST", "/realms/0123456789abcdef/themes", map[string]any{"theme": map[string]any{}}),
				"Realm", "0123456789abcdef", "realm not found")
		})

		t.Run("invalid", func(t *testing.T) {
			fresh := "/realms/" + newRealm(t, e.api, "Fresh") + "/themes"
			for _, tc := range []struct {
				body          string
				field, reason string
			}{
				{`{"theme":{"email_realm_name":""}}`, "theme.email_realm_name", "provided email_realm_name must not be empty"},
				{`{"theme":{"email_realm_name":"` + strings.Repeat("x", 65) + `"}}`, "theme.email_realm_name", "longer than 64 characters"},
				{`{"theme":{"logo_url_dark":"/logo.png"}}`, "theme.logo_url_dark", "must be an absolute http or https URL…"},
				{`{"theme":{"support_url":"javascript:alert(1)"}}`, "theme.support_url", "must be an absolute http or https URL…"},
				{`{"theme":{"button_color":"red"}}`, "theme.button_color", "must be a colour in the form #RRGGBB"},
				{`{"theme":{"button_text_color":1}}`, "theme.button_text_color", "must be a string"},
				{`{"theme":{"bogus":1}}`, "theme.bogus", "unknown field"},
			} {
				assertInvalid(t, e.api.do(t, "POST", fresh, tc.body), tc.field, tc.reason)
				assertInvalid(t, e.api.do(t, "PATCH", themes+"/"+id, tc.body), tc.field, tc.reason)
			}
			assertSame(t, e.api.get(t, themes+"/active"), patched) // nothing changed
		})

		t.Run("scopes", func(t *testing.T) {
			reader := e.api.withToken(e.node.Token(t, "themes:read"))
			reader.get(t, themes+"/"+id)
			assertBareError(t, reader.do(t, "PATCH", themes+"/"+id, map[string]any{"theme": map[string]any{}}), http.StatusForbidden, "forbidden", "forbidden")
			assertBareError(t, reader.do(t, "POST", themes, map[string]any{"theme": map[string]any{}}), http.StatusForbidden, "forbidden", "forbidden")
			other := e.api.withToken(e.node.Token(t, "themes:create themes:update"))
			assertBareError(t, other.do(t, "GET", themes+"/active", nil), http.StatusForbidden, "forbidden", "forbidden")
			assertBareError(t, e.api.withToken("").do(t, "GET", themes+"/active", nil), http.StatusUnauthorized, "unauthorized", "unauthorized")
		})

		t.Run("audit", func(t *testing.T) {
			events := items(t, e.api.list(t, "/realms/"+realm+"/events", "filter", `resource_type eq "Theme"`), "events")
			var actions []string
			for _, ev := range events {
				actions = append(actions, str(t, ev, "action"))
			}
			assertSameSet(t, "theme events", actions, []string{"theme.create", "theme.update"})
		})
	})
}
