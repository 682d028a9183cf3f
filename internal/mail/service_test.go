package mail_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestSendTestEmail: without an SMTP server a test e-mail is refused, not
// logged as sent; with one it goes straight to the server, whose answer
// comes back: accepted (the message arrives, its link's expiry as given)
// or refused (the server's own words).
func TestSendTestEmail(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			svc := mail.NewService(s.Mail())
			expires := time.Date(2031, 3, 4, 5, 6, 0, 0, time.UTC)
			if _, err := svc.SendTestEmail(t.Context(), r.TenantID, r.ID, "a@example.com", expires); !errors.Is(err, mail.ErrNotConfigured) || svc.Setup().Configured() {
				t.Fatalf("without SMTP: %v, configured %v", err, svc.Setup().Configured())
			}

			capture := testenv.StartSMTP(t)
			svc.SMTP = smtpSender(t, capture).(*mail.SMTPSender)
			if _, err := svc.SendTestEmail(t.Context(), r.TenantID, r.ID, "not an address", expires); err == nil {
				t.Fatal("a bad address was sent to")
			}
			res, err := svc.SendTestEmail(t.Context(), r.TenantID, r.ID, "a@example.com", expires)
			must(t, err)
			if !res.Accepted || res.Server != strings.TrimPrefix(strings.Split(capture.URL, "?")[0], "smtp://") {
				t.Fatalf("accepted send: %+v", res)
			}
			got := capture.Wait(t, 1)[0]
			if got.Subject != "[Test] Create your passkey for Acme" || !strings.Contains(got.Text, "4 March 2031") {
				t.Fatalf("test e-mail %q: %s", got.Subject, got.Text)
			}

			svc.SMTP = smtpSender(t, testenv.StartSMTPWith(t, testenv.SMTPConfig{Refuse: refuseWith(550, 1)})).(*mail.SMTPSender)
			res, err = svc.SendTestEmail(t.Context(), r.TenantID, r.ID, "a@example.com", expires)
			must(t, err)
			if res.Accepted || !strings.Contains(res.Reply, "550") || !strings.Contains(res.Reply, "not now") {
				t.Fatalf("refused send: %+v", res)
			}
		})
	}
}
