package console

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/mail"
)

func (c *Console) emailRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/email", c.emailSettings, "themes:read")
	c.handle(mux, "POST "+realmPrefix+"/email/test", c.sendTestEmail, "themes:read", "themes:update")
}

// emailView is the E-mail settings page: how e-mail leaves the server, and
// the test send with the SMTP server's answer.
type emailView struct {
	Setup mail.Setup
	Test  *form
	Sent  *mail.TestSend
}

func (c *Console) emailSettings(q *request) error {
	q.render(http.StatusOK, "email.html", "E-mail", "email", emailView{Setup: c.Mail.Setup(), Test: &form{Values: map[string]string{}}})
	return nil
}

// sendTestEmail sends the sample binding e-mail in the realm's theme now
// and shows what the SMTP server answered, accepted or refused.
func (c *Console) sendTestEmail(q *request) error {
	v := emailView{Setup: c.Mail.Setup(), Test: q.newForm("to")}
	v.Test.Errors = map[string]string{}
	sent, err := c.Mail.SendTestEmail(q.Context(), q.tenantID, q.realm.ID, v.Test.Values["to"], c.linkExpiry())
	if err != nil {
		if !v.Test.refused(err, "") {
			return err
		}
		v.Test.Message = sentence(v.Test.Message)
		q.render(http.StatusUnprocessableEntity, "email.html", "E-mail", "email", v)
		return nil
	}
	v.Sent = &sent
	q.render(http.StatusOK, "email.html", "E-mail", "email", v)
	return nil
}

// emailMissing is the console's refusal to e-mail a link when no SMTP
// server would carry it: the log would swallow it and the page would lie.
func (c *Console) emailMissing() string {
	if c.Mail.Setup().Configured() {
		return ""
	}
	return "Not sent: e-mail is not configured on this server (see E-mail). Pass binding links on with “Create link” instead."
}

// linkExpiry is when a binding link made now expires: the sample e-mail
// says what a real one would.
func (c *Console) linkExpiry() time.Time {
	return c.Clock.Now().Add(c.Passkeys.LinkLifetime())
}
