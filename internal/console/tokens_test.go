package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

func TestTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		base := "/console/realms/" + e.admin() + "/tokens"
		wantPage(t, e.post(t, base, url.Values{"lifetime": {"3600"}}), http.StatusUnprocessableEntity, "Choose at least one scope.")

		p := e.post(t, base, url.Values{"scope": {"identities:read", "realms:read"}, "lifetime": {"3600"}})
		wantPage(t, p, http.StatusCreated, "shown only this once", "identities:read realms:read")
		m := regexp.MustCompile(`<pre id="new-token">([^<]+)</pre>`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no token on the page: %s", excerpt(p.body))
		}
		token := m[1]
		api := func(method, path string) int {
			return testenv.Do(t, method, e.node.URL+"/v1/tenants/"+e.tenant()+path, token, nil).Status
		}
		if s := api("GET", "/realms/"+e.admin()+"/identities"); s != http.StatusOK {
			t.Fatalf("the token cannot read identities: %d", s)
		}
		if s := api("GET", "/realms/"+e.admin()+"/groups"); s != http.StatusForbidden {
			t.Fatalf("the token without groups:read lists groups: %d", s)
		}
		// The audit log holds the token as made by the administrator.
		events := e.api(t, "GET", "/realms/"+e.admin()+"/events?filter="+url.QueryEscape(`action eq "token.create"`), nil)["events"].([]any)
		if len(events) != 1 || events[0].(map[string]any)["actor_id"] != e.node.Creds().ApplicationID {
			t.Fatalf("token.create events: %v", events)
		}

		// Listed with its scopes, and never shown again.
		list := e.get(t, base)
		wantPage(t, list, http.StatusOK, "<code>identities:read</code> <code>realms:read</code>")
		if strings.Contains(list.body, token) || strings.Contains(list.body, `id="new-token"`) {
			t.Fatal("the token is shown again")
		}
		id := regexp.MustCompile(`action="`+regexp.QuoteMeta(base)+`/([^/"]+)/delete"`).FindAllStringSubmatch(list.body, -1)
		var mine string
		for _, row := range id {
			if strings.Contains(list.body, "<code>"+row[1]+"</code><br><small>…"+token[len(token)-11:]) {
				mine = row[1]
			}
		}
		if mine == "" {
			t.Fatalf("the new token is not listed: %s", excerpt(list.body))
		}
		wantPage(t, e.follow(t, base+"/"+mine+"/delete", url.Values{}), http.StatusOK, "Token "+mine+" revoked.")
		if s := api("GET", "/realms/"+e.admin()+"/identities"); s != http.StatusUnauthorized {
			t.Fatalf("the revoked token still works: %d", s)
		}
		// A revoked token's row is gone; revoking it again says so.
		wantPage(t, e.post(t, base+"/"+mine+"/delete", url.Values{}), http.StatusNotFound, "deleted meanwhile")

		// Other realms link to the admin realm's page.
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Other", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		wantPage(t, e.get(t, "/console/realms/"+realm+"/tokens"), http.StatusOK, `href="`+base+`"`)
	})
}

func TestTokensGrantOnlyOwnScopes(t *testing.T) {
	e := start(t, "sqlite", "realms:read tokens:read identities:read")
	p := e.post(t, "/console/realms/"+e.admin()+"/tokens", url.Values{"scope": {"identities:read", "identities:delete"}, "lifetime": {"3600"}})
	wantPage(t, p, http.StatusUnprocessableEntity, "does not grant identities:delete", `id="scope-identities:delete" name="scope" value="identities:delete" checked disabled`)
}
