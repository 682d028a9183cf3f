package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// CapturedMail is one message an SMTPCapture received, its MIME parts decoded.
type CapturedMail struct {
	From    string
	To      []string
	Subject string
	Header  mail.Header
	Text    string // the text/plain part, with \n line ends
	HTML    string // the text/html part, with \n line ends
	Raw     []byte
}

// SMTPConfig sets up an SMTPCapture.
type SMTPConfig struct {
	// TLS is "" (plain, no STARTTLS), "starttls" (offers STARTTLS) or
	// "implicit" (TLS from the first byte, as on port 465); both with a
	// self-signed certificate.
	TLS string
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// Refuse, when set, is asked about each message by its number (from 1)
	// and may return an *smtp.SMTPError (e.g. code 451 or 550) to refuse it.
	Refuse func(n int) error
}

// SMTPCapture is an SMTP server on localhost that keeps what it receives.
type SMTPCapture struct {
	// URL is the server's smtp:// or smtps:// URL for mail.NewSMTPSender,
	// with its credentials and insecure_skip_verify for its certificate.
	URL string

	cfg      SMTPConfig
	mu       sync.Mutex
	attempts int
	messages []CapturedMail
	changed  chan struct{} // closed and replaced whenever messages grows
}

// StartSMTP starts a plain SMTP capture server that accepts everything.
func StartSMTP(t testing.TB) *SMTPCapture { return StartSMTPWith(t, SMTPConfig{}) }

// StartSMTPWith starts an SMTP capture server; it stops when the test ends.
func StartSMTPWith(t testing.TB, cfg SMTPConfig) *SMTPCapture {
	t.Helper()
	c := &SMTPCapture{cfg: cfg, changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{c: c}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = cfg.TLS == ""
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	query := "?starttls=off"
	scheme := "smtp"
	switch cfg.TLS {
	case "starttls":
		srv.TLSConfig = selfSignedTLS(t)
		query = "?starttls=required&insecure_skip_verify=1"
	case "implicit":
		srv.TLSConfig = selfSignedTLS(t)
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme, query = "smtps", "?insecure_skip_verify=1"
	case "":
	default:
		t.Fatalf("SMTPConfig.TLS %q", cfg.TLS)
	}
	userinfo := ""
	if cfg.Username != "" {
		userinfo = cfg.Username + ":" + cfg.Password + "@"
	}
	c.URL = scheme + "://" + userinfo + ln.Addr().String() + query
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

// Messages returns the messages received so far.
func (c *SMTPCapture) Messages() []CapturedMail {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CapturedMail(nil), c.messages...)
}

// Attempts returns how many messages were offered, refused ones included.
func (c *SMTPCapture) Attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts
}

// Wait waits up to ten seconds for at least n messages and returns them all.
func (c *SMTPCapture) Wait(t testing.TB, n int) []CapturedMail {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got, changed := len(c.messages), c.changed
		c.mu.Unlock()
		if got >= n {
			return c.Messages()
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("received %d e-mails, want %d", got, n)
		}
	}
}

func (c *SMTPCapture) offer() error {
	c.mu.Lock()
	c.attempts++
	n := c.attempts
	c.mu.Unlock()
	if c.cfg.Refuse != nil {
		return c.cfg.Refuse(n)
	}
	return nil
}

func (c *SMTPCapture) keep(m CapturedMail) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages = append(c.messages, m)
	close(c.changed)
	c.changed = make(chan struct{})
}

type smtpSession struct {
	c      *SMTPCapture
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.c.cfg.Username || password != s.c.cfg.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.cfg.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.c.offer(); err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "cannot parse message: " + err.Error()}
	}
	m.From, m.To = s.from, s.to
	s.c.keep(m)
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// parseMail decodes the subject and the text and HTML parts of a message.
func parseMail(raw []byte) (CapturedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return CapturedMail{}, err
	}
	out := CapturedMail{Header: msg.Header, Raw: raw}
	if out.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return out, err
	}
	return out, collectParts(&out, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func collectParts(out *CapturedMail, contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := collectParts(out, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	if encoding != "" && !strings.EqualFold(encoding, "7bit") && !strings.EqualFold(encoding, "8bit") {
		return &smtp.SMTPError{Code: 554, Message: "capture cannot decode " + encoding + " outside multipart"}
	}
	b, err := io.ReadAll(body)
	text := strings.ReplaceAll(string(b), "\r\n", "\n") // SMTP's line ends become Go's
	switch mediaType {
	case "text/plain":
		out.Text = text
	case "text/html":
		out.HTML = text
	}
	return err
}

// selfSignedTLS returns a server TLS config with a new self-signed
// certificate for localhost and 127.0.0.1.
func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
