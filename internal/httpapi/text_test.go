package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHostileText sends NUL and other control characters, raw and escaped,
// and bytes that are not UTF-8, in every place a request carries text: JSON
// fields, query parameters, filters, page tokens, paths, forms, Basic
// credentials, SCIM resources, CSV cells. Each is a 400 naming the field on
// both engines; PostgreSQL used to fail on a NUL (a 500) and SQLite stored it.
func TestHostileText(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Hostile")
		id := str(t, newIdentity(t, c, realm, "target", "title", "Engineer"), "id")
		identities := "/realms/" + realm + "/identities"
		identity := func(traits string) string {
			return `{"identity":{"display_name":"Mallory","traits":{"type":"traits_v0","username":"mallory",` + traits + `}}}`
		}

		t.Run("JSON fields", func(t *testing.T) {
			for _, tc := range []struct{ path, method, body, field string }{
				{identities, "POST", identity(`"given_name":"a\u0000b"`), "identity.traits.given_name"},
				{identities, "POST", identity(`"external_id":"\u0000"`), "identity.traits.external_id"},
				{identities, "POST", identity(`"title":"a\u0001"`), "identity.traits.title"},
				{identities, "POST", identity(`"title":"a` + "\x7f" + `"`), "identity.traits.title"},
				{identities, "POST", identity(`"title":"a` + "\u0085" + `"`), "identity.traits.title"},
				{identities, "POST", identity(`"primary_email_address":"a\u0000@example.com"`), "identity.traits.primary_email_address"},
				{identities + "/" + id, "PATCH", `{"identity":{"traits":{"department":"\u0000"}}}`, "identity.traits.department"},
				{"/realms/" + realm + "/groups", "POST", `{"group":{"display_name":"G","description":"\u0000"}}`, "group.description"},
				{"/realms/" + realm + "/policy", "PUT", `{"policy":{"default_effect":"deny","rules":[{"effect":"allow","applications":["*"],"groups":["\u0000"]}]}}`, "policy.rules[0].groups[0]"},
				{"/realms/" + realm + "/policy:evaluate", "POST", `{"identity_id":"\u0000","application_id":"x"}`, "identity_id"},
				{"/realms/" + realm + "/policy:evaluate", "POST", `{"identity_id":"` + id + `","application_id":"\u0000"}`, "application_id"},
			} {
				assertInvalid(t, c.do(t, tc.method, tc.path, tc.body), tc.field, "")
			}
			// Traits may span lines (a postal address does); names may not.
			newIdentity(t, c, realm, "lines", "formatted_address", "1 Main St\nSpringfield")
			assertInvalid(t, c.do(t, "POST", identities, `{"identity":{"display_name":"two\nlines","traits":{"username":"x"}}}`),
				"identity.display_name", "contains a control character")
		})

		t.Run("query parameters", func(t *testing.T) {
			token := func(after string) string {
				return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"s":1,"a":%q,"t":%d}`, after, time.Now().Unix()))
			}
			for _, tc := range []struct{ query, field string }{
				{"filter=" + url.QueryEscape(`display_name eq "a\u0000"`), "filter"},
				{"filter=" + url.QueryEscape(`traits.external_id eq "\u0000"`), "filter"},
				{"filter=" + url.QueryEscape("display_name eq \"a\x00\""), "filter"},
				{"filter=%ff", "filter"},
				{"page_token=%00", "page_token"},
				{"page_token=" + token("\x00"), "page_token"},
				{"page_token=" + base64.RawURLEncoding.EncodeToString([]byte(`{"s":1,"a":"x","f":"display_name eq \"\u0000\"","t":9999999999}`)), "page_token"},
				{"page_token=" + base64.RawURLEncoding.EncodeToString([]byte(`{"s":1,"a":"x","f":"display_name eq \"\\u0000\"","t":9999999999}`)), "filter"},
				{"page_size=1&%00=1", "parameter name"},
			} {
				assertInvalid(t, c.do(t, "GET", identities+"?"+tc.query, nil), tc.field, "")
			}
			assertInvalid(t, c.do(t, "GET", identities+"/a%00b", nil), "path", "")
			assertInvalid(t, c.do(t, "GET", "/realms/"+realm+"%00/groups", nil), "path", "")
		})

		t.Run("SCIM", func(t *testing.T) {
			users := "/realms/" + realm + "/scim/v2/Users"
			user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"scimmy",`
			for _, tc := range []struct{ method, path, body, scimType string }{
				{"POST", users, user + `"externalId":"\u0000"}`, "invalidValue"},
				{"POST", users, user + `"name":{"givenName":"a\u0000"}}`, "invalidValue"},
				{"POST", users, user + `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"\u0000"}}`, "invalidValue"},
				{"POST", users + "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"externalId eq \"\\u0000\""}`, "invalidFilter"},
				{"GET", users + "?filter=" + url.QueryEscape(`name.givenName eq "x\u0000"`), "", "invalidFilter"},
				{"GET", users + "?filter=" + url.QueryEscape("title co \"\x00\""), "", "invalidValue"},
				{"GET", users + "/%00", "", "invalidValue"},
				{"PATCH", users + "/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"\u0000"}]}`, "invalidValue"},
			} {
				var body any
				if tc.body != "" {
					body = tc.body
				}
				resp := c.do(t, tc.method, tc.path, body)
				if resp.Status != http.StatusBadRequest || resp.JSON(t)["scimType"] != tc.scimType {
					t.Errorf("%s %s %s: status %d %s, want 400 %s", tc.method, tc.path, tc.body, resp.Status, resp.Body, tc.scimType)
				}
			}
			// Nothing hostile was stored: filters on any attribute answer.
			for _, f := range []string{`name.givenName eq "x"`, `title co "x"`,
				`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`,
				`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`} {
				if resp := c.do(t, "GET", users+"?filter="+url.QueryEscape(f), nil); resp.Status != http.StatusOK {
					t.Errorf("filter %s: status %d %s", f, resp.Status, resp.Body)
				}
			}
		})

		t.Run("token endpoint", func(t *testing.T) {
			form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			for _, tc := range []struct {
				header http.Header
				body   string
			}{
				{form, "grant_type=client_credentials&client_id=a%00&client_secret=b"},
				{form, "grant_type=client_credentials&client_id=%ff&client_secret=b"},
				{http.Header{"Content-Type": form["Content-Type"], "Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("a\x00:b"))}},
					"grant_type=client_credentials"},
				// An escaped NUL passes the form check; custom_claims' own check refuses it.
				{form, "grant_type=client_credentials&client_id=" + e.node.Creds().ClientID + "&client_secret=" +
					url.QueryEscape(e.node.Creds().ClientSecret) + "&custom_claims=" + url.QueryEscape(`{"a":"\u0000"}`)},
			} {
				resp := send(t, "POST", e.node.Creds().TokenEndpoint, tc.header, strings.NewReader(tc.body))
				if resp.Status != http.StatusBadRequest || resp.JSON(t)["error"] != "invalid_request" {
					t.Errorf("%s: status %d %s, want 400 invalid_request", tc.body, resp.Status, resp.Body)
				}
			}
		})

		t.Run("console form", func(t *testing.T) {
			resp := send(t, "POST", e.node.URL+"/console/realms", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				strings.NewReader("display_name=a%00b"))
			assertInvalid(t, resp, "display_name", "contains a NUL character")
		})

		t.Run("CSV cells", func(t *testing.T) {
			j := c.importFile(t, realm, "", "username,given_name,groups\r\nnul\x00,N,\r\nctl,C\x01,\r\ngrp,G,Team\x00\r\nok,Fine,\r\n")
			if got, want := counts(t, j), [4]int{1, 0, 0, 3}; got != want {
				t.Fatalf("counts %v, want %v: %v", got, want, j)
			}
			for _, f := range items(t, j, "failures") {
				if msg := str(t, f, "error"); !strings.Contains(msg, "contains a") {
					t.Errorf("line %v: %q", f["line"], msg)
				}
			}
		})
	})
}
