package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/mail"
)

var theme = mail.Theme{
	EmailRealmName: "Acme Corp", LogoURLLight: "https://acme.example/logo-light.png",
	LogoURLDark: "https://acme.example/logo-dark.png", SupportURL: "https://acme.example/help",
	ButtonColor: "#112233", ButtonTextColor: "#FEDCBA",
}

const link = "https://id.acme.example/v1/tenants/t/realms/r/identities/i/credential-binding-jobs/j:invokeAuthenticator?token=abc&x=1"

func TestRenderBindingEmail(t *testing.T) {
	expire := time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)
	d := mail.BindingEmail{DisplayName: `Eve <script>alert("x")</script>`, Username: "eve&co", Link: link, ExpireTime: expire}
	subject, text, html, err := mail.RenderBindingEmail(theme, d)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Create your passkey for Acme Corp" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{d.DisplayName, d.Username, link, "Acme Corp", "6 May 2030, 07:08 UTC", theme.SupportURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{
		"Eve &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "eve&amp;co",
		`href="https://id.acme.example/v1/tenants/t/realms/r/identities/i/credential-binding-jobs/j:invokeAuthenticator?token=abc&amp;x=1"`,
		"background-color:#112233", "color:#FEDCBA", `src="https://acme.example/logo-light.png"`,
		`srcset="https://acme.example/logo-dark.png"`, `href="https://acme.example/help"`, "6 May 2030, 07:08 UTC",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("HTML carries the display name unescaped")
	}
	for _, external := range []string{"<link", "<script", "@import", "url("} {
		if strings.Contains(html, external) {
			t.Errorf("HTML loads an external asset (%s)", external)
		}
	}
}

func TestRenderBindingEmailPlainTheme(t *testing.T) {
	plain := mail.Theme{EmailRealmName: "Plain", ButtonColor: mail.DefaultButtonColor, ButtonTextColor: mail.DefaultButtonTextColor}
	_, text, html, err := mail.RenderBindingEmail(plain, mail.BindingEmail{DisplayName: "Bo", Link: link, ExpireTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<img") || strings.Contains(html, "support") || strings.Contains(text, "help") {
		t.Errorf("a theme without logo and support URL shows them:\n%s\n%s", text, html)
	}
	if !strings.Contains(html, "background-color:#4673D3") {
		t.Errorf("default button colour missing:\n%s", html)
	}
}

func TestValidateTheme(t *testing.T) {
	if err := mail.ValidateTheme(theme); err != nil {
		t.Fatalf("valid theme: %v", err)
	}
	for _, tc := range []struct {
		change func(*mail.Theme)
		field  string
	}{
		{func(v *mail.Theme) { v.EmailRealmName = "" }, "email_realm_name"},
		{func(v *mail.Theme) { v.EmailRealmName = strings.Repeat("x", 65) }, "email_realm_name"},
		{func(v *mail.Theme) { v.EmailRealmName = "a<b" }, "email_realm_name"},
		{func(v *mail.Theme) { v.LogoURLLight = "/relative.png" }, "logo_url_light"},
		{func(v *mail.Theme) { v.LogoURLDark = "javascript:alert(1)" }, "logo_url_dark"},
		{func(v *mail.Theme) { v.SupportURL = "ftp://acme.example/" }, "support_url"},
		{func(v *mail.Theme) { v.ButtonColor = "blue" }, "button_color"},
		{func(v *mail.Theme) { v.ButtonTextColor = "#FFF" }, "button_text_color"},
	} {
		v := theme
		tc.change(&v)
		err := mail.ValidateTheme(v)
		e, ok := err.(*latchkey.Error)
		if !ok || len(e.Details) != 1 || len(e.Details[0].FieldViolations) != 1 || e.Details[0].FieldViolations[0].Field != tc.field {
			t.Errorf("%+v: got %v, want one violation on %s", v, err, tc.field)
		}
	}
}
