package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers one message. An error wrapped by Permanent is not worth
// retrying (the server refused the message for good).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// permanentError marks a refusal that retrying will not change.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err to say that the message cannot be delivered, ever.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

// SMTPSender sends messages through an SMTP server, one connection each.
type SMTPSender struct {
	from   string
	domain string // of the From address, for Message-IDs
	opts   []gomail.Option
	host   string
	port   int
}

// Setup is how e-mail leaves this server, as an administrator may see it
// (no credentials).
type Setup struct {
	// Server is the SMTP server's host:port; "" when none is configured
	// and e-mail is only written to the log.
	Server string
	From   string
}

// Configured reports whether e-mail goes to an SMTP server.
func (s Setup) Configured() bool { return s.Server != "" }

// Setup returns the server and From address that s sends with.
func (s *SMTPSender) Setup() Setup {
	return Setup{Server: net.JoinHostPort(s.host, strconv.Itoa(s.port)), From: s.from}
}

// sendTimeout bounds the connection and each exchange with the SMTP server.
const sendTimeout = 30 * time.Second

// NewSMTPSender returns a sender for an SMTP URL:
//
//	smtp://user:pass@host:587   STARTTLS when the server offers it
//	smtps://user:pass@host:465  implicit TLS
//
// with the query parameters starttls=required|opportunistic|off (smtp only,
// default opportunistic) and insecure_skip_verify=1 (for tests). from is the
// From address, e.g. "Latchkey <no-reply@example.com>".
func NewSMTPSender(rawURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	if u.Hostname() == "" {
		return nil, errors.New("SMTP URL has no host")
	}
	q := u.Query()
	for name := range q {
		if name != "starttls" && name != "insecure_skip_verify" {
			return nil, fmt.Errorf("SMTP URL: unknown parameter %q", name)
		}
	}
	tlsConfig := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	switch q.Get("insecure_skip_verify") {
	case "", "0", "false":
	case "1", "true":
		tlsConfig.InsecureSkipVerify = true
	default:
		return nil, errors.New("SMTP URL: insecure_skip_verify must be 1 or 0")
	}
	opts := []gomail.Option{gomail.WithTLSConfig(tlsConfig), gomail.WithTimeout(sendTimeout)}
	var defaultPort int
	switch u.Scheme {
	case "smtp":
		defaultPort = 587
		policy, ok := map[string]gomail.TLSPolicy{
			"": gomail.TLSOpportunistic, "opportunistic": gomail.TLSOpportunistic,
			"required": gomail.TLSMandatory, "off": gomail.NoTLS,
		}[q.Get("starttls")]
		if !ok {
			return nil, errors.New("SMTP URL: starttls must be required, opportunistic or off")
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	case "smtps":
		if q.Has("starttls") {
			return nil, errors.New("SMTP URL: starttls applies to smtp://, not smtps:// (always TLS)")
		}
		defaultPort = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, errors.New("SMTP URL must start with smtp:// or smtps://")
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP URL: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	domain := addr.Address[strings.LastIndex(addr.Address, "@")+1:]
	return &SMTPSender{from: from, domain: domain, opts: opts, host: u.Hostname(), port: port}, nil
}

// Send delivers m. Refusals the server calls permanent (5xx) are wrapped by
// Permanent; connection problems and 4xx are not.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	_, err := s.SendReporting(ctx, m)
	return err
}

// SendReporting is Send that also returns the server's reply to an
// accepted message (often its queue id), for an administrator's test.
func (s *SMTPSender) SendReporting(ctx context.Context, m Message) (reply string, err error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return "", Permanent(err)
	}
	if err := msg.To(m.To); err != nil {
		return "", Permanent(err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// One Message-ID per outbox message: a receiver can recognise a resend.
	msg.SetMessageIDWithValue(m.ID + "@" + s.domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return "", err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 {
		return "", Permanent(err)
	}
	return msg.ServerResponse(), err
}

// LogSender writes messages to the log instead of sending them, link
// included, so that a server without SMTP still works (the quick start).
type LogSender struct {
	logger *slog.Logger
}

// NewLogSender returns a sender that logs to logger.
func NewLogSender(logger *slog.Logger) *LogSender { return &LogSender{logger: logger} }

// Send logs m at INFO with its plain text body.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	s.logger.InfoContext(ctx, "e-mail not sent: no SMTP server configured (--smtp-url); its text follows",
		"to", m.To, "subject", m.Subject, "ref", m.Ref, "text", m.Text)
	return nil
}
