package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestEmailSettings: the page says how e-mail leaves the server, and its
// test send shows the SMTP server's own answer: accepted (the message
// arrives, in the realm's theme) or refused (the server's words).
func TestEmailSettings(t *testing.T) {
	capture := testenv.StartSMTP(t)
	forEachEngineWith(t, func(cfg *server.Config) { cfg.SMTPURL = capture.URL }, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Mailing", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		e.api(t, "POST", "/realms/"+realm+"/themes", map[string]any{"theme": map[string]any{"email_realm_name": "Acme", "button_color": "#12ab34"}})
		base := "/console/realms/" + realm + "/email"
		server := strings.TrimPrefix(strings.Split(capture.URL, "?")[0], "smtp://")
		wantPage(t, e.get(t, base), http.StatusOK, `data-email-configured="true"`, "<code>"+server+"</code>")

		wantPage(t, e.post(t, base+"/test", url.Values{"to": {"nobody"}}), http.StatusUnprocessableEntity, `id="e-to"`, `value="nobody"`)
		to := "tester-" + realm + "@example.com"
		wantPage(t, e.post(t, base+"/test", url.Values{"to": {to}}), http.StatusOK, `data-test-send="accepted"`, "Accepted by "+server)
		m := mailTo(t, capture, to)
		if m.Subject != "[Test] Create your passkey for Acme" || !strings.Contains(m.HTML, "background-color:#12ab34") {
			t.Fatalf("test e-mail %q: %s", m.Subject, m.HTML)
		}
	})
}

func TestEmailSettingsRefused(t *testing.T) {
	refusing := testenv.StartSMTPWith(t, testenv.SMTPConfig{Refuse: func(int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
	}})
	e := startWith(t, testenv.Engines()[0].Name, "", func(cfg *server.Config) { cfg.SMTPURL = refusing.URL })
	p := e.post(t, "/console/realms/"+e.admin()+"/email/test", url.Values{"to": {"someone@example.com"}})
	wantPage(t, p, http.StatusOK, `data-test-send="refused"`, "550", "no such mailbox here")
}

// TestEmailNotConfigured: without an SMTP server nothing claims to be
// sent: the E-mail page says so, the test send and "Proceed & send email"
// answer "not sent", and no EMAIL job is made to wait forever.
func TestEmailNotConfigured(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Quiet", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		rp := "/realms/" + realm
		wantPage(t, e.get(t, "/console"+rp+"/email"), http.StatusOK, `data-email-configured="false"`, "E-mail is not configured.")
		wantPage(t, e.post(t, "/console"+rp+"/email/test", url.Values{"to": {"a@example.com"}}), http.StatusUnprocessableEntity,
			"Not sent: e-mail is not configured on this server")

		id := e.api(t, "POST", rp+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada", "primary_email_address": "ada@example.com"}}})["id"].(string)
		config := e.api(t, "POST", rp+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
			"display_name": "Hosted", "config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}},
				"trusted_origins": []any{e.node.URL}}}})["id"].(string)
		base := "/console" + rp + "/identities/" + id
		wantPage(t, e.get(t, base+"/binding-jobs/new"), http.StatusOK, "data-no-email", `value="email" disabled`)
		wantPage(t, e.post(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {config}, "action": {"email"}}), http.StatusUnprocessableEntity,
			"Not sent: e-mail is not configured on this server")
		if jobs := e.api(t, "GET", rp+"/identities/"+id+"/credential-binding-jobs", nil)["credential_binding_jobs"].([]any); len(jobs) != 0 {
			t.Fatalf("a refused e-mail made jobs: %v", jobs)
		}
		p := e.upload(t, realm, "username,email\nbob,bob@example.com\n", map[string]string{"mode": "dry", "send_binding_email": config})
		wantPage(t, p, http.StatusUnprocessableEntity, "Not sent: e-mail is not configured on this server")
	})
}

// TestEmailSettingsScopes: the page needs themes:read, the test send
// themes:update too (as the branding it sends).
func TestEmailSettingsScopes(t *testing.T) {
	e := start(t, "sqlite", "realms:read themes:read")
	base := "/console/realms/" + e.admin() + "/email"
	wantPage(t, e.get(t, base), http.StatusOK, "How e-mail leaves this server")
	wantPage(t, e.post(t, base+"/test", url.Values{"to": {"a@example.com"}}), http.StatusForbidden, "does not grant")
	e = start(t, "sqlite", "realms:read identities:read")
	wantPage(t, e.get(t, base), http.StatusForbidden, "does not grant themes:read")
}
