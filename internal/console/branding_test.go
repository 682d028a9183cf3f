package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestBranding(t *testing.T) {
	capture := testenv.StartSMTP(t)
	forEachEngineWith(t, func(cfg *server.Config) { cfg.SMTPURL = capture.URL }, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Shop", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		base := "/console/realms/" + realm + "/branding"
		// A realm without a theme shows the default one.
		wantPage(t, e.get(t, base), http.StatusOK, `value="Shop"`, `value="#4673D3"`, `<iframe id="preview" class="preview" sandbox src="`+base+`/preview?`)

		theme := url.Values{"email_realm_name": {"Acme Corp"}, "button_color": {"#12ab34"}, "button_text_color": {"#FFFFFF"}, "support_url": {"not a url"}}
		p := e.post(t, base, theme)
		wantPage(t, p, http.StatusUnprocessableEntity, `id="e-support_url"`, `value="not a url"`, `value="#12ab34"`)
		theme.Set("support_url", "https://acme.example/help")
		p = e.follow(t, base, theme)
		wantPage(t, p, http.StatusOK, "Branding saved.", `value="Acme Corp"`, "button_color=%2312ab34")
		if got := e.api(t, "GET", "/realms/"+realm+"/themes/active", nil); got["button_color"] != "#12ab34" || got["email_realm_name"] != "Acme Corp" {
			t.Fatalf("the API shows the theme %v", got)
		}
		// A second save updates the theme the first one created.
		theme.Set("email_realm_name", "Acme")
		wantPage(t, e.follow(t, base, theme), http.StatusOK, "Branding saved.", `value="Acme"`)

		// The preview is the real binding e-mail in the saved theme, framable
		// by the console only, with inline styles and no script; the test
		// console is served over http, so http logos show.
		p = e.get(t, base+"/preview")
		wantPage(t, p, http.StatusOK, "Create your passkey for Acme", "background-color:#12ab34", "https://acme.example/help")
		csp := p.header.Get("Content-Security-Policy")
		if csp != "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'" ||
			p.header.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Fatalf("preview CSP %q, X-Frame-Options %q", csp, p.header.Get("X-Frame-Options"))
		}
		// Values not saved yet are previewed as typed.
		wantPage(t, e.get(t, base+"/preview?button_color=%23abcdef&email_realm_name=Draft"), http.StatusOK, "background-color:#abcdef", "Create your passkey for Draft")
		// The console's pages themselves stay unframable.
		if p := e.get(t, base); !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("branding page headers %v", p.header)
		}

		// The page sends no e-mail of its own: it leads to the E-mail page.
		wantPage(t, e.get(t, base), http.StatusOK, `href="/console/realms/`+realm+`/email"`)
	})
}

// mailTo waits for the capture to receive an e-mail to the address; the
// capture is shared by the engines' nodes.
func mailTo(t *testing.T, c *testenv.SMTPCapture, to string) testenv.CapturedMail {
	t.Helper()
	for n := 1; ; n++ {
		for _, m := range c.Wait(t, n) {
			if m.To[0] == to {
				return m
			}
		}
	}
}
