package scim_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

const bulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

func bulk(failOnErrors int, ops ...map[string]any) map[string]any {
	m := map[string]any{"schemas": []string{bulkRequest}, "Operations": ops}
	if failOnErrors > 0 {
		m["failOnErrors"] = failOnErrors
	}
	return m
}

func bulkOp(method, path, bulkID string, data any) map[string]any {
	m := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		m["bulkId"] = bulkID
	}
	if data != nil {
		m["data"] = data
	}
	return m
}

// results returns the Operations of a BulkResponse.
func results(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	if !slices.Contains(toStrings(m["schemas"]), "urn:ietf:params:scim:api:messages:2.0:BulkResponse") {
		t.Errorf("schemas %v", m["schemas"])
	}
	var out []map[string]any
	for _, x := range m["Operations"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// wantResult checks one result's status and, for an error, its scimType.
func wantResult(t *testing.T, res map[string]any, status, scimType string) {
	t.Helper()
	if res["status"] != status {
		t.Errorf("%v %v: status %v, want %s: %v", res["method"], res["bulkId"], res["status"], status, res["response"])
	}
	if scimType != "" && get(res, "response", "scimType") != scimType {
		t.Errorf("%v %v: response %v, want scimType %s", res["method"], res["bulkId"], res["response"], scimType)
	}
}

func (e *scimEnv) userID(t *testing.T, userName string) string {
	t.Helper()
	m := want(t, e.do(t, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), nil), 200)
	if m["totalResults"] != 1.0 {
		return ""
	}
	return get(m, "Resources", 0, "id").(string)
}

func TestBulk(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		want(t, e.do(t, "POST", "/Users", map[string]any{"userName": "taken"}), 201)
		m := want(t, e.do(t, "POST", "/Bulk", bulk(0,
			bulkOp("POST", "/Users", "ann", map[string]any{"userName": "ann"}),
			// Refers to a later POST: it waits for it.
			bulkOp("POST", "/Groups", "early", map[string]any{"displayName": "Early",
				"members": []any{map[string]any{"value": "bulkId:cid"}}}),
			bulkOp("POST", "/Users", "bob", map[string]any{"userName": "bob"}),
			bulkOp("POST", "/Groups", "team", map[string]any{"displayName": "Team",
				"members": []any{map[string]any{"value": "bulkId:ann"}, map[string]any{"value": "bulkId:bob"}}}),
			bulkOp("PATCH", "/Groups/bulkId:team", "", patch(op("remove", `members[value eq "bulkId:bob"]`, nil))),
			bulkOp("POST", "/Users", "cid", map[string]any{"userName": "cid"}),
			bulkOp("POST", "/Users", "dup", map[string]any{"userName": "TAKEN"}),
			bulkOp("POST", "/Groups", "lost", map[string]any{"displayName": "Lost",
				"members": []any{map[string]any{"value": "bulkId:dup"}}}),
			bulkOp("POST", "/Groups", "ghost", map[string]any{"displayName": "Ghost",
				"members": []any{map[string]any{"value": "bulkId:nobody"}}}),
			bulkOp("PUT", "/Users/bulkId:bob", "", map[string]any{"userName": "bob", "title": "Builder"}),
			bulkOp("GET", "/Users", "", nil),
			bulkOp("POST", "/Users", "", map[string]any{"userName": "anonymous"}),
			bulkOp("PATCH", "/Users/bulkId:ann", "", nil),
		)), 200)
		res := results(t, m)
		if len(res) != 13 {
			t.Fatalf("%d results, want 13: %v", len(res), res)
		}
		ann, bob, cid := e.userID(t, "ann"), e.userID(t, "bob"), e.userID(t, "cid")
		if ann == "" || bob == "" || cid == "" {
			t.Fatalf("users ann %q bob %q cid %q", ann, bob, cid)
		}
		wantResult(t, res[0], "201", "")
		if res[0]["location"] != e.base+"/Users/"+ann || !strings.HasPrefix(res[0]["version"].(string), `W/"`) || res[0]["bulkId"] != "ann" || res[0]["method"] != "POST" {
			t.Errorf("result of ann: %v", res[0])
		}
		wantResult(t, res[1], "201", "")
		early := strings.TrimPrefix(res[1]["location"].(string), e.base+"/Groups/")
		if got := e.memberIDs(t, early); !slices.Equal(got, []string{cid}) {
			t.Errorf("Early members %v, want [%s]", got, cid)
		}
		wantResult(t, res[3], "201", "")
		team := strings.TrimPrefix(res[3]["location"].(string), e.base+"/Groups/")
		wantResult(t, res[4], "204", "")
		if res[4]["location"] != e.base+"/Groups/"+team || res[4]["version"] == nil {
			t.Errorf("PATCH result %v", res[4])
		}
		if got := e.memberIDs(t, team); !slices.Equal(got, []string{ann}) {
			t.Errorf("Team members %v, want [%s]", got, ann)
		}
		wantResult(t, res[6], "409", "uniqueness")
		if res[6]["location"] != nil || res[6]["version"] != nil {
			t.Errorf("a failed result has a location or version: %v", res[6])
		}
		wantResult(t, res[7], "409", "") // refers to the failed POST
		wantResult(t, res[8], "409", "") // refers to no bulkId of the request
		wantResult(t, res[9], "200", "")
		if u := want(t, e.do(t, "GET", "/Users/"+bob, nil), 200); u["title"] != "Builder" {
			t.Errorf("bob after PUT: %v", u)
		}
		wantResult(t, res[10], "400", "invalidValue") // GET is no bulk method
		wantResult(t, res[11], "400", "invalidValue") // POST needs a bulkId
		wantResult(t, res[12], "400", "invalidValue") // PATCH needs data
		if e.userID(t, "anonymous") != "" {
			t.Error("the POST without bulkId was carried out")
		}
		for _, name := range []string{"Lost", "Ghost"} {
			if g := want(t, e.do(t, "GET", "/Groups?filter="+url.QueryEscape(`displayName eq "`+name+`"`), nil), 200); g["totalResults"] != 0.0 {
				t.Errorf("group %s was created", name)
			}
		}

		// A version is an If-Match; DELETE answers with the location.
		etag := e.do(t, "GET", "/Users/"+cid, nil).Header.Get("ETag")
		res = results(t, want(t, e.do(t, "POST", "/Bulk", bulk(0,
			versioned(bulkOp("DELETE", "/Users/"+cid, "", nil), `W/"stale"`),
			versioned(bulkOp("PATCH", "/Users/"+cid, "", patch(op("replace", "title", "Chef"))), etag),
		)), 200))
		wantResult(t, res[0], "412", "")
		wantResult(t, res[1], "200", "")
		res = results(t, want(t, e.do(t, "POST", "/Bulk", bulk(0, bulkOp("DELETE", "/Groups/"+early, "", nil))), 200))
		wantResult(t, res[0], "204", "")
		if res[0]["location"] != e.base+"/Groups/"+early {
			t.Errorf("DELETE result %v", res[0])
		}
	})
}

// versioned sets the version (an If-Match) of a bulk operation.
func versioned(op map[string]any, version string) map[string]any {
	op["version"] = version
	return op
}

func TestBulkStopsAndRefuses(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		// failOnErrors: the run stops after that many errors.
		res := results(t, want(t, e.do(t, "POST", "/Bulk", bulk(2,
			bulkOp("POST", "/Users", "a", map[string]any{"userName": "a"}),
			bulkOp("POST", "/Users", "b", map[string]any{"userName": "A"}),
			bulkOp("POST", "/Users", "c", map[string]any{}),
			bulkOp("POST", "/Users", "d", map[string]any{"userName": "d"}),
		)), 200))
		if len(res) != 3 {
			t.Fatalf("%d results, want 3: %v", len(res), res)
		}
		wantResult(t, res[0], "201", "")
		wantResult(t, res[1], "409", "uniqueness")
		wantResult(t, res[2], "400", "invalidValue")
		if e.userID(t, "d") != "" {
			t.Error("an operation after failOnErrors was carried out")
		}

		// References in a cycle, or to itself, cannot be resolved.
		res = results(t, want(t, e.do(t, "POST", "/Bulk", bulk(0,
			bulkOp("POST", "/Groups", "x", map[string]any{"displayName": "X", "members": []any{map[string]any{"value": "bulkId:y"}}}),
			bulkOp("POST", "/Groups", "y", map[string]any{"displayName": "Y", "members": []any{map[string]any{"value": "bulkId:x"}}}),
			bulkOp("POST", "/Groups", "z", map[string]any{"displayName": "Z", "members": []any{map[string]any{"value": "bulkId:z"}}}),
		)), 200))
		for _, r := range res {
			wantResult(t, r, "409", "")
		}

		// Limits and malformed requests change nothing.
		var many []map[string]any
		for i := range 1001 {
			many = append(many, bulkOp("POST", "/Users", fmt.Sprint(i), map[string]any{"userName": fmt.Sprintf("many%d", i)}))
		}
		wantError(t, e.do(t, "POST", "/Bulk", bulk(0, many...)), 413, "")
		wantError(t, e.do(t, "POST", "/Bulk", bulk(0, bulkOp("POST", "/Users", "big",
			map[string]any{"userName": "big", "title": strings.Repeat("x", 1<<20)}))), 413, "")
		if e.userID(t, "many0") != "" || e.userID(t, "big") != "" {
			t.Error("a refused bulk request was carried out")
		}
		wantError(t, e.do(t, "POST", "/Bulk", map[string]any{"Operations": []any{}}), 400, "invalidValue")
		wantError(t, e.do(t, "POST", "/Bulk", "{"), 400, "invalidSyntax")
		wantError(t, e.do(t, "POST", "/Bulk", bulk(0,
			bulkOp("POST", "/Users", "same", map[string]any{"userName": "s1"}),
			bulkOp("POST", "/Users", "same", map[string]any{"userName": "s2"}))), 400, "invalidValue")
		wantError(t, e.do(t, "GET", "/Bulk", nil), 405, "")

		// Each operation needs the scope of its endpoint.
		usersOnly := e.node.Token(t, "scim:users:create")
		res = results(t, want(t, e.doAs(t, usersOnly, "POST", "/Bulk", bulk(0,
			bulkOp("POST", "/Users", "u", map[string]any{"userName": "scoped"}),
			bulkOp("POST", "/Groups", "g", map[string]any{"displayName": "Scoped"}),
			bulkOp("DELETE", "/Users/bulkId:u", "", nil),
		)), 200))
		wantResult(t, res[0], "201", "")
		wantResult(t, res[1], "403", "")
		wantResult(t, res[2], "403", "")
		if e.userID(t, "scoped") == "" {
			t.Error("the permitted operation was not carried out")
		}
		wantError(t, e.doAs(t, "", "POST", "/Bulk", bulk(0)), 401, "")
	})
}

func TestDeleteIfMatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		uid := want(t, e.do(t, "POST", "/Users", map[string]any{"userName": "m"}), 201)["id"].(string)
		gid := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "M",
			"members": []any{map[string]any{"value": uid}}}), 201)["id"].(string)
		for _, path := range []string{"/Groups/" + gid, "/Users/" + uid} {
			etag := e.do(t, "GET", path, nil).Header.Get("ETag")
			wantError(t, e.do(t, "DELETE", path, nil, "If-Match", `W/"stale"`), http.StatusPreconditionFailed, "")
			want(t, e.do(t, "GET", path, nil), 200)
			if path == "/Groups/"+gid {
				if got := e.memberIDs(t, gid); !slices.Equal(got, []string{uid}) {
					t.Errorf("members after 412: %v", got)
				}
			}
			want(t, e.do(t, "DELETE", path, nil, "If-Match", etag), http.StatusNoContent)
			wantError(t, e.do(t, "GET", path, nil), 404, "")
		}
	})
}

// TestRefusalsAreSCIMErrors checks that what the API refuses before a SCIM
// handler runs is answered in the SCIM error format too.
func TestRefusalsAreSCIMErrors(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		wantError(t, e.do(t, "GET", "", nil), 404, "")
		wantError(t, e.do(t, "GET", "/", nil), 404, "")

		// A token that cannot be checked (the database is gone) is a 500.
		if err := e.node.Store.Close(); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.do(t, "GET", "/Users", nil), 500, "")
	})
	for _, eng := range testenv.Engines() {
		t.Run("per-IP limit/"+eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.IPRate, cfg.IPBurst = 1, 2
			})
			e := &scimEnv{node: n, base: n.URL + "/v1/tenants/" + n.Creds().TenantID + "/realms/r/scim/v2"}
			for range 2 {
				want(t, e.doAs(t, "", "GET", "/ServiceProviderConfig", nil), 200)
			}
			res := e.doAs(t, "", "GET", "/ServiceProviderConfig", nil)
			wantError(t, res, 429, "")
			if res.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		})
	}
}

// TestGroupPatchKeepsUnnamedMembers: a PATCH that names members changes
// those and keeps every other one.
func TestGroupPatchKeepsUnnamedMembers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *scimEnv) {
		var ids []string
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			ids = append(ids, want(t, e.do(t, "POST", "/Users", map[string]any{"userName": n}), 201)["id"].(string))
		}
		a, b, c, d, x := ids[0], ids[1], ids[2], ids[3], ids[4]
		gid := want(t, e.do(t, "POST", "/Groups", map[string]any{"displayName": "K",
			"members": []any{map[string]any{"value": a}, map[string]any{"value": b}, map[string]any{"value": c}}}), 201)["id"].(string)
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(
			op("Remove", "members", []any{map[string]any{"value": a}}),
			op("add", "members", []any{map[string]any{"value": d, "display": "d"}, map[string]any{"value": b}}),
			op("remove", `members[value eq "`+b+`" or value eq "`+x+`"]`, nil),
		)), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, sorted(c, d)) {
			t.Errorf("members %v, want %v", got, sorted(c, d))
		}
		// Replacing the members needs all of them, and drops the others.
		want(t, e.do(t, "PATCH", "/Groups/"+gid, patch(op("replace", "members", []any{map[string]any{"value": a}}))), 204)
		if got := e.memberIDs(t, gid); !slices.Equal(got, []string{a}) {
			t.Errorf("members after replace %v, want [%s]", got, a)
		}
	})
}
