package console_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestEveryWayInCreatesTheSameIdentity: a CSV row, an API request, a SCIM
// request and the console's form that describe the same person create the
// same identity, every stored field alike but its id, realm and times (one
// realm each, as the username is the same). The console lives in this
// package's tests because its session cookie is minted here.
func TestEveryWayInCreatesTheSameIdentity(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realms := map[string]string{}
		for _, way := range []string{"csv", "api", "scim", "console"} {
			realms[way] = e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Way " + way}})["id"].(string)
		}
		base := e.node.URL + "/v1/tenants/" + e.tenant() + "/realms/"
		token := e.node.Token(t, "")

		req, _ := http.NewRequest("POST", base+realms["csv"]+"/identities:import",
			strings.NewReader("username,email,display_name\nAda.Lovelace,ada@example.com,Ada Lovelace\n"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("import: %v %v", resp, err)
		}
		resp.Body.Close()
		waitForIdentity(t, e, realms["csv"])

		e.api(t, "POST", "/realms/"+realms["api"]+"/identities", map[string]any{"identity": map[string]any{
			"display_name": "Ada Lovelace", "traits": map[string]any{"type": "traits_v0", "username": "Ada.Lovelace",
				"primary_email_address": "ada@example.com"}}})

		r := testenv.Do(t, "POST", base+realms["scim"]+"/scim/v2/Users", token, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "Ada.Lovelace",
			"displayName": "Ada Lovelace", "emails": []any{map[string]any{"value": "ada@example.com", "primary": true}}})
		if r.Status != http.StatusCreated {
			t.Fatalf("SCIM create: %d %s", r.Status, r.Body)
		}

		p := e.post(t, "/console/realms/"+realms["console"]+"/identities", url.Values{"display_name": {"Ada Lovelace"},
			"traits.username": {"Ada.Lovelace"}, "traits.primary_email_address": {"ada@example.com"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("console create: %d %s", p.status, excerpt(p.body))
		}

		want := storedIdentity(t, e, realms["csv"])
		for _, way := range []string{"api", "scim", "console"} {
			if got := storedIdentity(t, e, realms[way]); !reflect.DeepEqual(got, want) {
				t.Errorf("created by %s:\n%v\nby a CSV row:\n%v", way, got, want)
			}
		}
	})
}

// waitForIdentity waits for the import into realm to create its identity.
func waitForIdentity(t *testing.T, e *env, realm string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(e.api(t, "GET", "/realms/"+realm+"/identities", nil)["identities"].([]any)) > 0 {
			return
		}
	}
	t.Fatal("the import created no identity within 30 s")
}

// storedIdentity returns the one identity of realm as the API shows it,
// without what differs between creates of the same person.
func storedIdentity(t *testing.T, e *env, realm string) map[string]any {
	is := e.api(t, "GET", "/realms/"+realm+"/identities", nil)["identities"].([]any)
	if len(is) != 1 {
		t.Fatalf("realm has %d identities, want 1", len(is))
	}
	i := is[0].(map[string]any)
	for _, k := range []string{"id", "realm_id", "create_time", "update_time"} {
		if _, ok := i[k]; !ok {
			t.Fatalf("identity lacks %s: %v", k, i)
		}
		delete(i, k)
	}
	return i
}
