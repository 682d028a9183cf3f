package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

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
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
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
	u, _ := url.Parse(base)
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
	return app
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
			providers := newSAMLProviders()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.ServiceProviders = slog.New(slog.DiscardHandler), providers
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			ctx := browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)
			realm := newRealm(t, c, "Pets")
			config := hostedConfig(t, c, realm)
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			group := newGroup(t, c, realm, "Engineers")
			c.ok(t, "POST", "/realms/"+realm+"/groups/"+group+":addMembers", map[string]any{"identity_ids": []string{ada}})
			bindOnHostedPage(t, ctx, newBinding(t, c, realm, ada, config).link)

			wiki := startSAMLApp(t, n, providers, realm, crewsaml.HTTPRedirectBinding,
				func(sp *saml.ServiceProvider) { sp.ValidateSignedRequests = true }, ada)
			mail := startSAMLApp(t, n, providers, realm, crewsaml.HTTPPostBinding,
				func(sp *saml.ServiceProvider) { sp.EncryptAssertions, sp.SignEnvelope = true, false }, ada)
			payroll := startSAMLApp(t, n, providers, realm, crewsaml.HTTPRedirectBinding, nil) // no one may use it

			// SP-initiated, HTTP-Redirect: the hosted page, a passkey.
			if err := chromedp.Do(ctx, chromedp.Navigate(wiki.URL+"/hello")); err != nil {
				t.Fatal(err)
			}
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 30*time.Second); !ok {
				t.Fatalf("no hosted sign-in page; the browser shows %q", page)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
				t.Fatal(err)
			}
			if got := hello(t, ctx, "the wiki"); got != "hello ada ada@example.com Engineers" {
				t.Errorf("the wiki says %q", got)
			}
			// SP-initiated, HTTP-POST, encrypted: the session, no ceremony.
			if err := chromedp.Do(ctx, chromedp.Navigate(mail.URL+"/hello")); err != nil {
				t.Fatal(err)
			}
			if got := hello(t, ctx, "the mail app"); got != "hello ada ada@example.com Engineers" {
				t.Errorf("the mail app says %q", got)
			}
			// IdP-initiated (the app portal's launch).
			if err := chromedp.Do(ctx, chromedp.Navigate(n.URL+mail.path+"/idp-initiated?RelayState=/hello")); err != nil {
				t.Fatal(err)
			}
			if got := hello(t, ctx, "IdP-initiated"); !strings.HasPrefix(got, "hello ada") {
				t.Errorf("IdP-initiated: the mail app says %q", got)
			}
			// Policy: the payroll SP gets a Response without an assertion.
			if err := chromedp.Do(ctx, chromedp.Navigate(payroll.URL+"/hello")); err != nil {
				t.Fatal(err)
			}
			if ok, page := browsertest.WaitFor(ctx, `document.body && document.body.innerText.includes("Forbidden")`, 30*time.Second); !ok {
				t.Errorf("payroll, which policy refuses: the browser shows %q", page)
			}
			// Single Logout from the wiki (signed LogoutRequest, HTTP-Redirect).
			if err := chromedp.Do(ctx, chromedp.Navigate(wiki.URL+"/logout")); err != nil {
				t.Fatal(err)
			}
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("home") !== null`, 30*time.Second); !ok {
				t.Fatalf("Single Logout does not come back to the wiki; the browser shows %q", page)
			}
			if sessions := c.get(t, "/realms/"+realm+"/identities/"+ada+"/sessions"); len(sessions["sessions"].([]any)) != 0 {
				t.Errorf("sessions after Single Logout: %v", sessions)
			}
			// The next sign-in needs the passkey again.
			if err := chromedp.Do(ctx, chromedp.Navigate(n.URL+wiki.path+"/idp-initiated")); err != nil {
				t.Fatal(err)
			}
			if ok, page := browsertest.WaitFor(ctx, `document.getElementById("signin") !== null`, 30*time.Second); !ok {
				t.Fatalf("after Single Logout, no sign-in page; the browser shows %q", page)
			}
		})
	}
}
