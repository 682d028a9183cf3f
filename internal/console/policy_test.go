package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rulesOf reads the realm's rules through the API.
func (e *env) rulesOf(t *testing.T, realm string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range e.api(t, "GET", "/realms/"+realm+"/policy", nil)["rules"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func TestPolicy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		// A realm of its own: the admin realm's policy already holds the console's rule.
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Shop", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		app := e.api(t, "POST", "/realms/"+realm+"/applications", map[string]any{"application": map[string]any{"display_name": "Shop",
			"protocol_config": map[string]any{"type": "oidc", "redirect_uris": []string{"https://shop.example.com/callback"},
				"token_configuration": map[string]any{"expires_after": 600}}}})["id"].(string)
		base := "/console/realms/" + realm + "/policy"
		admins := e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Administrators"}})["id"].(string)
		alice := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Alice", "traits": map[string]any{"username": "alice"}}})["id"].(string)
		bob := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Bob", "traits": map[string]any{"username": "bob"}}})["id"].(string)
		e.api(t, "POST", "/realms/"+realm+"/groups/"+admins+":addMembers", map[string]any{"identity_ids": []string{alice}})

		wantPage(t, e.get(t, base), http.StatusOK, "This realm has no rule yet", ">Administrators<", ">Any application<")
		// Add a rule for the group, then one denying bob by username.
		p := e.follow(t, base, url.Values{"default_effect": {"deny"}, "action": {"add"}, "new.effect": {"allow"},
			"new.applications": {app}, "new.groups": {admins}, "new.description": {"Admins sign in"}})
		wantPage(t, p, http.StatusOK, "Rule added.", "Rule 1: Admins sign in")
		rule0 := url.Values{"rules[0].effect": {"allow"}, "rules[0].applications": {app}, "rules[0].groups": {admins}, "rules[0].description": {"Admins sign in"}}
		form := url.Values{"default_effect": {"deny"}, "action": {"add"}, "new.effect": {"deny"}, "new.applications": {"*"},
			"new.identities": {"bob"}, "new.description": {"Bob left"}}
		for k, v := range rule0 {
			form[k] = v
		}
		p = e.follow(t, base, form)
		wantPage(t, p, http.StatusOK, "Rule added.", `value="bob"`)
		rules := e.rulesOf(t, realm)
		if len(rules) != 2 || rules[1]["identities"].([]any)[0] != bob || rules[0]["groups"].([]any)[0] != admins {
			t.Fatalf("the API shows the rules %v", rules)
		}

		// Move bob's rule up: the order is saved.
		both := url.Values{"default_effect": {"deny"}, "rules[1].effect": {"deny"}, "rules[1].applications": {"*"},
			"rules[1].identities": {"bob"}, "rules[1].description": {"Bob left"}}
		for k, v := range rule0 {
			both[k] = v
		}
		both.Set("action", "up:1")
		wantPage(t, e.follow(t, base, both), http.StatusOK, "Rule moved.")
		if rules := e.rulesOf(t, realm); rules[0]["description"] != "Bob left" || rules[1]["description"] != "Admins sign in" {
			t.Fatalf("after moving up, the API shows %v", rules)
		}

		// A group the realm does not have is refused on its field, with what was typed kept.
		bad := url.Values{"default_effect": {"deny"}, "action": {"save"}, "rules[0].effect": {"allow"}, "rules[0].applications": {app},
			"rules[0].groups": {"0123456789abcdef"}, "rules[0].description": {"Typed here"}}
		p = e.post(t, base, bad)
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-rules[0].groups"`, "group 0123456789abcdef is not in the realm", `value="Typed here"`)
		if n := len(e.rulesOf(t, realm)); n != 2 {
			t.Fatalf("a refused save left %d rules", n)
		}

		// Test access: the group's rule allows alice, bob's rule denies bob,
		// nobody else matches and the default denies.
		test := func(username string) page {
			return e.get(t, base+"/test?"+url.Values{"username": {username}, "application": {app}}.Encode())
		}
		wantPage(t, test("alice"), http.StatusOK, "Allowed", "Rule 2: Admins sign in", "rule 2 (allow) names its group Administrators")
		wantPage(t, test("bob"), http.StatusOK, "Denied", "Rule 1: Bob left", "rule 1 (deny) names the identity")
		e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Carol", "traits": map[string]any{"username": "carol"}}})
		wantPage(t, test("carol"), http.StatusOK, "Denied", "default effect", "no rule matches")
		wantPage(t, test("nobody"), http.StatusUnprocessableEntity, "No identity of this realm has the username")

		// Delete the first rule: one is left, the group's.
		both = url.Values{"default_effect": {"deny"}, "action": {"delete:0"}, "rules[0].effect": {"deny"}, "rules[0].applications": {"*"},
			"rules[0].identities": {"bob"}, "rules[1].effect": {"allow"}, "rules[1].applications": {app}, "rules[1].groups": {admins},
			"rules[1].description": {"Admins sign in"}}
		wantPage(t, e.follow(t, base, both), http.StatusOK, "Rule 1 deleted.")
		if rules := e.rulesOf(t, realm); len(rules) != 1 || rules[0]["description"] != "Admins sign in" {
			t.Fatalf("after deleting, the API shows %v", rules)
		}
		if strings.Contains(e.get(t, base).body, "Bob left") {
			t.Fatal("the deleted rule is still shown")
		}
	})
}
