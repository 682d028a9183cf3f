package httpapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestHostedBindingPage binds a passkey the way a person does: the link
// arrives by e-mail (a real SMTP exchange), Chromium with a virtual
// authenticator opens it, the person presses the button, and the page
// sends them on to the app.
func TestHostedBindingPage(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, n, capture := mailNode(t, eng.Name, testenv.SMTPConfig{})
			ctx := browsertest.Start(t)
			browsertest.AddAuthenticator(t, ctx)
			realm := newRealm(t, c, "Hosted Realm")
			c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{
				"email_realm_name": "Acme", "button_color": "#112233", "support_url": "https://help.example.com"}})
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			out := c.post(t, "/realms/"+realm+"/identities/"+ada+"/credential-binding-jobs", map[string]any{"job": map[string]any{
				"delivery_method": "EMAIL", "authenticator_config_id": hostedConfig(t, c, realm),
				"post_binding_redirect_uri": n.URL + "/healthz",
			}})
			job := "/realms/" + realm + "/identities/" + ada + "/credential-binding-jobs/" + str(t, obj(t, out, "credential_binding_job"), "id")
			link := linkIn(t, capture.Wait(t, 1)[0].Text)

			if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
				t.Fatal(err)
			}
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			if err != nil || heading != "Create a passkey for Acme" {
				t.Fatalf("page heading %q (%v)", heading, err)
			}
			colour, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("create")).backgroundColor`))
			help, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("a[href='https://help.example.com']") ? "shown" : "missing"`))
			if colour != "rgb(17, 34, 51)" || help != "shown" {
				t.Errorf("theme not applied: button %s, support link %s", colour, help)
			}
			if s := str(t, c.get(t, job), "state"); s != "LINK_OPENED" {
				t.Errorf("state after opening the page %s", s)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("create"))); err != nil {
				t.Fatal(err)
			}
			if ok, page := browsertest.WaitFor(ctx, `location.pathname === "/healthz"`, 30*time.Second); !ok {
				t.Fatalf("not sent on to the app after binding; the page says %q", page)
			}

			j := c.get(t, job)
			if j["state"] != "COMPLETE" {
				t.Fatalf("job after the page %v", j)
			}
			cred := c.get(t, "/realms/"+realm+"/identities/"+ada+"/credentials/"+str(t, j, "credential_id"))
			if cred["state"] != "ACTIVE" || cred["csr_type"] != "WEBAUTHN" {
				t.Errorf("credential %v", cred)
			}
			// The page passes on what the browser says of the authenticator's transports.
			if tr, _ := cred["transports"].([]any); len(tr) != 1 || tr[0] != "internal" {
				t.Errorf("the passkey's transports: %v", cred["transports"])
			}
			if s := enrollment(t, c, realm, ada); s != "ENROLLED" {
				t.Errorf("enrollment %s", s)
			}

			// The spent link says so, in words, with the right status.
			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(link))
			if err != nil {
				t.Fatal(err)
			}
			message, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
			if resp.Status != http.StatusGone || message != "this binding link was already used to bind a passkey" {
				t.Errorf("reopened link: %d %q", resp.Status, message)
			}
		})
	}
}

// TestBindPageLogoSources: the hosted page's CSP lets the theme's http logo
// load when Latchkey itself is served over http (a local try-out); over
// https it needs only https: (browsers upgrade http images there).
func TestBindPageLogoSources(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		for _, tc := range []struct {
			scheme string
			tls    bool
			imgSrc string
		}{
			{"http", false, "img-src http: https: data:;"},
			{"https", true, "img-src https: data:;"},
		} {
			t.Run(eng.Name+"/"+tc.scheme, func(t *testing.T) {
				t.Parallel()
				n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
					cfg.Logger = slog.New(slog.DiscardHandler)
					cfg.TLSSelfSigned = tc.tls
				})
				c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, ""), http: n.HTTP}
				realm := newRealm(t, c, "Logos")
				const logo = "http://localhost:3000/logo.png"
				c.post(t, "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{
					"email_realm_name": "Acme", "logo_url_light": logo, "button_color": "#112233", "button_text_color": "#FFFFFF"}})
				b := newBinding(t, c, realm, str(t, newIdentity(t, c, realm, "ada"), "id"), hostedConfig(t, c, realm))
				page := sendWith(t, n.HTTP, "GET", b.link, http.Header{"Accept": {"text/html"}}, nil)
				if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `src="`+logo+`"`) {
					t.Fatalf("page: %d without the logo: %s", page.Status, page.Body)
				}
				if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tc.imgSrc) {
					t.Errorf("CSP %q, want %q", csp, tc.imgSrc)
				}
			})
		}
	}
}
