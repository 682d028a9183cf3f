package oidctest

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// provider is one node of one engine as the conformance suite and a
// relying party see it: a realm whose identity has a passkey in the
// browser, the relying party's web server, and the suite's static clients
// (each application of Latchkey is an issuer of its own).
type provider struct {
	node    *testenv.Node
	clock   *testenv.Clock
	api     string // {url}/v1/tenants/{t}
	token   string // a management token with every scope
	realm   string
	user    string // the identity's id
	email   string // and its e-mail, the login_hint configured for the suite
	browser context.Context
	rp      *webServer
}

// client is an application of the realm: one of the suite's static
// clients, or a relying party's.
type client struct {
	app, id, secret, issuer string
	redirectURI             string
	meta                    map[string]any // its discovery document
}

// startProvider starts a node over TLS (the suite insists on https) whose
// clock the test moves, binds a passkey for the realm's identity in
// headless Chromium, and allows everyone every application.
func startProvider(t *testing.T, engine string) *provider {
	t.Helper()
	clock := testenv.NewClock()
	n := testenv.StartNode(t, engine, func(cfg *server.Config) { nodeConfig(cfg, clock) })
	p := &provider{node: n, clock: clock, api: n.URL + "/v1/tenants/" + n.Creds().TenantID, token: n.Token(t, ""),
		email: "ada@example.com"}
	p.realm = p.str(t, p.call(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Conformance", "classification": "SECURE_CUSTOMER"}}), "id")
	p.user = p.str(t, p.call(t, "POST", "/realms/"+p.realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada Lovelace",
		"traits": map[string]any{"type": "traits_v0", "username": "ada", "primary_email_address": p.email}}}), "id")
	config := p.str(t, p.call(t, "POST", "/realms/"+p.realm+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
		"display_name": "Hosted", "config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}}}}}), "id")
	job := p.call(t, "POST", "/realms/"+p.realm+"/identities/"+p.user+"/credential-binding-jobs",
		map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config}})
	p.call(t, "PUT", "/realms/"+p.realm+"/policy", map[string]any{"default_effect": "allow", "rules": []any{}})

	p.browser = browsertest.Start(t)
	browsertest.AddAuthenticator(t, p.browser)
	browsertest.WithoutAutofill(t, p.browser) // the test presses the hosted page's button
	if err := chromedp.Do(p.browser, chromedp.Navigate(p.str(t, job, "credential_binding_link")), chromedp.Click(chromedp.ID("create"))); err != nil {
		t.Fatal(err)
	}
	if ok, page := browsertest.WaitFor(p.browser, `document.getElementById("status").className === "done"`, 30*time.Second); !ok {
		t.Fatalf("no passkey made; the page says %q", page)
	}
	p.rp = startWebServer(t)
	return p
}

// nodeConfig is how every node of these tests runs: over TLS, on the
// test's clock, quietly.
func nodeConfig(cfg *server.Config, clock *testenv.Clock) {
	cfg.TLSSelfSigned = true
	cfg.Clock = clock.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
}

// call sends a management API request and decodes its JSON answer; a
// status other than 200 fails the test.
func (p *provider) call(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, p.api+path, testenv.Body(t, body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	resp := do(t, p.node.HTTP, req)
	if resp.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Body)
	}
	if len(resp.Body) == 0 {
		return nil
	}
	return resp.JSON(t)
}

func (p *provider) str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%q is not a string in %v", key, m)
	}
	return s
}

// do sends a request and reads the whole answer.
func do(t testing.TB, hc *http.Client, req *http.Request) testenv.Response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// newClient registers a confidential OIDC application for the code and
// refresh grants, without PKCE required (the suite sends it in one module
// only), redirecting to the web server's callback, and reads its discovery.
func (p *provider) newClient(t testing.TB, name string, changes map[string]any) *client {
	t.Helper()
	redirect := p.rp.URL + "/callback"
	pc := map[string]any{"type": "oidc", "confidentiality": "confidential", "grant_type": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{redirect}, "pkce": "disabled", "token_configuration": map[string]any{"expires_after": 3600}}
	for k, v := range changes {
		pc[k] = v
	}
	a := p.call(t, "POST", "/realms/"+p.realm+"/applications", map[string]any{"application": map[string]any{"display_name": name, "protocol_config": pc}})
	out := a["protocol_config"].(map[string]any)
	c := &client{app: p.str(t, a, "id"), id: p.str(t, out, "client_id"), secret: p.str(t, out, "client_secret"), redirectURI: redirect}
	c.issuer = p.api + "/realms/" + p.realm + "/applications/" + c.app
	resp := p.get(t, c.issuer+"/.well-known/openid-configuration")
	if resp.Status != http.StatusOK {
		t.Fatalf("discovery of %s: %d %s", name, resp.Status, resp.Body)
	}
	c.meta = resp.JSON(t)
	return c
}

// patchClient changes an application's protocol_config.
func (p *provider) patchClient(t testing.TB, c *client, changes map[string]any) {
	t.Helper()
	p.call(t, "PATCH", "/realms/"+p.realm+"/applications/"+c.app, map[string]any{"application": map[string]any{"protocol_config": changes}})
}

func (p *provider) get(t testing.TB, u string) testenv.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, p.node.HTTP, req)
}

// postForm posts a form, with the client's credentials by HTTP Basic
// ("basic"), in the form ("post") or none (""), and a bearer token if any.
func (p *provider) postForm(t testing.TB, u string, form url.Values, c *client, auth, bearer string) testenv.Response {
	t.Helper()
	form = cloneValues(form)
	if auth == "post" {
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	}
	req, err := http.NewRequestWithContext(t.Context(), "POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth == "basic" {
		// RFC 6749 §2.3.1: form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, p.node.HTTP, req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// signOutBrowser forgets every cookie, as the suite asks the tester to
// before the modules that need a fresh sign-in.
func (p *provider) signOutBrowser(t testing.TB) {
	t.Helper()
	_, err := chromedp.Run(p.browser, func(ctx context.Context, tg *chromedp.Target) (struct{}, error) {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
		return struct{}{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hit is a request the browser (or the node) made to the web server.
type hit struct {
	Path   string
	Method string
	Query  url.Values
	Form   url.Values // of a POST
}

// webServer is the relying parties' side: the redirect URI (/callback,
// GET or form_post), the post-logout redirect URI, a page that POSTs a
// request to the authorization endpoint, request objects to fetch by
// request_uri, and a back-channel logout receiver. Browser visits are
// recorded in hits; back-channel logout tokens in logouts.
type webServer struct {
	URL     string
	hits    chan hit
	logouts chan hit
	mu      sync.Mutex
	objects map[string]string // request_uri path → request object
}

var autoPost = template.Must(template.New("post").Parse(`<!doctype html><form id="f" method="post" action="{{.Action}}">` +
	`{{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}</form>` +
	`<script>document.getElementById("f").submit()</script>`))

func startWebServer(t *testing.T) *webServer {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webServer{URL: "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), hits: make(chan hit, 8),
		logouts: make(chan hit, 64), objects: map[string]string{}}
	record := func(r *http.Request) hit {
		body, _ := io.ReadAll(r.Body)
		h := hit{Path: r.URL.Path, Method: r.Method, Query: r.URL.Query()}
		h.Form, _ = url.ParseQuery(string(body))
		return h
	}
	mux := http.NewServeMux()
	for _, path := range []string{"/callback", "/post_logout_redirect", "/other/callback"} {
		mux.HandleFunc(path, func(rw http.ResponseWriter, r *http.Request) {
			w.hits <- record(r)
			rw.Write([]byte("relying party: " + path))
		})
	}
	mux.HandleFunc("POST /backchannel", func(rw http.ResponseWriter, r *http.Request) {
		w.logouts <- record(r)
	})
	// /post?to=URL answers a page that POSTs URL's query to its path.
	mux.HandleFunc("GET /post", func(rw http.ResponseWriter, r *http.Request) {
		to, err := url.Parse(r.URL.Query().Get("to"))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		fields := to.Query()
		to.RawQuery = ""
		autoPost.Execute(rw, map[string]any{"Action": to.String(), "Fields": fields})
	})
	mux.HandleFunc("GET /request/", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		obj, ok := w.objects[r.URL.Path]
		w.mu.Unlock()
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		rw.Write([]byte(obj))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return w
}

// serveRequestObject serves a request object and returns its request_uri.
func (w *webServer) serveRequestObject(obj string) string {
	path := "/request/" + latchkey.RandomString(16)
	w.mu.Lock()
	w.objects[path] = obj
	w.mu.Unlock()
	return w.URL + path
}

// drain forgets the visits earlier modules left unread.
func (w *webServer) drain() {
	for {
		select {
		case <-w.hits:
		default:
			return
		}
	}
}

// visit is where the browser ended up after being sent to a URL of the
// node: at the web server (hit), or stopped on a page of the node (page,
// its text). ceremony says whether the hosted page asked for a passkey
// (and got it).
type visit struct {
	hit      *hit
	ceremony bool
	page     string
}

func (v visit) String() string {
	if v.hit != nil {
		return fmt.Sprintf("%s %s query %v form %v (ceremony %v)", v.hit.Method, v.hit.Path, v.hit.Query, v.hit.Form, v.ceremony)
	}
	return fmt.Sprintf("the node's page %q (ceremony %v)", v.page, v.ceremony)
}

// browse sends the browser to u (through a POSTed form when post is set)
// and follows it: a hosted sign-in page is signed with the passkey when
// sign is set (else the visit stops there), until the browser reaches the
// web server or rests on a page of a node.
func (p *provider) browse(t testing.TB, u string, post, sign bool) visit {
	t.Helper()
	p.rp.drain()
	to := u
	if post {
		to = p.rp.URL + "/post?to=" + url.QueryEscape(u)
	}
	if err := chromedp.Do(p.browser, chromedp.Navigate(to)); err != nil {
		t.Fatalf("navigate to %s: %v", u, err)
	}
	return p.follow(t, u, sign, pageState{})
}

// pageState is what the browser shows.
type pageState struct {
	Href   string `json:"href"`
	Ready  bool   `json:"ready"`
	SignIn bool   `json:"signin"`
	Status string `json:"status"`
	Text   string `json:"text"`
}

func (p *provider) page(t testing.TB) (pageState, error) {
	return chromedp.Run(p.browser, chromedp.Evaluate[pageState](`({href: location.href, ready: document.readyState === "complete",
		signin: document.getElementById("signin") !== null && document.getElementById("signin").offsetParent !== null,
		status: document.getElementById("status") ? document.getElementById("status").className : "",
		text: document.body ? document.body.innerText : ""})`))
}

// follow waits for the browser to reach the web server or to rest on a
// page of a node other than from (the page it was on): the same page for
// three polls, so that a page that moves on by itself (an auto-submitted
// form) is not taken for where it stops.
func (p *provider) follow(t testing.TB, u string, sign bool, from pageState) visit {
	t.Helper()
	var v visit
	var last pageState
	stable := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case h := <-p.rp.hits:
			v.hit = &h
			p.settle(t)
			return v
		case <-time.After(100 * time.Millisecond):
		}
		state, err := p.page(t)
		if err != nil || !state.Ready || !strings.HasPrefix(state.Href, "https://") || state == from {
			stable = 0
			continue // navigating (the nodes serve https, the web server http)
		}
		if state == last {
			stable++
		} else {
			last, stable = state, 0
		}
		switch {
		case state.SignIn && !v.ceremony && sign:
			if err := chromedp.Do(p.browser, chromedp.Click(chromedp.ID("signin"))); err != nil {
				t.Fatal(err)
			}
			v.ceremony = true
		case state.SignIn && !v.ceremony:
			v.ceremony, v.page = true, state.Text // asked for a passkey; not given
			return v
		case v.ceremony && state.Status == "error":
			v.page = state.Text
			return v
		case !v.ceremony && stable >= 3:
			v.page = state.Text
			return v
		}
	}
	_, page := browsertest.WaitFor(p.browser, "false", 0)
	t.Fatalf("the browser went nowhere from %s; it shows %q", u, page)
	return v
}

// settle waits until the browser has loaded the web server's page that
// the hit answered: a navigation started before would abort the next one.
func (p *provider) settle(t testing.TB) {
	t.Helper()
	js := `location.href.startsWith(` + strconv.Quote(p.rp.URL) + `) && document.readyState === "complete"`
	if ok, page := browsertest.WaitFor(p.browser, js, 10*time.Second); !ok {
		t.Fatalf("the browser did not load the web server's page; it shows %q", page)
	}
}

// confirm presses the first submit button of the page the browser rests
// on (a confirmation the OP asks, as a tester would press it) and follows
// where it leads; clicked is false when the page has none.
func (p *provider) confirm(t testing.TB) (v visit, clicked bool) {
	t.Helper()
	before, _ := p.page(t)
	found, err := chromedp.Run(p.browser, chromedp.Evaluate[bool](`(() => {
		const b = document.querySelector('form button[type=submit], form button:not([type]), form input[type=submit]');
		if (b) { b.click(); return true } return false })()`))
	if err != nil || !found {
		return visit{}, false
	}
	return p.follow(t, before.Href, false, before), true
}
