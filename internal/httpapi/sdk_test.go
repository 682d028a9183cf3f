package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// appPage is a customer's web app that embeds the official SDK.
const appPage = `<!doctype html>
<html><head><title>App</title><script src="/bi-embedded.js"></script></head>
<body><script>
window.bind = async (link) => {
  try {
    const sdk = await embeddedsdk.Embedded.initialize({allowedDomains: ["localhost"]});
    return JSON.stringify(await sdk.bindPasskey(link));
  } catch (e) {
    return "error: " + ((e && e.message) || e);
  }
};
</script></body></html>`

// startApp serves appPage and the SDK's bundle on http://localhost:PORT.
func startApp(t testing.TB, sdk []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(appPage))
	})
	mux.HandleFunc("GET /bi-embedded.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(sdk)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestEmbeddedSDKBindPasskey: the official embedded SDK, in Chromium, binds
// passkeys with Latchkey's binding links, Latchkey serving HTTPS with its
// self-signed certificate. The SDK makes a WebAuthn passkey when the
// browser has a platform authenticator, and a software passkey otherwise.
func TestEmbeddedSDKBindPasskey(t *testing.T) {
	t.Parallel()
	sdk := browsertest.SDKScript(t)
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.TLSSelfSigned = true
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, ""), http: n.HTTP}
			app := startApp(t, sdk)
			realm := newRealm(t, c, "SDK")
			// A theme without every URL: Latchkey fills in what the SDK requires.
			c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"logo_url_light": "https://example.com/logo.png"}})
			config := embeddedConfig(t, c, realm, app)
			for i, kind := range []struct {
				platformAuthenticator bool
				csr                   string
			}{{false, "JWT"}, {true, "WEBAUTHN"}} {
				ctx := browsertest.Start(t)
				if kind.platformAuthenticator {
					browsertest.AddAuthenticator(t, ctx)
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(app)); err != nil {
					t.Fatal(err)
				}
				identity := str(t, newIdentity(t, c, realm, "user"+strconv.Itoa(i)), "id")
				b := newBinding(t, c, realm, identity, config)

				link, _ := json.Marshal(b.link)
				answer, err := chromedp.Run(ctx, chromedp.Evaluate[string]("bind("+string(link)+")", chromedp.EvalAwaitPromise))
				if err != nil || strings.HasPrefix(answer, "error: ") {
					t.Fatalf("%s: bindPasskey: %q %v", kind.csr, answer, err)
				}
				job := c.get(t, b.jobPath())
				if job["state"] != "COMPLETE" {
					t.Fatalf("%s: job %v after bindPasskey answered %s", kind.csr, job, answer)
				}
				cred := c.get(t, "/realms/"+realm+"/identities/"+identity+"/credentials/"+str(t, job, "credential_id"))
				if cred["csr_type"] != kind.csr || cred["state"] != "ACTIVE" {
					t.Errorf("%s: credential %v", kind.csr, cred)
				}
				var bound struct {
					Passkey struct{ PasskeyID string }
				}
				if json.Unmarshal([]byte(answer), &bound); bound.Passkey.PasskeyID != cred["id"] {
					t.Errorf("%s: the SDK knows the passkey as %q, the API as %v (%s)", kind.csr, bound.Passkey.PasskeyID, cred["id"], answer)
				}
			}
		})
	}
}
