package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/chromedp/chromedp"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// samlProviders are the SAML SSO configs of a test node, as the SSO
// configs' service will serve them: one SP per config id, and who may
// sign in to each.
type samlProviders struct {
	mu      sync.Mutex
	sps     map[string]saml.ServiceProvider
	allowed map[string]map[string]bool // config id → identity ids
}

func newSAMLProviders() *samlProviders {
	return &samlProviders{sps: map[string]saml.ServiceProvider{}, allowed: map[string]map[string]bool{}}
}

func (p *samlProviders) ServiceProvider(_ context.Context, _, _, id string) (saml.ServiceProvider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp, ok := p.sps[id]
	if !ok {
		return sp, latchkey.ErrNotFound
	}
	return sp, nil
}

func (p *samlProviders) Allowed(_ context.Context, _, _, id string, i directory.Identity) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allowed[id][i.ID], nil
}

func (p *samlProviders) add(id string, sp saml.ServiceProvider, allowed ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sps[id] = sp
	p.allowed[id] = map[string]bool{}
	for _, a := range allowed {
		p.allowed[id][a] = true
	}
}

// spKeyPair is a service provider's RSA key and self-signed certificate.
func spKeyPair(t testing.TB) (*rsa.PrivateKey, *x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Test SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fetchIdPMetadata reads a config's IdP metadata from the node, as an SP
// administrator downloads it.
func fetchIdPMetadata(t testing.TB, n *testenv.Node, path string) *crewsaml.EntityDescriptor {
	t.Helper()
	resp, err := n.HTTP.Get(n.URL + path + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	var md crewsaml.EntityDescriptor
	if err := xml.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	return &md
}

// samlApp is a real Go service provider (crewjam/saml's samlsp) on
// localhost, registered as an SSO config of the realm: /hello needs a
// SAML sign-in and says who signed in; /logout starts Single Logout.
type samlApp struct {
	URL, configID, path string
	mw                  *samlsp.Middleware
}

func startSAMLApp(t *testing.T, n *testenv.Node, providers *samlProviders, realm string, binding string, change func(*saml.ServiceProvider), allowed ...string) *samlApp {
	t.Helper()
	ln, base := testenv.Listen(t)
	key, cert, certPEM := spKeyPair(t)
	app := &samlApp{URL: base, configID: latchkey.NewUUID()}
	app.path = saml.Path(n.Creds().TenantID, realm, app.configID)
	sp := saml.ServiceProvider{DisplayName: "Test SP " + binding, EntityID: base + "/saml/metadata", ACSURL: base + "/saml/acs",
		SignEnvelope: true, SignAssertions: true, SigningCertificates: []string{certPEM}, EncryptionCertificate: certPEM,
		EnableSingleLogout: true, SingleLogoutURL: base + "/saml/slo",
		Attributes: []saml.Attribute{{Name: "email", Value: "email"}, {Name: "groups", Value: "groups"}}}
	if change != nil {
		change(&sp)
	}
	providers.add(app.configID, sp, allowed...)
	app.serve(t, n, ln, key, cert, binding)
	return app
}

// serve serves app on ln: samlsp signing in through the IdP at app.path
// with binding, with the SP's key and cert.
func (app *samlApp) serve(t *testing.T, n *testenv.Node, ln net.Listener, key *rsa.PrivateKey, cert *x509.Certificate, binding string) {
	t.Helper()
	u, _ := url.Parse(app.URL)
	var err error
	app.mw, err = samlsp.New(samlsp.Options{URL: *u, Key: key, Certificate: cert, IDPMetadata: fetchIdPMetadata(t, n, app.path),
		SignRequest: true, SignLogout: true, AllowIDPInitiated: true, DefaultRedirectURI: "/hello", Binding: binding,
		EncryptionKey: key, EncryptionCertificate: cert,
		// Cookies do not tell localhost's ports apart: each app its own.
		CookieName: "token" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/saml/", app.mw)
	mux.Handle("/hello", app.mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims)
		fmt.Fprintf(w, "<html><body><p id=hello>hello %s %s %s</p></body></html>", s.Subject,
			samlsp.AttributeFromContext(r.Context(), "email"), strings.Join(s.Attributes["groups"], ","))
	})))
	mux.HandleFunc("/logout", app.mw.HandleStartLogout)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<html><body><p id=home>home</p></body></html>")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// hello waits for the app's /hello page and returns what it says.
func hello(t *testing.T, ctx context.Context, what string) string {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("hello") !== null`, 30*time.Second); !ok {
		t.Fatalf("%s: the app does not say hello; the browser shows %q", what, page)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("hello")))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// samlRealm starts a node of the engine whose SAML SSO configs are
// providers, and a browser; in a realm, ada (ada@example.com, of the group
// Engineers) binds a passkey on the hosted page.
func samlRealm(t *testing.T, engine string) (n *testenv.Node, c client, ctx context.Context, providers *samlProviders, realm, ada string) {
	t.Helper()
	providers = newSAMLProviders()
	n = testenv.StartNode(t, engine, func(cfg *server.Config) {
		cfg.Logger, cfg.ServiceProviders = slog.New(slog.DiscardHandler), providers
	})
	c = client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
	ctx, realm, ada = adaWithPasskey(t, c, "Pets")
	browsertest.WithoutAutofill(t, ctx) // the tests press the hosted page's button
	return n, c, ctx, providers, realm, ada
}

// signInOnHostedPage waits for the hosted sign-in page and signs in with the passkey.
func signInOnHostedPage(t *testing.T, ctx context.Context) {
	t.Helper()
	if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 30*time.Second); !ok {
		t.Fatalf("no hosted sign-in page; the browser shows %q", page)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
}

// TestSAMLWithSamlsp: real Go service providers (crewjam/saml's samlsp)
// sign a user in through Latchkey's SAML IdP with a passkey on the hosted
// page in Chromium: SP-initiated with signed AuthnRequests over
// HTTP-Redirect (signed Response and assertion), then another SP over
// HTTP-POST with encrypted assertions, without a new ceremony (the
// browser's session); IdP-initiated; Single Logout from an SP ends the
// session, so the next sign-in needs the passkey again; policy refusing
// an identity sends the SP a Response without an assertion.
func TestSAMLWithSamlsp(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n, c, ctx, providers, realm, ada := samlRealm(t, eng.Name)
			wiki := startSAMLApp(t, n, providers, realm, crewsaml.HTTPRedirectBinding,
				func(sp *saml.ServiceProvider) { sp.ValidateSignedRequests = true }, ada)
			mail := startSAMLApp(t, n, providers, realm, crewsaml.HTTPPostBinding,
				func(sp *saml.ServiceProvider) { sp.EncryptAssertions, sp.SignEnvelope = true, false }, ada)
			payroll := startSAMLApp(t, n, providers, realm, crewsaml.HTTPRedirectBinding, nil) // no one may use it

			// SP-initiated, HTTP-Redirect: the hosted page, a passkey.
			navigate(t, ctx, wiki.URL+"/hello", "true")
			signInOnHostedPage(t, ctx)
			if got := hello(t, ctx, "the wiki"); got != "hello ada ada@example.com Engineers" {
				t.Errorf("the wiki says %q", got)
			}
			// SP-initiated, HTTP-POST, encrypted: the session, no ceremony.
			navigate(t, ctx, mail.URL+"/hello", "true")
			if got := hello(t, ctx, "the mail app"); got != "hello ada ada@example.com Engineers" {
				t.Errorf("the mail app says %q", got)
			}
			// IdP-initiated (the app portal's launch).
			navigate(t, ctx, n.URL+mail.path+"/idp-initiated?RelayState=/hello", "true")
			if got := hello(t, ctx, "IdP-initiated"); !strings.HasPrefix(got, "hello ada") {
				t.Errorf("IdP-initiated: the mail app says %q", got)
			}
			// Policy: the payroll SP gets a Response without an assertion.
			navigate(t, ctx, payroll.URL+"/hello", "true")
			if ok, page := browsertest.WaitFor(ctx, `document.body && document.body.innerText.includes("Forbidden")`, 30*time.Second); !ok {
				t.Errorf("payroll, which policy refuses: the browser shows %q", page)
			}
			// Single Logout from the wiki (signed LogoutRequest, HTTP-Redirect).
			navigate(t, ctx, wiki.URL+"/logout", "true")
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("home") !== null`, 30*time.Second); !ok {
				t.Fatalf("Single Logout does not come back to the wiki; the browser shows %q", page)
			}
			if sessions := c.get(t, "/realms/"+realm+"/identities/"+ada+"/sessions"); len(sessions["sessions"].([]any)) != 0 {
				t.Errorf("sessions after Single Logout: %v", sessions)
			}
			// The next sign-in needs the passkey again.
			navigate(t, ctx, n.URL+wiki.path+"/idp-initiated", "true")
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 30*time.Second); !ok {
				t.Fatalf("after Single Logout, no sign-in page; the browser shows %q", page)
			}
		})
	}
}

// nodeSAMLDir holds the npm project of @node-saml/node-saml; .ci/run (or
// `npm ci --prefix internal/httpapi/testdata/saml-sp`) installs it.
const nodeSAMLDir = "testdata/saml-sp"

// nodeSAMLApp is testdata/saml-sp/sp.mjs, a web app on @node-saml/node-saml,
// registered as an SSO config of the realm with its settings changed by change.
func startNodeSAMLApp(t *testing.T, n *testenv.Node, providers *samlProviders, realm string, change func(*saml.ServiceProvider), allowed ...string) *samlApp {
	t.Helper()
	in, read := testenv.StartNodeJS(t, nodeSAMLDir, "sp.mjs", filepath.Join("@node-saml", "node-saml"))
	base := read()["url"].(string)
	key, _, certPEM := spKeyPair(t)
	app := &samlApp{URL: base, configID: latchkey.NewUUID()}
	app.path = saml.Path(n.Creds().TenantID, realm, app.configID)
	sp := saml.ServiceProvider{DisplayName: "Node SP", EntityID: base + "/metadata", ACSURL: base + "/acs",
		SignEnvelope: true, SignAssertions: true, SigningCertificates: []string{certPEM}, EncryptionCertificate: certPEM,
		EnableSingleLogout: true, SingleLogoutURL: base + "/slo", Attributes: []saml.Attribute{{Name: "email", Value: "email"}}}
	if change != nil {
		change(&sp)
	}
	providers.add(app.configID, sp, allowed...)
	md := fetchIdPMetadata(t, n, app.path)
	var idpCerts []string
	for _, kd := range md.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "signing" {
			idpCerts = append(idpCerts, kd.KeyInfo.X509Data.X509Certificates[0].Data)
		}
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	options, _ := json.Marshal(map[string]any{"entryPoint": n.URL + app.path + "/sso", "logoutUrl": n.URL + app.path + "/slo",
		"idpIssuer": md.EntityID, "idpCert": idpCerts, "privateKey": keyPEM, "decryptionPvk": keyPEM})
	if _, err := in.Write(append(options, '\n')); err != nil {
		t.Fatal(err)
	}
	if read()["ready"] != true {
		t.Fatal("sp.mjs is not ready")
	}
	return app
}

// TestSAMLWithNodeSAML: a web app on @node-saml/node-saml (the library
// behind passport-saml) signs a user in through Latchkey's SAML IdP with a
// passkey on the hosted page in Chromium: SP-initiated, its AuthnRequest
// signed (and required to be), the Response and assertion signed and the
// assertion encrypted; IdP-initiated with the session; Single Logout from
// the app ends the session.
func TestSAMLWithNodeSAML(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n, c, ctx, providers, realm, ada := samlRealm(t, eng.Name)
			app := startNodeSAMLApp(t, n, providers, realm, func(sp *saml.ServiceProvider) {
				sp.ValidateSignedRequests, sp.EncryptAssertions = true, true
			}, ada)

			navigate(t, ctx, app.URL+"/login", "true")
			signInOnHostedPage(t, ctx)
			if got := hello(t, ctx, "SP-initiated"); got != "hello ada ada@example.com" {
				t.Errorf("the app says %q", got)
			}
			navigate(t, ctx, n.URL+app.path+"/idp-initiated", "true")
			if got := hello(t, ctx, "IdP-initiated"); got != "hello ada ada@example.com" {
				t.Errorf("IdP-initiated: the app says %q", got)
			}
			navigate(t, ctx, app.URL+"/logout", "true")
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("home") !== null`, 30*time.Second); !ok {
				t.Fatalf("Single Logout: the browser shows %q", page)
			}
			if text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("home"))); text != "logged out" {
				t.Errorf("Single Logout: the app says %q", text)
			}
			if sessions := c.get(t, "/realms/"+realm+"/identities/"+ada+"/sessions"); len(sessions["sessions"].([]any)) != 0 {
				t.Errorf("sessions after Single Logout: %v", sessions)
			}
		})
	}
}

// TestSAMLBadRequests: what the SAML endpoints refuse, over HTTP, with a
// clear 4xx: an AuthnRequest unsigned or signed by another key when the SP
// requires signatures, one naming an ACS URL that is not the SP's, one
// replayed, XML with a DTD and entity expansion, a config that is not a
// SAML SP, a pending sign-in continued or finished under another realm.
func TestSAMLBadRequests(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			providers := newSAMLProviders()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.ServiceProviders = slog.New(slog.DiscardHandler), providers
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			realm, other := newRealm(t, c, "Pets"), newRealm(t, c, "Other")
			key, cert, certPEM := spKeyPair(t)
			configID := latchkey.NewUUID()
			path := saml.Path(c.tenant, realm, configID)
			providers.add(configID, saml.ServiceProvider{DisplayName: "Wiki", EntityID: "https://wiki.example/saml/metadata",
				ACSURL: "https://wiki.example/saml/acs", SignEnvelope: true, SigningCertificates: []string{certPEM}, ValidateSignedRequests: true})
			acs, _ := url.Parse("https://wiki.example/saml/acs")
			sp := &crewsaml.ServiceProvider{EntityID: "https://wiki.example/saml/metadata", Key: key, Certificate: cert, AcsURL: *acs,
				IDPMetadata: fetchIdPMetadata(t, n, path), SignatureMethod: dsig.RSASHA256SignatureMethod}
			noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(u string) (int, string) {
				t.Helper()
				resp, err := noRedirects.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			request := func(sp *crewsaml.ServiceProvider, change func(*crewsaml.AuthnRequest)) string {
				t.Helper()
				req, err := sp.MakeAuthenticationRequest(n.URL+path+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
				if err != nil {
					t.Fatal(err)
				}
				if change != nil {
					change(req)
				}
				u, err := req.Redirect("rs", sp)
				if err != nil {
					t.Fatal(err)
				}
				return u.String()
			}
			refused := func(what string, status int, body string, contains string) {
				t.Helper()
				if status != http.StatusBadRequest || !strings.Contains(body, contains) {
					t.Errorf("%s: %d %.300s, want 400 saying %q", what, status, body, contains)
				}
			}

			signed := request(sp, nil)
			status, body := get(signed)
			if status != http.StatusOK || !strings.Contains(body, `id="signin"`) {
				t.Fatalf("a signed request: %d %.300s, want the sign-in page", status, body)
			}
			status, body = get(signed)
			refused("the same request again", status, body, "used already")

			unsigned := *sp
			unsigned.SignatureMethod = ""
			status, body = get(request(&unsigned, nil))
			refused("an unsigned request", status, body, "signed")
			otherKey, otherCert, _ := spKeyPair(t)
			forged := *sp
			forged.Key, forged.Certificate = otherKey, otherCert
			status, body = get(request(&forged, nil))
			refused("a request signed by another key", status, body, "refused")
			status, body = get(request(sp, func(r *crewsaml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example/acs" }))
			refused("another ACS URL", status, body, "assertion consumer service")

			dtd := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` +
				`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0">&b;</samlp:AuthnRequest>`
			resp, err := noRedirects.PostForm(n.URL+path+"/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(dtd))}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			refused("a DTD", resp.StatusCode, string(b), "DTD")

			if status, _ := get(n.URL + saml.Path(c.tenant, realm, "no-such-config") + "/metadata"); status != http.StatusNotFound {
				t.Errorf("metadata of a config that is not an SP: %d", status)
			}
			if status, _ := get(n.URL + saml.Path(c.tenant, realm, "no-such-config") + "/idp-initiated"); status != http.StatusNotFound {
				t.Errorf("IdP-initiated to a config that is not an SP: %d", status)
			}

			// A pending sign-in, under another realm's path.
			resp, err = noRedirects.PostForm(n.URL+path+"/sso", url.Values{"SAMLRequest": {postedRequest(t, sp, n.URL+path+"/sso")}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			to, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || to.Path != path+"/continue" {
				t.Fatalf("a posted request: %d to %s, want 303 to continue", resp.StatusCode, to)
			}
			pending := to.Query().Get("request")
			status, body = get(n.URL + saml.Path(c.tenant, other, configID) + "/continue?request=" + pending)
			refused("continued under another realm", status, body, "unknown")
			answer := c.withToken("").do(t, "POST", "/realms/"+other+"/sso-configs/"+configID+"/saml/signin",
				map[string]any{"request": pending, "credential": map[string]any{}})
			if answer.Status != http.StatusBadRequest {
				t.Errorf("signed in under another realm: %d %s", answer.Status, answer.Body)
			}
			if status, body = get(n.URL + to.String()); status != http.StatusOK || !strings.Contains(body, `id="signin"`) {
				t.Errorf("continued under its realm: %d %.300s", status, body)
			}
		})
	}
}

// postedRequest is an AuthnRequest of sp (signed if sp signs) for the HTTP-POST binding,
// base64 as the form carries it.
func postedRequest(t *testing.T, sp *crewsaml.ServiceProvider, sso string) string {
	t.Helper()
	req, err := sp.MakeAuthenticationRequest(sso, crewsaml.HTTPPostBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument() // signed by MakeAuthenticationRequest
	doc.SetRoot(req.Element())
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
