package console_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPortalLink: every page of a realm links the realm's app portal.
func TestPortalLink(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Apps", "classification": "SECURE_WORKFORCE"}})["id"].(string)
		for _, page := range []string{"/sso-configs", "/identities", "/groups"} {
			p := e.get(t, "/console/realms/"+realm+page)
			wantPage(t, p, http.StatusOK)
			if !strings.Contains(p.body, `id="portal" href="/v1/tenants/`) || strings.Contains(p.body, "/v1/tenants//") || !strings.Contains(p.body, "/realms/"+realm+`/portal"`) {
				t.Errorf("%s links no app portal: %s", page, excerpt(p.body))
			}
		}
	})
}
