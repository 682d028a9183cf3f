package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// env is a console served over a real node's services, with a browser-like
// client (cookies, no redirects followed) signed in by a session cookie
// that holds a real management token.
type env struct {
	node    *testenv.Node
	console *console.Console
	url     string
	hc      *http.Client
	csrf    string
}

func (e *env) tenant() string { return e.node.Creds().TenantID }
func (e *env) admin() string  { return e.node.Creds().RealmID }

// forEachEngine runs test on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, test func(t *testing.T, e *env)) { forEachEngineWith(t, nil, test) }

// forEachEngineWith is forEachEngine with the nodes' configuration changed
// by configure.
func forEachEngineWith(t *testing.T, configure func(*server.Config), test func(t *testing.T, e *env)) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			test(t, startWith(t, engine.Name, "", configure))
		})
	}
}

// start serves a console over a node of engine, signed in with a token of
// the scopes given ("" = all).
func start(t testing.TB, engine, scopes string) *env { return startWith(t, engine, scopes, nil) }

// startWith is start with the node's configuration changed by configure.
func startWith(t testing.TB, engine, scopes string, configure func(*server.Config)) *env {
	n := testenv.StartNode(t, engine, configure)
	creds := n.Creds()
	c := &console.Console{Directory: n.Directory, OAuth: n.OAuth, Passkeys: n.Passkeys, Policy: policy.NewService(n.Store.Policy()),
		Mail: n.Mail, Provisioning: n.Provisioning, Events: n.Store.Audit(), Webhooks: n.Webhooks, SSO: n.SSO, Box: n.OAuth.Box(),
		Client:     console.Client{TenantID: creds.TenantID, RealmID: creds.RealmID, ApplicationID: creds.ApplicationID},
		Management: console.Management{ApplicationID: creds.ApplicationID}}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	c.PublicURL = srv.URL
	e := &env{node: n, console: c, url: srv.URL}
	e.signIn(t, n.Token(t, scopes))
	return e
}

// signIn gives the client a session holding token, as the sign-in callback
// would, and learns its CSRF token from a page.
func (e *env) signIn(t testing.TB, token string) {
	jar, _ := cookiejar.New(nil)
	e.hc = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u, _ := url.Parse(e.url + console.Prefix)
	jar.SetCookies(u, console.SessionCookie(e.console, token))
	page := e.get(t, "/console/realms")
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.body); m != nil {
		e.csrf = m[1]
	}
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (e *env) do(t testing.TB, req *http.Request) page {
	t.Helper()
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (e *env) get(t testing.TB, path string) page {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	return e.do(t, req)
}

// post submits a form with the session's CSRF token (unless the values set
// their own), as the page's form would.
func (e *env) post(t testing.TB, path string, values url.Values) page {
	t.Helper()
	if !values.Has("csrf") {
		values.Set("csrf", e.csrf)
	}
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.url)
	return e.do(t, req)
}

// follow posts and then loads the page the answer redirects to.
func (e *env) follow(t testing.TB, path string, values url.Values) page {
	t.Helper()
	p := e.post(t, path, values)
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST %s: %d, want 303; body: %s", path, p.status, excerpt(p.body))
	}
	return e.get(t, p.location)
}

func excerpt(s string) string {
	if i := strings.Index(s, `<main`); i >= 0 {
		s = s[i:]
	}
	if len(s) > 1500 {
		s = s[:1500]
	}
	return s
}

// api calls the management API with an all-scopes token; an empty answer is nil.
func (e *env) api(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	r := testenv.Do(t, method, e.node.URL+"/v1/tenants/"+e.tenant()+path, e.node.Token(t, ""), body)
	if r.Status >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	if len(r.Body) == 0 { // a DELETE
		return nil
	}
	return r.JSON(t)
}

// wantStatus fails unless p has status and contains every one of texts.
func wantPage(t testing.TB, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body: %s", p.status, status, excerpt(p.body))
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q; body: %s", s, excerpt(p.body))
		}
	}
}

func cookiejarNew() (http.CookieJar, error) { return cookiejar.New(nil) }
