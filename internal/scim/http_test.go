package scim_test

// HTTP-level tests of the SCIM endpoints: a real node per storage engine,
// talked to over HTTP only, with request sequences as Okta and Entra ID send
// them.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/scim"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

const patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

type scimEnv struct {
	node          *testenv.Node
	tenant, realm string
	token         string // all scopes
	base          string // SCIM base URL
}

// forEachEngine runs test against a fresh realm on a node of each engine.
func forEachEngine(t *testing.T, test func(t *testing.T, e *scimEnv)) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
			})
			test(t, newSCIMEnv(t, n))
		})
	}
}

// newSCIMEnv makes a fresh realm on node n.
func newSCIMEnv(t *testing.T, n *testenv.Node) *scimEnv {
	e := &scimEnv{node: n, tenant: n.Creds().TenantID, token: n.Token(t, "")}
	res := testenv.Do(t, "POST", n.URL+"/v1/tenants/"+e.tenant+"/realms", e.token,
		map[string]any{"realm": map[string]any{"display_name": "SCIM"}})
	if res.Status != http.StatusOK {
		t.Fatalf("create realm: %d %s", res.Status, res.Body)
	}
	e.realm = res.JSON(t)["id"].(string)
	e.base = n.URL + "/v1/tenants/" + e.tenant + "/realms/" + e.realm + "/scim/v2"
	return e
}

// scimClient fails a request that a node never answers, instead of the
// whole test run timing out.
var scimClient = &http.Client{Timeout: time.Minute}

// do sends a SCIM request with the all-scopes token; header holds pairs of
// header names and values.
func (e *scimEnv) do(t *testing.T, method, path string, body any, header ...string) testenv.Response {
	t.Helper()
	return e.doAs(t, e.token, method, path, body, header...)
}

func (e *scimEnv) doAs(t *testing.T, token, method, path string, body any, header ...string) testenv.Response {
	t.Helper()
	rd := testenv.Body(t, body)
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := scimClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// rest sends a request to the management API.
func (e *scimEnv) rest(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	res := testenv.Do(t, method, e.node.URL+"/v1/tenants/"+e.tenant+"/realms/"+e.realm+path, e.token, body)
	if res.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.JSON(t)
}

// want checks the status of a response and returns its JSON body (nil for
// none). Every resource in it must conform to the RFC 7643 schemas.
func want(t *testing.T, res testenv.Response, status int) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q", ct)
	}
	body := res.JSON(t)
	scim.CheckResponse(t, body)
	return body
}

// wantError checks a SCIM error response.
func wantError(t *testing.T, res testenv.Response, status int, scimType string) {
	t.Helper()
	m := want(t, res, status)
	if m["status"] != fmt.Sprint(status) || !slices.Contains(toStrings(m["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("not a SCIM error: %v", m)
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q (%v)", got, scimType, m["detail"])
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// get walks a JSON document along keys and array indices.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func patch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchOp}, "Operations": ops}
}

func op(op, path string, value any) map[string]any {
	m := map[string]any{"op": op, "value": value}
	if path != "" {
		m["path"] = path
	}
	if value == nil {
		delete(m, "value")
	}
	return m
}

func oktaUser(userName, given, family string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": given, "familyName": family},
		"emails":   []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"active":   true,
		"locale":   "en-US",
	}
}

// memberIDs lists the members of a group through the REST API.
func (e *scimEnv) memberIDs(t *testing.T, groupID string) []string {
	t.Helper()
	m := e.rest(t, "GET", "/groups/"+groupID+":listMembers?page_size=1000", nil)
	var ids []string
	for _, x := range m["identities"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestOktaSequence(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		// Okta looks the user up first.
		m := want(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`userName eq "ann@example.com"`)+"&startIndex=1&count=100", nil), 200)
		if m["totalResults"] != 0.0 || len(m["Resources"].([]any)) != 0 {
			t.Fatalf("lookup: %v", m)
		}
		res := e.do(t, "POST", "/Users", oktaUser("ann@example.com", "Ann", "Lee"))
		u := want(t, res, http.StatusCreated)
		id := u["id"].(string)
		if res.Header.Get("Location") != e.base+"/Users/"+id || get(u, "meta", "location") != e.base+"/Users/"+id {
			t.Errorf("Location %q, meta %v", res.Header.Get("Location"), u["meta"])
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("ETag") != get(u, "meta", "version") {
			t.Errorf("ETag %q, meta.version %v", res.Header.Get("ETag"), get(u, "meta", "version"))
		}
		if u["active"] != true || get(u, "name", "givenName") != "Ann" || get(u, "emails", 0, "value") != "ann@example.com" {
			t.Errorf("created: %v", u)
		}
		// Now found by the filter.
		m = want(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`userName eq "ANN@example.com"`), nil), 200)
		if m["totalResults"] != 1.0 || get(m, "Resources", 0, "id") != id {
			t.Fatalf("lookup: %v", m)
		}
		u = want(t, e.do(t, "GET", "/Users/"+id, nil), 200)
		if u["userName"] != "ann@example.com" {
			t.Errorf("get: %v", u)
		}
		// PUT with a new given name.
		put := oktaUser("ann@example.com", "Annie", "Lee")
		put["id"] = id
		u = want(t, e.do(t, "PUT", "/Users/"+id, put), 200)
		if get(u, "name", "givenName") != "Annie" {
			t.Errorf("put: %v", u)
		}
		// Okta's PATCH of a profile attribute.
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"name.givenName": "Anne"}))), 200)
		if get(u, "name", "givenName") != "Anne" {
			t.Errorf("patch givenName: %v", u)
		}
		// Deactivate, visible in the REST API, then reactivate.
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": false}))), 200)
		if u["active"] != false {
			t.Errorf("deactivate: %v", u)
		}
		ri := e.rest(t, "GET", "/identities/"+id, nil)
		if ri["status"] == "active" || get(ri, "traits", "given_name") != "Anne" || get(ri, "traits", "username") != "ann@example.com" {
			t.Errorf("REST after deactivation: %v", ri)
		}
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "active", true))), 200)
		if u["active"] != true || e.rest(t, "GET", "/identities/"+id, nil)["status"] != "active" {
			t.Errorf("reactivate: %v", u)
		}

		// Group push.
		bob := want(t, e.do(t, "POST", "/Users", oktaUser("bob@example.com", "Bob", "Ray")), 201)["id"].(string)
		g := want(t, e.do(t, "POST", "/Groups", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineering", "members": []any{}}), 201)
		gid := g["id"].(string)
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("add", "members", []any{
			map[string]any{"value": id, "display": "ann@example.com"}, map[string]any{"value": bob}}))), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(id, bob)) {
			t.Errorf("members after add: %v", got)
		}
		g = want(t, e.do(t, "GET", "/Groups/"+gid, nil), 200)
		if len(g["members"].([]any)) != 2 {
			t.Errorf("group: %v", g)
		}
		// The user shows its group.
		if u := want(t, e.do(t, "GET", "/Users/"+bob, nil), 200); get(u, "groups", 0, "value") != gid {
			t.Errorf("groups of user: %v", u["groups"])
		}
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("remove", `members[value eq "`+bob+`"]`, nil))), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{id}) {
			t.Errorf("members after remove: %v", got)
		}
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "", map[string]any{"id": gid, "displayName": "Eng"}))), 204)
		if rg := e.rest(t, "GET", "/groups/"+gid, nil); rg["display_name"] != "Eng" {
			t.Errorf("REST after rename: %v", rg)
		}
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{id}) {
			t.Errorf("members after rename: %v", got)
		}

		// A change through the REST API shows in SCIM.
		e.rest(t, "PATCH", "/identities/"+bob, map[string]any{"identity": map[string]any{"traits": map[string]any{"given_name": "Robert"}}})
		if u := want(t, e.do(t, "GET", "/Users/"+bob, nil), 200); get(u, "name", "givenName") != "Robert" {
			t.Errorf("SCIM after REST change: %v", u)
		}

		res = e.do(t, "DELETE", "/Users/"+bob, nil)
		want(t, res, http.StatusNoContent)
		wantError(t, e.do(t, "GET", "/Users/"+bob, nil), 404, "")
		want(t, e.do(t, "DELETE", "/Groups/"+gid, nil), 204)
		wantError(t, e.do(t, "GET", "/Groups/"+gid, nil), 404, "")
	})
}

func TestEntraSequence(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		m := want(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`externalId eq "e-1"`), nil), 200)
		if m["totalResults"] != 0.0 {
			t.Fatalf("lookup: %v", m)
		}
		u := want(t, e.do(t, "POST", "/Users", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
			"externalId": "e-1", "userName": "carl@contoso.com", "active": "True", "displayName": "Carl",
			"emails": []any{map[string]any{"primary": true, "type": "work", "value": "carl@contoso.com"}},
			"name":   map[string]any{"givenName": "Carl", "familyName": "Berg"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Sales"},
		}), 201)
		id := u["id"].(string)
		m = want(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`externalId eq "e-1"`), nil), 200)
		if m["totalResults"] != 1.0 || get(m, "Resources", 0, "id") != id {
			t.Fatalf("lookup: %v", m)
		}
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(
			op("Replace", `emails[type eq "work"].value`, "carl.berg@contoso.com"),
			op("Replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "Marketing"),
			op("Add", "title", "Manager"),
		)), 200)
		if get(u, "emails", 0, "value") != "carl.berg@contoso.com" || u["title"] != "Manager" ||
			get(u, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "department") != "Marketing" {
			t.Errorf("patch: %v", u)
		}
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(op("Replace", "active", "False"))), 200)
		if u["active"] != false {
			t.Errorf("deactivate: %v", u)
		}
		if ri := e.rest(t, "GET", "/identities/"+id, nil); ri["status"] == "active" ||
			get(ri, "traits", "primary_email_address") != "carl.berg@contoso.com" {
			t.Errorf("REST: %v", ri)
		}

		dana := want(t, e.do(t, "POST", "/Users", map[string]any{"userName": "dana@contoso.com", "externalId": "e-2"}), 201)["id"].(string)
		g := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "Sales", "externalId": "g-1"}), 201)
		gid := g["id"].(string)
		m = want(t, e.do(t, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Sales"`), nil), 200)
		if m["totalResults"] != 1.0 || get(m, "Resources", 0, "members") != nil || get(m, "Resources", 0, "externalId") != "g-1" {
			t.Errorf("group lookup: %v", m)
		}
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("Add", "members", []any{map[string]any{"value": id}, map[string]any{"value": dana}}))), 204)
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("Remove", "members", []any{map[string]any{"value": dana}}))), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{id}) {
			t.Errorf("members: %v", got)
		}
		// Entra checks membership with a members filter.
		m = want(t, e.do(t, "GET", "/Groups?filter="+url.QueryEscape(`id eq "`+gid+`" and members eq "`+id+`"`)+"&excludedAttributes=members", nil), 200)
		if m["totalResults"] != 1.0 {
			t.Errorf("members filter: %v", m)
		}
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("Replace", "displayName", "Sales EMEA"))), 204)
		if g := want(t, e.do(t, "GET", "/Groups/"+gid+"?attributes=displayName", nil), 200); g["displayName"] != "Sales EMEA" || g["members"] != nil {
			t.Errorf("renamed: %v", g)
		}
		// REST member changes show in SCIM.
		e.rest(t, "POST", "/groups/"+gid+":addMembers", map[string]any{"identity_ids": []string{dana}})
		g = want(t, e.do(t, "GET", "/Groups/"+gid, nil), 200)
		if len(g["members"].([]any)) != 2 {
			t.Errorf("members after REST add: %v", g)
		}
		want(t, e.do(t, "DELETE", "/Users/"+id, nil), 204)
	})
}

func TestErrorsAndQueries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		var ids []string
		for _, n := range []string{"cat", "abe", "bea"} {
			ids = append(ids, want(t, e.do(t, "POST", "/Users", oktaUser(n+"@x.test", n, "X")), 201)["id"].(string))
		}
		wantError(t, e.do(t, "POST", "/Users", oktaUser("ABE@x.test", "a", "b")), 409, "uniqueness")
		want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "G"}), 201)
		wantError(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "g"}), 409, "uniqueness")

		// count=0 gives only the total.
		m := want(t, e.do(t, "GET", "/Users?count=0", nil), 200)
		if m["totalResults"] != 3.0 || len(m["Resources"].([]any)) != 0 {
			t.Errorf("count=0: %v", m)
		}
		// sortBy, sortOrder, startIndex, count, attributes.
		m = want(t, e.do(t, "GET", "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=1&attributes=userName", nil), 200)
		if m["totalResults"] != 3.0 || m["startIndex"] != 2.0 || m["itemsPerPage"] != 1.0 || get(m, "Resources", 0, "userName") != "bea@x.test" ||
			get(m, "Resources", 0, "name") != nil || get(m, "Resources", 0, "id") == nil {
			t.Errorf("sorted page: %v", m)
		}
		m = want(t, e.do(t, "POST", "/Users/.search", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter":  `userName sw "a" or userName sw "c"`, "sortBy": "userName", "attributes": []string{"userName"}}), 200)
		if m["totalResults"] != 2.0 || get(m, "Resources", 0, "userName") != "abe@x.test" || get(m, "Resources", 1, "userName") != "cat@x.test" {
			t.Errorf(".search: %v", m)
		}
		wantError(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`userName eq`), nil), 400, "invalidFilter")
		wantError(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(`shoeSize eq "9"`), nil), 400, "invalidFilter")
		wantError(t, e.do(t, "GET", "/Users?sortBy=groups", nil), 400, "invalidValue")

		// If-Match: a stale version is 412 and changes nothing.
		id := ids[0]
		res := e.do(t, "GET", "/Users/"+id, nil)
		etag := res.Header.Get("ETag")
		want(t, e.do(t, "GET", "/Users/"+id, nil, "If-None-Match", etag), http.StatusNotModified)
		want(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "title", "One")), "If-Match", etag), 200)
		wantError(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "title", "Two")), "If-Match", etag), 412, "")
		wantError(t, e.do(t, "PUT", "/Users/"+id, oktaUser("cat@x.test", "Two", "X"), "If-Match", etag), 412, "")
		if u := want(t, e.do(t, "GET", "/Users/"+id, nil), 200); u["title"] != "One" || get(u, "name", "givenName") != "cat" {
			t.Errorf("after 412: %v", u)
		}
		gres := e.do(t, "GET", "/Groups?filter="+url.QueryEscape(`displayName eq "G"`), nil)
		gid := get(want(t, gres, 200), "Resources", 0, "id").(string)
		wantError(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "H")), "If-Match", `W/"1"`), 412, "")

		// An unknown PATCH path is invalidPath; no operation applies.
		wantError(t, e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "title", "Three"), op("replace", "shoeSize", "9"))), 400, "invalidPath")
		if u := want(t, e.do(t, "GET", "/Users/"+id, nil), 200); u["title"] != "One" {
			t.Errorf("after invalidPath: %v", u)
		}
		wantError(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "H"), op("add", "owner", "x"))), 400, "invalidPath")

		wantError(t, e.do(t, "GET", "/Users/nope", nil), 404, "")
		wantError(t, e.do(t, "POST", "/Users", "{"), 400, "invalidSyntax")
		wantError(t, e.do(t, "POST", "/Users", `{"userName":"`+strings.Repeat("x", 1<<20)+`"}`), 413, "")

		// Authentication and scopes.
		wantError(t, e.doAs(t, "", "GET", "/Users", nil), 401, "")
		wantError(t, e.doAs(t, "garbage", "GET", "/Users", nil), 401, "")
		groupsOnly := e.node.Token(t, "scim:groups:read")
		wantError(t, e.doAs(t, groupsOnly, "GET", "/Users", nil), 403, "")
		want(t, e.doAs(t, groupsOnly, "GET", "/Groups", nil), 200)
		readUsers := e.node.Token(t, "scim:users:read")
		want(t, e.doAs(t, readUsers, "GET", "/Users/"+id, nil), 200)
		wantError(t, e.doAs(t, readUsers, "DELETE", "/Users/"+id, nil), 403, "")
		want(t, e.doAs(t, e.node.Token(t, "scim:all"), "GET", "/Users/"+id, nil), 200)

		// Discovery needs no token.
		m = want(t, e.doAs(t, "", "GET", "/ServiceProviderConfig", nil), 200)
		if get(m, "patch", "supported") != true {
			t.Errorf("ServiceProviderConfig: %v", m)
		}
		if m = want(t, e.doAs(t, "", "GET", "/Schemas", nil), 200); m["totalResults"] != 3.0 {
			t.Errorf("Schemas: %v", m)
		}
		want(t, e.doAs(t, "", "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil), 200)
		if m = want(t, e.doAs(t, "", "GET", "/ResourceTypes", nil), 200); m["totalResults"] != 2.0 {
			t.Errorf("ResourceTypes: %v", m)
		}
		want(t, e.doAs(t, "", "GET", "/ResourceTypes/Group", nil), 200)
		wantError(t, e.doAs(t, "", "GET", "/ResourceTypes/Nope", nil), 404, "")
	})
}

// patchTogether sends, all at once, one PATCH of the group per identity:
// verb ("add" or "replace") members with that identity; each must answer 204.
func (e *scimEnv) patchTogether(t *testing.T, gid string, ids []string, verb string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			body, _ := json.Marshal(patch(op(verb, "members", []any{map[string]any{"value": id}})))
			req, _ := http.NewRequestWithContext(t.Context(), "PATCH", e.base+"/Groups/"+gid, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("PATCH: %s", err)
	}
}

func TestConcurrentMemberPatches(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		const n = 20
		var ids []string
		for i := range n {
			ids = append(ids, want(t, e.do(t, "POST", "/Users", map[string]any{"userName": fmt.Sprintf("u%02d", i)}), 201)["id"].(string))
		}
		gid := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "All"}), 201)["id"].(string)
		e.patchTogether(t, gid, ids, "add")
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(ids...)) {
			t.Errorf("%d members, want %d", len(got), n)
		}
	})
}

func TestGroupReplaceAndMemberErrors(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		var ids []string
		for _, n := range []string{"a", "b", "c"} {
			ids = append(ids, want(t, e.do(t, "POST", "/Users", map[string]any{"userName": n}), 201)["id"].(string))
		}
		g := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "P",
			"members": []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}}}), 201)
		gid := g["id"].(string)
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(ids[0], ids[1])) {
			t.Errorf("members after create: %v", got)
		}
		g = want(t, e.do(t, "PUT", "/Groups/"+gid, map[string]any{"displayName": "Q", "externalId": "x-1",
			"members": []any{map[string]any{"value": ids[2]}}}), 200)
		if g["displayName"] != "Q" || g["externalId"] != "x-1" || len(g["members"].([]any)) != 1 || get(g, "members", 0, "value") != ids[2] {
			t.Errorf("put: %v", g)
		}
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{ids[2]}) {
			t.Errorf("members after put: %v", got)
		}
		// Unknown members are invalidValue, and nothing changes.
		wantError(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("add", "members", []any{map[string]any{"value": ids[0]}, map[string]any{"value": "nobody"}}))), 400, "invalidValue")
		wantError(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "R", "members": []any{map[string]any{"value": "nobody"}}}), 400, "invalidValue")
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{ids[2]}) {
			t.Errorf("members after failed patch: %v", got)
		}
		// Replace all members through PATCH.
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "members", []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}}))), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(ids[0], ids[1])) {
			t.Errorf("members after replace: %v", got)
		}
		// A stale If-Match deletes nothing, members included.
		wantError(t, e.do(t, "DELETE", "/Groups/"+gid, nil, "If-Match", `W/"1"`), 412, "")
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(ids[0], ids[1])) {
			t.Errorf("members after a refused delete: %v", got)
		}
		// A group with members is deleted with them; the users stay.
		want(t, e.do(t, "DELETE", "/Groups/"+gid, nil), 204)
		want(t, e.do(t, "GET", "/Users/"+ids[0], nil), 200)
		wantError(t, e.do(t, "DELETE", "/Groups/"+gid, nil), 404, "")

		wantError(t, e.do(t, "GET", "/Bogus", nil), 404, "")
		wantError(t, e.do(t, "DELETE", "/Users", nil), 405, "")
		wantError(t, e.do(t, "POST", "/Users/"+ids[0], map[string]any{}), 405, "")
		u := want(t, e.do(t, "GET", "/Users/"+ids[0]+"?excludedAttributes=groups,name,meta", nil), 200)
		if u["userName"] != "a" || u["meta"] != nil || u["groups"] != nil || u["id"] != ids[0] {
			t.Errorf("excludedAttributes: %v", u)
		}
		wantError(t, e.do(t, "POST", "/Users", map[string]any{"userName": "z"}, "Content-Type", "text/plain"), 415, "")
		want(t, e.do(t, "POST", "/Users", map[string]any{"userName": "z"}, "Content-Type", "application/json; charset=utf-8"), 201)
	})
}

func TestVersionsFollowMemberships(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		uid := want(t, e.do(t, "POST", "/Users", map[string]any{"userName": "v"}), 201)["id"].(string)
		gid := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "V"}), 201)["id"].(string)
		userVersion := func() string { return e.do(t, "GET", "/Users/"+uid, nil).Header.Get("ETag") }
		groupVersion := func() string { return e.do(t, "GET", "/Groups/"+gid, nil).Header.Get("ETag") }

		// Joining a group changes the User: a stale If-Match is refused.
		before := userVersion()
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("add", "members", []any{map[string]any{"value": uid}}))), 204)
		joined := userVersion()
		if joined == before {
			t.Errorf("user version %s unchanged after joining a group", joined)
		}
		wantError(t, e.do(t, "PATCH", "/Users/"+uid, patch(op("replace", "title", "T")), "If-Match", before), 412, "")
		want(t, e.do(t, "GET", "/Users/"+uid, nil, "If-None-Match", joined), http.StatusNotModified)
		// A member added again is no change.
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("add", "members", []any{map[string]any{"value": uid}}))), 204)
		if v := userVersion(); v != joined {
			t.Errorf("user version %s, want %s after a repeated add", v, joined)
		}
		// Renaming the group changes what the User shows, and so its version.
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "V2"))), 204)
		renamed := userVersion()
		if renamed == joined {
			t.Errorf("user version %s unchanged after its group's rename", renamed)
		}
		// Leaving, through the REST API too, changes it again.
		e.rest(t, "POST", "/groups/"+gid+":deleteMembers", map[string]any{"identity_ids": []string{uid}})
		if v := userVersion(); v == renamed {
			t.Errorf("user version %s unchanged after leaving the group", v)
		}

		// Deleting a member changes the Group.
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("add", "members", []any{map[string]any{"value": uid}}))), 204)
		before = groupVersion()
		want(t, e.do(t, "DELETE", "/Users/"+uid, nil), 204)
		if v := groupVersion(); v == before {
			t.Errorf("group version %s unchanged after its member was deleted", v)
		}
		wantError(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "displayName", "W")), "If-Match", before), 412, "")
	})
}

func TestEntraPhoneNumbers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		// As Entra ID's default mapping sends them: telephoneNumber, mobile and facsimileTelephoneNumber.
		u := want(t, e.do(t, "POST", "/Users", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
			"externalId": "e-9", "userName": "fay@contoso.com", "active": true,
			"phoneNumbers": []any{
				map[string]any{"type": "work", "value": "+1 555 0100"},
				map[string]any{"type": "mobile", "value": "+1 555 0101"},
				map[string]any{"type": "fax", "value": "+1 555 0102"},
			},
			"roles": []any{},
		}), 201)
		id := u["id"].(string)
		if get(u, "phoneNumbers", 0, "value") != "+1 555 0100" || get(u, "phoneNumbers", 1, "value") != "+1 555 0101" || get(u, "phoneNumbers", 2) != nil {
			t.Errorf("created: %v", u["phoneNumbers"])
		}
		u = want(t, e.do(t, "PATCH", "/Users/"+id, patch(
			op("Add", `phoneNumbers[type eq "fax"].value`, "+1 555 0199"),
			op("Replace", `phoneNumbers[type eq "mobile"].value`, "+1 555 0111"),
		)), 200)
		if get(u, "phoneNumbers", 1, "value") != "+1 555 0111" || get(u, "phoneNumbers", 2) != nil {
			t.Errorf("patched: %v", u["phoneNumbers"])
		}
		// Three numbers that can all be stored are still too many.
		wantError(t, e.do(t, "POST", "/Users", map[string]any{"userName": "gus", "phoneNumbers": []any{
			map[string]any{"type": "work", "value": "1"}, map[string]any{"type": "mobile", "value": "2"}, map[string]any{"type": "home", "value": "3"}}}), 400, "invalidValue")
	})
}

func TestUnknownSchemas(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		acme := "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
		body := oktaUser("hal@example.com", "Hal", "Ito")
		body["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User", acme}
		body[acme] = map[string]any{"badge": "7"}
		wantError(t, e.do(t, "POST", "/Users", body), 400, "invalidValue")
		delete(body, acme)
		wantError(t, e.do(t, "POST", "/Users", body), 400, "invalidValue")
		wantError(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "X",
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}}), 400, "invalidValue")
		// Attributes Latchkey does not store, as Okta and Entra send them, are
		// ignored: Entra's custom extension is not listed in schemas.
		body["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
		body[acme+":badge"] = "7"
		body["password"], body["roles"], body["groups"] = "s3cret", []any{}, []any{}
		id := want(t, e.do(t, "POST", "/Users", body), 201)["id"].(string)
		body["schemas"] = []string{acme}
		wantError(t, e.do(t, "PUT", "/Users/"+id, body), 400, "invalidValue")
	})
}

func TestConcurrentMemberReplaces(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		const n = 10
		var ids []string
		for i := range n {
			ids = append(ids, want(t, e.do(t, "POST", "/Users", map[string]any{"userName": fmt.Sprintf("r%02d", i)}), 201)["id"].(string))
		}
		gid := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "One",
			"members": []any{map[string]any{"value": ids[0]}}}), 201)["id"].(string)
		e.patchTogether(t, gid, ids, "replace")
		// Each replace leaves one member: whichever ran last.
		if got := e.memberIDs(t, gid); len(got) != 1 {
			t.Errorf("members %v, want one", got)
		}
	})
}

// TestIfMatchOnOneConnection: an If-Match precondition reads the user's
// groups in the transaction it checks them in. Read on a second connection,
// a node whose pool was taken by as many such writes (here: a pool of one)
// waited for it forever.
func TestIfMatchOnOneConnection(t *testing.T) {
	t.Parallel()
	n := testenv.StartNode(t, "postgres", func(cfg *server.Config) {
		cfg.Database += "&pool_max_conns=1"
		cfg.Logger = slog.New(slog.DiscardHandler)
	})
	e := newSCIMEnv(t, n)
	res := e.do(t, "POST", "/Users", oktaUser("ann@x.test", "Ann", "A"))
	id := want(t, res, http.StatusCreated)["id"].(string)
	res = e.do(t, "PATCH", "/Users/"+id, patch(op("replace", "title", "One")), "If-Match", res.Header.Get("ETag"))
	want(t, res, http.StatusOK)
	res = e.do(t, "PUT", "/Users/"+id, oktaUser("ann@x.test", "Ann", "B"), "If-Match", res.Header.Get("ETag"))
	want(t, res, http.StatusOK)
	if res := e.do(t, "DELETE", "/Users/"+id, nil, "If-Match", res.Header.Get("ETag")); res.Status != http.StatusNoContent {
		t.Errorf("delete: %d %s", res.Status, res.Body)
	}
}
