package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

// assertMalformed requires the 400 of a body that is not the JSON object
// the endpoint wants: "invalid request", without details.
func assertMalformed(t testing.TB, resp testenv.Response) {
	t.Helper()
	body := assertError(t, resp, http.StatusBadRequest, "bad_request", "invalid request")
	assertKeys(t, body, "code", "message")
}

// assertSame requires two decoded resources to be equal.
func assertSame(t testing.TB, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

var tenantIDRE = regexp.MustCompile(`^0001[0-9a-f]{12}$`)

func TestTenant(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		tn := e.api.get(t, "")
		assertKeys(t, tn, "id", "display_name", "create_time", "update_time")
		if tn["id"] != e.tenant() || !tenantIDRE.MatchString(str(t, tn, "id")) {
			t.Errorf("id %v, want %s (16 hex digits starting 0001)", tn["id"], e.tenant())
		}
		created := assertTime(t, tn, "create_time")
		assertTime(t, tn, "update_time")

		p := e.api.patch(t, "", map[string]any{"tenant": map[string]any{"display_name": "Test Tenant"}})
		if p["display_name"] != "Test Tenant" || p["id"] != e.tenant() || p["create_time"] != tn["create_time"] {
			t.Errorf("PATCH answered %v", p)
		}
		if assertTime(t, p, "update_time").Before(created) {
			t.Errorf("update_time %v before create_time %v", p["update_time"], tn["create_time"])
		}
		assertSame(t, e.api.get(t, ""), p)

		t.Run("read-only fields are ignored", func(t *testing.T) {
			p := e.api.patch(t, "", map[string]any{"tenant": map[string]any{
				"id": "0001000000000000", "create_time": "2000-01-01T00:00:00Z", "update_time": "2000-01-01T00:00:00Z",
				"display_name": "Renamed"}})
			if p["id"] != e.tenant() || p["create_time"] != tn["create_time"] || p["display_name"] != "Renamed" {
				t.Errorf("PATCH answered %v", p)
			}
		})

		t.Run("empty patch changes nothing", func(t *testing.T) {
			p := e.api.patch(t, "", map[string]any{"tenant": map[string]any{}})
			if p["display_name"] != "Renamed" {
				t.Errorf("display_name %v", p["display_name"])
			}
		})

		t.Run("invalid", func(t *testing.T) {
			for _, tc := range []struct {
				body          string
				field, reason string
			}{
				{`{"display_name":"Bare"}`, "tenant", "missing"},
				{`{"tenant":{"display_name":""}}`, "tenant.display_name", "empty string"},
				{`{"tenant":{"display_name":"a/b"}}`, "tenant.display_name", "contains a forbidden character…"},
				{`{"tenant":{"display_name":"` + strings.Repeat("x", 65) + `"}}`, "tenant.display_name", "longer than 64 characters"},
				{`{"tenant":{"display_name":1}}`, "tenant.display_name", "must be a string"},
				{`{"tenant":{"bogus":1}}`, "tenant.bogus", "unknown field"},
				{`{"tenant":{"display_name":"x"},"extra":1}`, "extra", "unknown field"},
			} {
				t.Run(tc.body, func(t *testing.T) {
					assertInvalid(t, e.api.do(t, "PATCH", "", tc.body), tc.field, tc.reason)
				})
			}
			assertMalformed(t, e.api.do(t, "PATCH", "", `{"tenant":`))
			if got := e.api.get(t, "")["display_name"]; got != "Renamed" {
				t.Errorf("a rejected PATCH changed the name to %v", got)
			}
		})
	})
}

func TestRealms(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		r := api.post(t, "/realms", map[string]any{"realm": map[string]any{"display_name": "Test Realm", "classification": "SECURE_CUSTOMER"}})
		assertKeys(t, r, "id", "tenant_id", "display_name", "classification", "create_time", "update_time")
		id := str(t, r, "id")
		assertHexID(t, id)
		if r["tenant_id"] != e.tenant() || r["display_name"] != "Test Realm" || r["classification"] != "SECURE_CUSTOMER" {
			t.Errorf("created %v", r)
		}
		assertTime(t, r, "create_time")
		if r["create_time"] != r["update_time"] {
			t.Errorf("a new realm's update_time %v differs from its create_time %v", r["update_time"], r["create_time"])
		}
		path := "/realms/" + id
		assertSame(t, api.get(t, path), r)

		wf := api.post(t, "/realms", map[string]any{"realm": map[string]any{"display_name": "Workforce", "classification": "SECURE_WORKFORCE"}})
		if wf["classification"] != "SECURE_WORKFORCE" {
			t.Errorf("classification %v", wf["classification"])
		}
		def := api.post(t, "/realms", map[string]any{"realm": map[string]any{"display_name": "Default"}})
		if def["classification"] != "SECURE_CUSTOMER" {
			t.Errorf("default classification %v", def["classification"])
		}

		t.Run("list", func(t *testing.T) {
			l := api.list(t, "/realms")
			assertKeys(t, l, "realms", "total_size")
			assertSameSet(t, "realms", ids(items(t, l, "realms")), []string{e.adminRealm(), id, str(t, wf, "id"), str(t, def, "id")})
			if num(t, l, "total_size") != 4 {
				t.Errorf("total_size %v, want 4", l["total_size"])
			}
		})

		t.Run("duplicate name", func(t *testing.T) {
			assertError(t, api.do(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "TEST realm"}}),
				http.StatusConflict, "conflict", "realm display name already exists")
			assertError(t, api.do(t, "PATCH", "/realms/"+str(t, wf, "id"), map[string]any{"realm": map[string]any{"display_name": "test REALM"}}),
				http.StatusConflict, "conflict", "realm display name already exists")
		})

		t.Run("invalid", func(t *testing.T) {
			for _, tc := range []struct {
				method, path, body string
				field, reason      string
			}{
				{"POST", "/realms", `{"realm":{"display_name":""}}`, "realm.display_name", "empty string"},
				{"POST", "/realms", `{"realm":{"classification":"SECURE_CUSTOMER"}}`, "realm.display_name", "empty string"},
				{"POST", "/realms", `{"realm":{"display_name":"a#b"}}`, "realm.display_name", "contains a forbidden character…"},
				{"POST", "/realms", `{"realm":{"display_name":"X","classification":"SECURE_WORFORCE"}}`, "realm.classification", ""},
				{"POST", "/realms", `{"display_name":"Bare"}`, "realm", "missing"},
				{"POST", "/realms", `{"realm":{"display_name":"X","color":"red"}}`, "realm.color", "unknown field"},
				{"PATCH", path, `{"realm":{"classification":"secure_customer"}}`, "realm.classification", ""},
				{"PATCH", path, `{"realm":{"display_name":""}}`, "realm.display_name", "empty string"},
				{"PATCH", path, `{"realm":{"display_name":["x"]}}`, "realm.display_name", "must be a string"},
			} {
				t.Run(tc.method+" "+tc.body, func(t *testing.T) {
					assertInvalid(t, api.do(t, tc.method, tc.path, tc.body), tc.field, tc.reason)
				})
			}
			assertMalformed(t, api.do(t, "POST", "/realms", "not json"))
			assertMalformed(t, api.do(t, "PATCH", path, `[]`))
		})

		t.Run("patch", func(t *testing.T) {
			p := api.patch(t, path, map[string]any{"realm": map[string]any{"display_name": "Renamed Realm", "id": "0000000000000000"}})
			if p["display_name"] != "Renamed Realm" || p["classification"] != "SECURE_CUSTOMER" || p["id"] != id ||
				p["create_time"] != r["create_time"] || p["tenant_id"] != e.tenant() {
				t.Errorf("PATCH answered %v", p)
			}
			assertTime(t, p, "update_time")
			p = api.patch(t, path, map[string]any{"realm": map[string]any{"classification": "SECURE_WORKFORCE"}})
			if p["display_name"] != "Renamed Realm" || p["classification"] != "SECURE_WORKFORCE" {
				t.Errorf("PATCH answered %v", p)
			}
			assertSame(t, api.get(t, path), p)
		})

		t.Run("not found", func(t *testing.T) {
			const missing = "ffffffffffffffff"
			for _, method := range []string{"GET", "PATCH", "DELETE"} {
				var body any
				if method == "PATCH" {
					body = map[string]any{"realm": map[string]any{"display_name": "X"}}
				}
				assertNotFound(t, api.do(t, method, "/realms/"+missing, body), "Realm", missing, "realm not found")
			}
			// Children of a missing realm are 404s of the realm.
			assertNotFound(t, api.do(t, "GET", "/realms/"+missing+"/identities", nil), "Realm", missing, "realm not found")
			assertNotFound(t, api.do(t, "POST", "/realms/"+missing+"/groups",
				map[string]any{"group": map[string]any{"display_name": "G"}}), "Realm", missing, "realm not found")
		})

		t.Run("delete", func(t *testing.T) {
			hasChildren := func(t *testing.T, realm string) {
				t.Helper()
				body := assertError(t, api.do(t, "DELETE", "/realms/"+realm, nil), http.StatusConflict, "conflict", "realm has children")
				assertKeys(t, body, "code", "message")
				api.get(t, "/realms/"+realm)
			}
			hasChildren(t, e.adminRealm()) // holds the management application

			withIdentity := newRealm(t, api, "With Identity")
			idn := newIdentity(t, api, withIdentity, "child")
			hasChildren(t, withIdentity)
			api.del(t, "/realms/"+withIdentity+"/identities/"+str(t, idn, "id"))
			api.del(t, "/realms/"+withIdentity)

			withGroup := newRealm(t, api, "With Group")
			g := newGroup(t, api, withGroup, "Child Group")
			hasChildren(t, withGroup)
			api.del(t, "/realms/"+withGroup+"/groups/"+g)
			api.del(t, "/realms/"+withGroup)

			api.del(t, path)
			assertNotFound(t, api.do(t, "GET", path, nil), "Realm", id, "realm not found")
			assertNotFound(t, api.do(t, "DELETE", path, nil), "Realm", id, "realm not found")
			// The name is free again.
			newRealm(t, api, "Test Realm")
		})
	})
}

func TestIdentities(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Identities")
		base := "/realms/" + realm + "/identities"

		// The reference's example, byte for byte.
		created := api.post(t, base, `{"identity":{"display_name":"Test Identity","traits":{"type":"traits_v0","username":"test","primary_email_address":"test@example.com"}}}`)
		assertKeys(t, created, "id", "realm_id", "tenant_id", "display_name", "status", "traits", "enrollment_status", "create_time", "update_time")
		id := str(t, created, "id")
		assertHexID(t, id)
		want := map[string]any{"realm_id": realm, "tenant_id": e.tenant(), "display_name": "Test Identity",
			"status": "active", "enrollment_status": "UNENROLLED"}
		for k, v := range want {
			if created[k] != v {
				t.Errorf("%s %v, want %v", k, created[k], v)
			}
		}
		assertSame(t, obj(t, created, "traits"),
			map[string]any{"type": "traits_v0", "username": "test", "primary_email_address": "test@example.com"})
		assertTime(t, created, "create_time")
		if created["create_time"] != created["update_time"] {
			t.Errorf("update_time %v differs from create_time %v", created["update_time"], created["create_time"])
		}
		path := base + "/" + id
		assertSame(t, api.get(t, path), created)

		t.Run("bare body", func(t *testing.T) {
			b := api.post(t, base, `{"display_name":"Bare","status":"suspended","traits":{"username":"bare","given_name":"Bea"}}`)
			if b["display_name"] != "Bare" || b["status"] != "suspended" || b["realm_id"] != realm {
				t.Errorf("created %v", b)
			}
			assertSame(t, obj(t, b, "traits"), map[string]any{"type": "traits_v0", "username": "bare", "given_name": "Bea"})
		})

		t.Run("read-only fields are ignored", func(t *testing.T) {
			b := api.post(t, base, map[string]any{"identity": map[string]any{
				"id": "0123456789abcdef", "realm_id": "0000000000000000", "tenant_id": "0001000000000000",
				"create_time": "2000-01-01T00:00:00Z", "update_time": "2000-01-01T00:00:00Z", "enrollment_status": "ENROLLED",
				"display_name": "Read Only", "traits": map[string]any{"type": "traits_v0", "username": "readonly"}}})
			if b["id"] == "0123456789abcdef" || b["realm_id"] != realm || b["tenant_id"] != e.tenant() ||
				b["enrollment_status"] != "UNENROLLED" || strings.HasPrefix(str(t, b, "create_time"), "2000") ||
				strings.HasPrefix(str(t, b, "update_time"), "2000") {
				t.Errorf("read-only values were used: %v", b)
			}
			assertNotFound(t, api.do(t, "GET", base+"/0123456789abcdef", nil), "Identity", "0123456789abcdef", "identity not found")
			// And on PATCH ([CLI] sends the id back).
			p := api.patch(t, base+"/"+str(t, b, "id"), map[string]any{"identity": map[string]any{
				"id": "0123456789abcdef", "create_time": "2000-01-01T00:00:00Z", "display_name": "Read Only 2"}})
			if p["id"] != b["id"] || p["create_time"] != b["create_time"] || p["display_name"] != "Read Only 2" {
				t.Errorf("PATCH answered %v", p)
			}
		})

		t.Run("username is unique, case-insensitively", func(t *testing.T) {
			for _, u := range []string{"test", "TEST", "Test"} {
				body := assertError(t, api.do(t, "POST", base, map[string]any{"identity": map[string]any{
					"display_name": "Dup", "traits": map[string]any{"type": "traits_v0", "username": u}}}),
					http.StatusConflict, "conflict", "username already exists")
				assertKeys(t, body, "code", "message")
			}
			// Another realm may have it.
			newIdentity(t, api, newRealm(t, api, "Other Identities"), "TEST")
		})

		t.Run("patch", func(t *testing.T) {
			p0 := newIdentity(t, api, realm, "patchme", "given_name", "Pat", "family_name", "Smith", "primary_email_address", "pat@example.com")
			pp := base + "/" + str(t, p0, "id")

			// The reference's PATCH example: only type and one trait.
			p := api.patch(t, pp, `{"identity":{"display_name":"Test Identity","traits":{"type":"traits_v0","primary_email_address":"new@example.com"}}}`)
			assertSame(t, obj(t, p, "traits"), map[string]any{"type": "traits_v0", "username": "patchme", "given_name": "Pat",
				"family_name": "Smith", "primary_email_address": "new@example.com"})
			if p["display_name"] != "Test Identity" || p["status"] != "active" || p["create_time"] != p0["create_time"] {
				t.Errorf("PATCH answered %v", p)
			}
			if assertTime(t, p, "update_time").Before(assertTime(t, p0, "update_time")) {
				t.Errorf("update_time went back: %v → %v", p0["update_time"], p["update_time"])
			}

			p = api.patch(t, pp, map[string]any{"identity": map[string]any{"status": "suspended"}})
			if p["status"] != "suspended" || p["display_name"] != "Test Identity" || obj(t, p, "traits")["given_name"] != "Pat" {
				t.Errorf("status PATCH answered %v", p)
			}
			p = api.patch(t, pp, map[string]any{"identity": map[string]any{"status": "active", "traits": map[string]any{"type": "traits_v0", "given_name": ""}}})
			if _, ok := obj(t, p, "traits")["given_name"]; ok || p["status"] != "active" {
				t.Errorf("clearing given_name answered %v", p)
			}
			p = api.patch(t, pp, map[string]any{"identity": map[string]any{"traits": map[string]any{"type": "traits_v0", "username": "PATCHME"}}})
			if obj(t, p, "traits")["username"] != "PATCHME" {
				t.Errorf("recasing one's own username answered %v", p)
			}
			assertSame(t, api.get(t, pp), p)

			assertError(t, api.do(t, "PATCH", pp, map[string]any{"identity": map[string]any{"traits": map[string]any{"type": "traits_v0", "username": "Test"}}}),
				http.StatusConflict, "conflict", "username already exists")
			assertInvalid(t, api.do(t, "PATCH", pp, map[string]any{"identity": map[string]any{"status": "disabled"}}), "identity.status", "")
			assertInvalid(t, api.do(t, "PATCH", pp, map[string]any{"identity": map[string]any{"display_name": ""}}), "identity.display_name", "empty string")
			assertInvalid(t, api.do(t, "PATCH", pp, map[string]any{"identity": map[string]any{"traits": map[string]any{"shoe_size": "9"}}}),
				"identity.traits.shoe_size", "unknown trait")
			assertInvalid(t, api.do(t, "PATCH", pp, map[string]any{"display_name": "bare"}), "identity", "missing")
			assertSame(t, api.get(t, pp), p) // rejected patches change nothing
			assertNotFound(t, api.do(t, "PATCH", base+"/ffffffffffffffff", map[string]any{"identity": map[string]any{"status": "active"}}),
				"Identity", "ffffffffffffffff", "identity not found")
		})

		t.Run("not found", func(t *testing.T) {
			assertNotFound(t, api.do(t, "GET", base+"/ffffffffffffffff", nil), "Identity", "ffffffffffffffff", "identity not found")
			assertNotFound(t, api.do(t, "GET", base+"/ffffffffffffffff:listGroups", nil), "Identity", "ffffffffffffffff", "identity not found")
			// An identity is found only in its own realm.
			other := newRealm(t, api, "Elsewhere")
			assertNotFound(t, api.do(t, "GET", "/realms/"+other+"/identities/"+id, nil), "Identity", id, "identity not found")
			assertNotFound(t, api.do(t, "DELETE", "/realms/"+other+"/identities/"+id, nil), "Identity", id, "identity not found")
		})

		t.Run("listGroups", func(t *testing.T) {
			m := newIdentity(t, api, realm, "member")
			mp := base + "/" + str(t, m, "id")
			l := api.get(t, mp+":listGroups")
			if len(items(t, l, "groups")) != 0 || num(t, l, "total_size") != 0 {
				t.Errorf("listGroups of a new identity: %v", l)
			}
			g1, g2 := newGroup(t, api, realm, "G1"), newGroup(t, api, realm, "G2")
			newGroup(t, api, realm, "G3")
			for _, g := range []string{g1, g2} {
				api.post(t, "/realms/"+realm+"/groups/"+g+":addMembers", map[string]any{"identity_ids": []string{str(t, m, "id")}})
			}
			l = api.get(t, mp+":listGroups")
			gs := items(t, l, "groups")
			assertSameSet(t, "groups", ids(gs), []string{g1, g2})
			if num(t, l, "total_size") != 2 {
				t.Errorf("total_size %v", l["total_size"])
			}
			assertKeys(t, gs[0], "id", "realm_id", "tenant_id", "display_name", "description", "create_time", "update_time")
			if page := api.list(t, mp+":listGroups", "page_size", "1"); len(items(t, page, "groups")) != 1 || page["next_page_token"] == nil {
				t.Errorf("listGroups page_size=1: %v", page)
			}
		})

		t.Run("unknown verbs", func(t *testing.T) {
			for _, tc := range []struct{ method, path string }{
				{"GET", path + ":bogus"},
				{"GET", path + ":"},
				{"GET", base + "/:listGroups"},
				{"PATCH", path + ":listGroups"},
				{"DELETE", path + ":listGroups"},
				{"POST", base + ":bogus"},
				{"POST", base + ":batchdelete"},
			} {
				t.Run(tc.method+" "+tc.path, func(t *testing.T) {
					body := assertError(t, api.do(t, tc.method, tc.path, "{}"), http.StatusNotFound, "not_found", "not found")
					assertKeys(t, body, "code", "message")
				})
			}
			api.get(t, path) // still there
		})

		t.Run("delete", func(t *testing.T) {
			d := newIdentity(t, api, realm, "deleteme")
			dp := base + "/" + str(t, d, "id")
			api.del(t, dp)
			assertNotFound(t, api.do(t, "GET", dp, nil), "Identity", str(t, d, "id"), "identity not found")
			assertNotFound(t, api.do(t, "DELETE", dp, nil), "Identity", str(t, d, "id"), "identity not found")
			// The username is free again.
			newIdentity(t, api, realm, "DeleteMe")
		})
	})
}

func TestIdentityValidation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Validation")
		base := "/realms/" + realm + "/identities"
		identity := func(fields string) string {
			return `{"identity":{` + fields + `}}`
		}
		const okTraits = `"traits":{"type":"traits_v0","username":"valid"}`

		for _, tc := range []struct {
			name, body, field, reason string
		}{
			{"empty display_name", identity(`"display_name":"",` + okTraits), "identity.display_name", "empty string"},
			{"no display_name", identity(okTraits), "identity.display_name", "empty string"},
			{"long display_name", identity(`"display_name":"` + strings.Repeat("é", 65) + `",` + okTraits), "identity.display_name", "longer than 64 characters"},
			{"control character", identity(`"display_name":"a\u0007b",` + okTraits), "identity.display_name", "contains a control character"},
			{"no username", identity(`"display_name":"X","traits":{"type":"traits_v0"}`), "identity.traits.username", "empty string"},
			{"no traits", identity(`"display_name":"X"`), "identity.traits.username", "empty string"},
			{"username forbidden character", identity(`"display_name":"X","traits":{"username":"a:b"}`), "identity.traits.username", "contains a forbidden character…"},
			{"long username", identity(`"display_name":"X","traits":{"username":"` + strings.Repeat("u", 65) + `"}`), "identity.traits.username", "longer than 64 characters"},
			{"bad e-mail", identity(`"display_name":"X","traits":{"username":"u","primary_email_address":"not-an-email"}`), "identity.traits.primary_email_address", "not a valid e-mail address"},
			{"e-mail with a name", identity(`"display_name":"X","traits":{"username":"u","primary_email_address":"U <u@example.com>"}`), "identity.traits.primary_email_address", "not a valid e-mail address"},
			{"bad secondary e-mail", identity(`"display_name":"X","traits":{"username":"u","secondary_email_address":"@example.com"}`), "identity.traits.secondary_email_address", "not a valid e-mail address"},
			{"bad status", identity(`"display_name":"X","status":"disabled",` + okTraits), "identity.status", ""},
			{"upper-case status", identity(`"display_name":"X","status":"ACTIVE",` + okTraits), "identity.status", ""},
			{"bad traits type", identity(`"display_name":"X","traits":{"type":"traits_v1","username":"u"}`), "identity.traits.type", ""},
			{"unknown trait", identity(`"display_name":"X","traits":{"username":"u","shoe_size":"9"}`), "identity.traits.shoe_size", "unknown trait"},
			{"unknown field", identity(`"display_name":"X","nickname":"x",` + okTraits), "identity.nickname", "unknown field"},
			{"unknown top-level field", `{"identity":{"display_name":"X",` + okTraits + `},"extra":true}`, "extra", "unknown field"},
			{"unknown bare field", `{"display_name":"X","nickname":"x",` + okTraits + `}`, "identity.nickname", "unknown field"},
			{"display_name not a string", identity(`"display_name":7,` + okTraits), "identity.display_name", "must be a string"},
			{"status not a string", identity(`"display_name":"X","status":true,` + okTraits), "identity.status", "must be a string"},
			{"traits not an object", identity(`"display_name":"X","traits":"u"`), "identity.traits", "must be an object"},
			{"trait not a string", identity(`"display_name":"X","traits":{"username":5}`), "identity.traits.username", "must be a string"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				assertInvalid(t, api.do(t, "POST", base, tc.body), tc.field, tc.reason)
			})
		}

		t.Run("forbidden characters", func(t *testing.T) {
			for _, c := range "{}[]<>;:?\\/|*^%$#=~`!" {
				name := fmt.Sprintf("a%cb", c)
				assertInvalid(t, api.do(t, "POST", base, map[string]any{"identity": map[string]any{
					"display_name": name, "traits": map[string]any{"username": "u"}}}), "identity.display_name", "contains a forbidden character…")
				assertInvalid(t, api.do(t, "POST", base, map[string]any{"identity": map[string]any{
					"display_name": "X", "traits": map[string]any{"username": name}}}), "identity.traits.username", "contains a forbidden character…")
			}
		})

		t.Run("every violation is reported", func(t *testing.T) {
			body := assertError(t, api.do(t, "POST", base, identity(`"display_name":"","status":"x","traits":{"username":""}`)),
				http.StatusBadRequest, "bad_request", "invalid parameters")
			var fields []string
			for _, fv := range items(t, detail(t, body, "FieldViolations"), "field_violations") {
				fields = append(fields, str(t, fv, "field"))
			}
			assertSameSet(t, "fields", fields, []string{"identity.display_name", "identity.status", "identity.traits.username"})
		})

		t.Run("malformed", func(t *testing.T) {
			for _, body := range []string{`{`, `[]`, `null`, `"x"`, ``, `{"identity":null}`, `{"identity":[]}`,
				identity(`"display_name":"X",`+okTraits) + ` trailing`, identity(`"display_name":"X",`+okTraits) + `{}`} {
				t.Run(body, func(t *testing.T) { assertMalformed(t, api.do(t, "POST", base, body)) })
			}
		})

		t.Run("too large", func(t *testing.T) {
			big := identity(`"display_name":"X","traits":{"username":"big","title":"` + strings.Repeat("x", 1<<20) + `"}`)
			assertError(t, api.do(t, "POST", base, big), http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than 1 MiB")
		})

		t.Run("not UTF-8", func(t *testing.T) {
			assertError(t, api.do(t, "POST", base, identity(`"display_name":"A`+"\xff"+`B",`+okTraits)),
				http.StatusBadRequest, "bad_request", "the request body is not valid UTF-8")
		})

		t.Run("limits are inclusive", func(t *testing.T) {
			api.post(t, base, map[string]any{"identity": map[string]any{"display_name": strings.Repeat("é", 64),
				"traits": map[string]any{"username": strings.Repeat("u", 64), "primary_email_address": "a.b+c@example.com"}}})
		})

		if l := api.list(t, base); num(t, l, "total_size") != 1 {
			t.Errorf("rejected creates stored identities: %v", l)
		}
	})
}

func TestBatchDelete(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Batch")
		base := "/realms/" + realm + "/identities"
		batch := base + ":batchDelete"
		var idsOf []string
		for _, u := range []string{"a", "b", "c", "d"} {
			idsOf = append(idsOf, str(t, newIdentity(t, api, realm, u), "id"))
		}
		a, b, c, d := idsOf[0], idsOf[1], idsOf[2], idsOf[3]
		g := newGroup(t, api, realm, "Batch Group")
		api.post(t, "/realms/"+realm+"/groups/"+g+":addMembers", map[string]any{"identity_ids": []string{a, c}})
		foreign := str(t, newIdentity(t, api, newRealm(t, api, "Foreign"), "foreign"), "id")

		remaining := func(t *testing.T, want ...string) {
			t.Helper()
			l := api.list(t, base, "page_size", "200")
			assertSameSet(t, "identities", ids(items(t, l, "identities")), want)
			if num(t, l, "total_size") != len(want) {
				t.Errorf("total_size %v, want %d", l["total_size"], len(want))
			}
		}

		t.Run("unknown ids delete nothing", func(t *testing.T) {
			assertBatchNotFound(t, api.do(t, "POST", batch, map[string]any{"ids": []string{a, "ffffffffffffffff", b, "eeeeeeeeeeeeeeee"}}),
				"Identity", "identities not found", []string{"ffffffffffffffff", "eeeeeeeeeeeeeeee"})
			assertBatchNotFound(t, api.do(t, "POST", batch, map[string]any{"ids": []string{a, foreign}}),
				"Identity", "identities not found", []string{foreign})
			remaining(t, a, b, c, d)
		})

		t.Run("invalid", func(t *testing.T) {
			many := func(n int) []string {
				out := []string{a}
				for i := 1; i < n; i++ {
					out = append(out, fmt.Sprintf("%016x", i))
				}
				return out
			}
			for _, tc := range []struct {
				name          string
				body          any
				field, reason string
			}{
				{"empty", map[string]any{"ids": []string{}}, "ids", "missing"},
				{"absent", map[string]any{}, "ids", "missing"},
				{"null", map[string]any{"ids": nil}, "ids", "missing"},
				{"too many", map[string]any{"ids": many(1001)}, "ids", "array exceeds 1000 elements"},
				{"duplicates", map[string]any{"ids": []string{a, b, a}}, "ids", "duplicate id…"},
				{"empty id", map[string]any{"ids": []string{a, ""}}, "ids", "empty string"},
				{"not an array", map[string]any{"ids": a}, "ids", "must be an array"},
				{"unknown field", map[string]any{"ids": []string{a}, "force": true}, "force", "unknown field"},
			} {
				t.Run(tc.name, func(t *testing.T) { assertInvalid(t, api.do(t, "POST", batch, tc.body), tc.field, tc.reason) })
			}
			assertMalformed(t, api.do(t, "POST", batch, `{"ids":`))
			// 1000 ids are allowed: the 999 unknown ones are the 404.
			assertBatchNotFound(t, api.do(t, "POST", batch, map[string]any{"ids": many(1000)}), "Identity", "identities not found", many(1000)[1:])
			remaining(t, a, b, c, d)
		})

		t.Run("scope", func(t *testing.T) {
			assertBareError(t, api.withToken(e.node.Token(t, "identities:read identities:update")).do(t, "POST", batch, map[string]any{"ids": []string{a}}),
				http.StatusForbidden, "forbidden", "forbidden")
		})

		t.Run("delete", func(t *testing.T) {
			assertEmpty200(t, api.do(t, "POST", batch, map[string]any{"ids": []string{a, b}}))
			remaining(t, c, d)
			for _, id := range []string{a, b} {
				assertNotFound(t, api.do(t, "GET", base+"/"+id, nil), "Identity", id, "identity not found")
			}
			// a's membership went with it.
			members := api.get(t, "/realms/"+realm+"/groups/"+g+":listMembers")
			assertSameSet(t, "members", ids(items(t, members, "identities")), []string{c})
			// Deleting them again: all unknown now.
			assertBatchNotFound(t, api.do(t, "POST", batch, map[string]any{"ids": []string{a, c}}), "Identity", "identities not found", []string{a})
			remaining(t, c, d)
		})
	})
}

func TestGroups(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		realm := newRealm(t, api, "Groups")
		base := "/realms/" + realm + "/groups"
		g := api.post(t, base, `{"group":{"display_name":"Realm Administrators","description":"A group of realm administrators."}}`)
		assertKeys(t, g, "id", "realm_id", "tenant_id", "display_name", "description", "create_time", "update_time")
		gid := str(t, g, "id")
		assertHexID(t, gid)
		if g["realm_id"] != realm || g["tenant_id"] != e.tenant() || g["display_name"] != "Realm Administrators" ||
			g["description"] != "A group of realm administrators." {
			t.Errorf("created %v", g)
		}
		assertTime(t, g, "create_time")
		path := base + "/" + gid
		assertSame(t, api.get(t, path), g)

		var members []string
		for _, u := range []string{"ann", "ben", "cat"} {
			members = append(members, str(t, newIdentity(t, api, realm, u), "id"))
		}
		ann, ben, cat := members[0], members[1], members[2]
		foreign := str(t, newIdentity(t, api, newRealm(t, api, "Foreign"), "ann"), "id")

		t.Run("create", func(t *testing.T) {
			plain := api.post(t, base, map[string]any{"group": map[string]any{"display_name": "No Description"}})
			if plain["description"] != "" {
				t.Errorf("description %v", plain["description"])
			}
			assertError(t, api.do(t, "POST", base, map[string]any{"group": map[string]any{"display_name": "realm ADMINISTRATORS"}}),
				http.StatusConflict, "conflict", "group display name already exists")
			for _, tc := range []struct{ body, field, reason string }{
				{`{"group":{"display_name":""}}`, "group.display_name", "empty string"},
				{`{"group":{"description":"d"}}`, "group.display_name", "empty string"},
				{`{"group":{"display_name":"a|b"}}`, "group.display_name", "contains a forbidden character…"},
				{`{"group":{"display_name":"X","description":"` + strings.Repeat("d", 301) + `"}}`, "group.description", "longer than 300 characters"},
				{`{"group":{"display_name":"X","description":"50%"}}`, "group.description", "contains a forbidden character…"},
				{`{"group":{"display_name":"X","members":[]}}`, "group.members", "unknown field"},
				{`{"display_name":"X"}`, "group", "missing"},
			} {
				t.Run(tc.body, func(t *testing.T) { assertInvalid(t, api.do(t, "POST", base, tc.body), tc.field, tc.reason) })
			}
			api.post(t, base, map[string]any{"group": map[string]any{"display_name": "Long", "description": strings.Repeat("d", 300)}})
		})

		t.Run("list", func(t *testing.T) {
			l := api.list(t, base)
			assertKeys(t, l, "groups", "total_size")
			if n := num(t, l, "total_size"); n != 3 || len(items(t, l, "groups")) != 3 {
				t.Errorf("list %v", l)
			}
		})

		t.Run("patch", func(t *testing.T) {
			other := newGroup(t, api, realm, "Other")
			p := api.patch(t, base+"/"+other, map[string]any{"group": map[string]any{"description": "Changed."}})
			if p["display_name"] != "Other" || p["description"] != "Changed." || p["id"] != other {
				t.Errorf("PATCH answered %v", p)
			}
			p = api.patch(t, base+"/"+other, map[string]any{"group": map[string]any{"display_name": "Another", "id": "0000000000000000"}})
			if p["display_name"] != "Another" || p["description"] != "Changed." || p["id"] != other {
				t.Errorf("PATCH answered %v", p)
			}
			assertSame(t, api.get(t, base+"/"+other), p)
			assertError(t, api.do(t, "PATCH", base+"/"+other, map[string]any{"group": map[string]any{"display_name": "REALM administrators"}}),
				http.StatusConflict, "conflict", "group display name already exists")
			assertInvalid(t, api.do(t, "PATCH", base+"/"+other, map[string]any{"group": map[string]any{"display_name": ""}}), "group.display_name", "empty string")
			assertNotFound(t, api.do(t, "PATCH", base+"/ffffffffffffffff", map[string]any{"group": map[string]any{"description": "x"}}),
				"Group", "ffffffffffffffff", "group not found")
			api.del(t, base+"/"+other)
		})

		listMembers := func(t *testing.T, want ...string) {
			t.Helper()
			l := api.get(t, path+":listMembers")
			assertKeys(t, l, "identities", "total_size")
			got := items(t, l, "identities")
			assertSameSet(t, "members", ids(got), want)
			if num(t, l, "total_size") != len(want) {
				t.Errorf("total_size %v, want %d", l["total_size"], len(want))
			}
			for _, m := range got {
				assertKeys(t, m, "id", "realm_id", "tenant_id", "display_name", "status", "traits", "enrollment_status", "create_time", "update_time")
			}
		}

		t.Run("members", func(t *testing.T) {
			listMembers(t)
			r := api.post(t, path+":addMembers", map[string]any{"identity_ids": []string{ann, ben}})
			assertKeys(t, r, "id", "realm_id", "tenant_id", "display_name", "description", "create_time", "update_time")
			if r["id"] != gid || r["display_name"] != g["display_name"] || r["create_time"] != g["create_time"] {
				t.Errorf(":addMembers answered %v, want the group", r)
			}
			listMembers(t, ann, ben)
			api.post(t, path+":addMembers", map[string]any{"identity_ids": []string{ann, ann}}) // idempotent
			listMembers(t, ann, ben)

			assertBatchNotFound(t, api.do(t, "POST", path+":addMembers", map[string]any{"identity_ids": []string{cat, "ffffffffffffffff", foreign}}),
				"Identity", "identities not found", []string{"ffffffffffffffff", foreign})
			listMembers(t, ann, ben) // cat was not added

			l := api.list(t, path+":listMembers", "filter", `traits.username eq "BEN"`)
			assertSameSet(t, "filtered members", ids(items(t, l, "identities")), []string{ben})
			if page := api.list(t, path+":listMembers", "page_size", "1"); len(items(t, page, "identities")) != 1 || page["next_page_token"] == nil {
				t.Errorf(":listMembers page_size=1: %v", page)
			}

			body := assertError(t, api.do(t, "DELETE", path, nil), http.StatusConflict, "conflict", "group has children")
			assertKeys(t, body, "code", "message")

			r = api.post(t, path+":deleteMembers", map[string]any{"identity_ids": []string{ann}})
			if r["id"] != gid {
				t.Errorf(":deleteMembers answered %v, want the group", r)
			}
			listMembers(t, ben)
			assertBatchNotFound(t, api.do(t, "POST", path+":deleteMembers", map[string]any{"identity_ids": []string{ben, "ffffffffffffffff"}}),
				"Identity", "identities not found", []string{"ffffffffffffffff"})
			listMembers(t, ben) // ben was not removed
			// cat is no member: removing it too is fine.
			api.post(t, path+":deleteMembers", map[string]any{"identity_ids": []string{ben, cat}})
			listMembers(t)
		})

		t.Run("invalid member lists", func(t *testing.T) {
			many := make([]string, 1001)
			for i := range many {
				many[i] = fmt.Sprintf("%016x", i)
			}
			for _, verb := range []string{":addMembers", ":deleteMembers"} {
				for _, tc := range []struct {
					body          any
					field, reason string
				}{
					{map[string]any{"identity_ids": []string{}}, "identity_ids", "missing"},
					{map[string]any{}, "identity_ids", "missing"},
					{map[string]any{"identity_ids": many}, "identity_ids", "array exceeds 1000 elements"},
					{map[string]any{"identity_ids": []string{ann, ""}}, "identity_ids", "empty string"},
					{map[string]any{"identity_ids": ann}, "identity_ids", "must be an array"},
					{map[string]any{"identity_ids": []string{ann}, "group_ids": []string{}}, "group_ids", "unknown field"},
				} {
					assertInvalid(t, api.do(t, "POST", path+verb, tc.body), tc.field, tc.reason)
				}
				assertMalformed(t, api.do(t, "POST", path+verb, `nope`))
				assertNotFound(t, api.do(t, "POST", base+"/ffffffffffffffff"+verb, map[string]any{"identity_ids": []string{ann}}),
					"Group", "ffffffffffffffff", "group not found")
			}
			listMembers(t)
		})

		t.Run("scopes", func(t *testing.T) {
			c := api.withToken(e.node.Token(t, "groups:update groups:read"))
			assertBareError(t, c.do(t, "POST", path+":addMembers", map[string]any{"identity_ids": []string{ann}}), http.StatusForbidden, "forbidden", "forbidden")
			assertBareError(t, c.do(t, "GET", path+":listMembers", nil), http.StatusForbidden, "forbidden", "forbidden")
			c.get(t, path)
		})

		t.Run("unknown verbs", func(t *testing.T) {
			for _, tc := range []struct{ method, path string }{
				{"GET", path + ":addMembers"},
				{"POST", path + ":listMembers"},
				{"POST", path},
				{"POST", path + ":bogus"},
				{"PATCH", path + ":addMembers"},
			} {
				assertError(t, api.do(t, tc.method, tc.path, `{"identity_ids":["`+ann+`"]}`), http.StatusNotFound, "not_found", "not found")
			}
			listMembers(t)
		})

		t.Run("delete", func(t *testing.T) {
			api.del(t, path)
			assertNotFound(t, api.do(t, "GET", path, nil), "Group", gid, "group not found")
			assertNotFound(t, api.do(t, "DELETE", path, nil), "Group", gid, "group not found")
			assertNotFound(t, api.do(t, "GET", path+":listMembers", nil), "Group", gid, "group not found")
			newGroup(t, api, realm, "Realm Administrators") // the name is free again
		})
	})
}
