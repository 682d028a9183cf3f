package httpapi_test

// HTTP-level tests of the management API, and of internal/authenticator's
// endpoints and pages (op, signin, sdk, sdkauth, bindpage, token, keys…),
// which a test reaches through the management API's fixtures and which
// share these helpers: every test starts a real node (internal/testenv) on
// each storage engine and talks to it over HTTP only. This file holds the
// helpers the tests share.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// env is one running node with a token holding every scope.
type env struct {
	node *testenv.Node
	api  client // the tenant's API with an all-scopes token
}

// tenant, adminRealm and app are the bootstrap ids.
func (e *env) tenant() string     { return e.node.Creds().TenantID }
func (e *env) adminRealm() string { return e.node.Creds().RealmID }
func (e *env) app() string        { return e.node.Creds().ApplicationID }

// issuer is the management application's issuer URL.
// anotherNode starts a second node on e's database and data directory.
func (e *env) anotherNode(t *testing.T) *testenv.Node {
	return testenv.StartNodeWith(t, server.Config{DataDir: e.node.Config.DataDir, Database: e.node.Config.Database,
		Logger: slog.New(slog.DiscardHandler)}, nil)
}

func (e *env) issuer() string { return strings.TrimSuffix(e.node.Creds().TokenEndpoint, "/token") }

// forEachEngine runs test on a node of each engine, the engines in parallel.
// configure (may be nil) changes the node's configuration.
//
// Top-level tests call t.Parallel, except the rate-limit tests, which thus
// run first and alone: their buckets refill at one request per second, and
// the quick requests they send must not be slowed down by other tests.
func forEachEngine(t *testing.T, configure func(*server.Config), test func(t *testing.T, e *env)) {
	t.Helper()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				if configure != nil {
					configure(cfg)
				}
			})
			e := &env{node: n}
			e.api = client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			test(t, e)
		})
	}
}

// ---------------------------------------------------------------------------
// Requests

// send sends one request and reads the whole answer.
func send(t testing.TB, method, rawURL string, header http.Header, body io.Reader) testenv.Response {
	t.Helper()
	return sendWith(t, pooledHTTP, method, rawURL, header, body)
}

// pooledHTTP keeps enough idle connections for parallel clients
// (http.DefaultClient keeps two per host: the others would dial anew).
var pooledHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// sendWith is send through the client hc.
func sendWith(t testing.TB, hc *http.Client, method, rawURL string, header http.Header, body io.Reader) testenv.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// client calls the API of one tenant with one token.
type client struct {
	base   string // the node's URL
	tenant string
	token  string       // "" sends no Authorization header
	header http.Header  // sent with every request
	http   *http.Client // nil is http.DefaultClient
}

// withToken returns the client with another token.
func (c client) withToken(token string) client { c.token = token; return c }

// withHeader returns the client sending one more header.
func (c client) withHeader(k, v string) client {
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(k, v)
	c.header = h
	return c
}

// url is the URL of path, which is relative to /v1/tenants/{tenant}
// ("" is the tenant, "/realms" its realms).
func (c client) url(path string) string { return c.base + "/v1/tenants/" + c.tenant + path }

// do sends method to path with body: nil sends none, a string is sent as
// is, anything else as JSON.
func (c client) do(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	rd := testenv.Body(t, body)
	if rd != nil {
		h.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	return sendWith(t, hc, method, c.url(path), h, rd)
}

// ok sends the request and requires a 200 with a JSON object, which it returns.
func (c client) ok(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	resp := c.do(t, method, path, body)
	if resp.Status != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200: %s", method, path, resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp.JSON(t)
}

func (c client) get(t testing.TB, path string) map[string]any {
	t.Helper()
	return c.ok(t, "GET", path, nil)
}
func (c client) post(t testing.TB, path string, body any) map[string]any {
	t.Helper()
	return c.ok(t, "POST", path, body)
}
func (c client) patch(t testing.TB, path string, body any) map[string]any {
	t.Helper()
	return c.ok(t, "PATCH", path, body)
}

// del deletes path and requires the reference's 200 with an empty body.
func (c client) del(t testing.TB, path string) {
	t.Helper()
	assertEmpty200(t, c.do(t, "DELETE", path, nil))
}

// assertEmpty200 requires a 200 with an empty body (deletes, batch deletes).
func assertEmpty200(t testing.TB, resp testenv.Response) {
	t.Helper()
	if resp.Status != http.StatusOK || len(resp.Body) != 0 {
		t.Fatalf("status %d body %q, want 200 with an empty body", resp.Status, resp.Body)
	}
}

// list gets one page of a list with the query parameters (name, value, …).
func (c client) list(t testing.TB, path string, query ...string) map[string]any {
	t.Helper()
	return c.get(t, path+queryString(query...))
}

func queryString(query ...string) string {
	if len(query) == 0 {
		return ""
	}
	v := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		v.Add(query[i], query[i+1])
	}
	return "?" + v.Encode()
}

// listAll walks every page of a list and returns the items under key.
func (c client) listAll(t testing.TB, path, key string, query ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	page := c.list(t, path, query...)
	for i := 0; ; i++ {
		out = append(out, items(t, page, key)...)
		next, ok := page["next_page_token"].(string)
		if !ok || next == "" {
			return out
		}
		if i > 1000 {
			t.Fatal("more than 1000 pages")
		}
		page = c.list(t, path, "page_token", next)
	}
}

// ---------------------------------------------------------------------------
// Decoded JSON

// items returns the array of objects under key.
func items(t testing.TB, m map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%q is not an array in %v", key, m)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		if out[i], ok = v.(map[string]any); !ok {
			t.Fatalf("%s[%d] is not an object: %v", key, i, v)
		}
	}
	return out
}

// ids returns the "id" of each object.
func ids(objs []map[string]any) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i], _ = o["id"].(string)
	}
	return out
}

// str returns a string field, failing when it is missing or not a string.
func str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%q is not a string in %v", key, m)
	}
	return s
}

// num returns a number field as an int.
func num(t testing.TB, m map[string]any, key string) int {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q is not a number in %v", key, m)
	}
	return int(f)
}

// obj returns an object field.
func obj(t testing.TB, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not an object in %v", key, m)
	}
	return o
}

// keys returns the sorted keys of m.
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// assertKeys requires m to have exactly the keys want.
func assertKeys(t testing.TB, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

// assertSameSet requires got and want to hold the same strings, in any order.
func assertSameSet(t testing.TB, what string, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %v, want %v", what, g, w)
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// assertHexID requires a resource id: 16 lowercase hex digits.
func assertHexID(t testing.TB, id string) {
	t.Helper()
	if !hexID.MatchString(id) {
		t.Errorf("id %q is not 16 lowercase hex digits", id)
	}
}

// assertTime requires an RFC 3339 UTC ("Z") timestamp and returns it.
func assertTime(t testing.TB, m map[string]any, key string) time.Time {
	t.Helper()
	s := str(t, m, key)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Errorf("%s %q is not an RFC 3339 UTC time (%v)", key, s, err)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Hour {
		t.Errorf("%s %s is not about now", key, s)
	}
	return ts
}

// ---------------------------------------------------------------------------
// Errors

// assertError requires an API error with the status, code and message, and
// returns its body for further checks on details.
func assertError(t testing.TB, resp testenv.Response, status int, code, message string) map[string]any {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s", resp.Status, status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	body := resp.JSON(t)
	if body["code"] != code || body["message"] != message {
		t.Errorf("error %v %v, want %q %q (body %s)", body["code"], body["message"], code, message, resp.Body)
	}
	return body
}

// assertBareError requires exactly {"code":code,"message":message}, as the
// reference's 401 and 403 are.
func assertBareError(t testing.TB, resp testenv.Response, status int, code, message string) {
	t.Helper()
	body := assertError(t, resp, status, code, message)
	assertKeys(t, body, "code", "message")
}

// detail returns the one detail of the error body, requiring its type.
func detail(t testing.TB, body map[string]any, typ string) map[string]any {
	t.Helper()
	ds := items(t, body, "details")
	if len(ds) != 1 {
		t.Fatalf("details %v, want one", ds)
	}
	if ds[0]["type"] != typ {
		t.Fatalf("detail type %v, want %s", ds[0]["type"], typ)
	}
	return ds[0]
}

// assertInvalid requires a 400 "invalid parameters" whose only violation
// is on field; a description ending in "…" matches as a prefix, "" matches any.
func assertInvalid(t testing.TB, resp testenv.Response, field, description string) {
	t.Helper()
	body := assertError(t, resp, http.StatusBadRequest, "bad_request", "invalid parameters")
	fvs := items(t, detail(t, body, "FieldViolations"), "field_violations")
	if len(fvs) != 1 {
		t.Fatalf("field violations %v, want one on %s", fvs, field)
	}
	assertKeys(t, fvs[0], "field", "description")
	if fvs[0]["field"] != field {
		t.Errorf("violation on %v, want %s (%v)", fvs[0]["field"], field, fvs[0]["description"])
	}
	got, _ := fvs[0]["description"].(string)
	switch {
	case description == "":
		if got == "" {
			t.Errorf("violation on %s has no description", field)
		}
	case strings.HasSuffix(description, "…"):
		if !strings.HasPrefix(got, strings.TrimSuffix(description, "…")) {
			t.Errorf("violation on %s: %q, want %q", field, got, description)
		}
	case got != description:
		t.Errorf("violation on %s: %q, want %q", field, got, description)
	}
}

// assertNotFound requires the 404 of one missing resource with its ResourceInfo.
func assertNotFound(t testing.TB, resp testenv.Response, resourceType, id, message string) {
	t.Helper()
	body := assertError(t, resp, http.StatusNotFound, "not_found", message)
	d := detail(t, body, "ResourceInfo")
	want := map[string]any{"type": "ResourceInfo", "resource_type": resourceType, "id": id, "description": message}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("detail %v, want %v", d, want)
	}
}

// assertBatchNotFound requires the 404 of an all-or-nothing batch naming
// the missing ids, with the reference's capitalised inner keys.
func assertBatchNotFound(t testing.TB, resp testenv.Response, resourceType, message string, missing []string) {
	t.Helper()
	body := assertError(t, resp, http.StatusNotFound, "not_found", message)
	d := detail(t, body, "BatchOperationErrors")
	if d["description"] != "errors encountered performing batch operation" {
		t.Errorf("description %v", d["description"])
	}
	errs := items(t, d, "errors")
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	assertKeys(t, errs[0], "Description", "IDs", "ResourceType")
	if errs[0]["Description"] != message || errs[0]["ResourceType"] != resourceType {
		t.Errorf("batch error %v", errs[0])
	}
	var got []string
	for _, id := range errs[0]["IDs"].([]any) {
		got = append(got, id.(string))
	}
	assertSameSet(t, "missing ids", got, missing)
}

// ---------------------------------------------------------------------------
// Fixtures

// newRealm creates a realm and returns its id.
func newRealm(t testing.TB, c client, name string) string {
	t.Helper()
	r := c.post(t, "/realms", map[string]any{"realm": map[string]any{"display_name": name, "classification": "SECURE_CUSTOMER"}})
	return str(t, r, "id")
}

// newIdentity creates an identity with the username and extra traits
// (name, value, …) and returns it.
func newIdentity(t testing.TB, c client, realm, username string, traits ...string) map[string]any {
	t.Helper()
	tr := map[string]any{"type": "traits_v0", "username": username}
	for i := 0; i+1 < len(traits); i += 2 {
		tr[traits[i]] = traits[i+1]
	}
	return c.post(t, "/realms/"+realm+"/identities",
		map[string]any{"identity": map[string]any{"display_name": "Identity " + username, "traits": tr}})
}

// newGroup creates a group and returns its id.
func newGroup(t testing.TB, c client, realm, name string) string {
	t.Helper()
	g := c.post(t, "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": name, "description": "Group " + name}})
	return str(t, g, "id")
}
