package otp_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// codes is a bootstrapped database with ada (ada@example.com), a code
// service on a clock the test moves, and the console's realm and config.
type codes struct {
	st      *sqlstore.Store
	svc     *otp.Service
	clock   *testenv.Clock
	console bootstrap.Console
	ada     directory.Identity
	config  passkey.AuthenticatorConfig
}

func newCodes(t testing.TB, open func(testing.TB) *sqlstore.Store) codes {
	t.Helper()
	ctx := t.Context()
	c := codes{st: open(t), clock: testenv.NewClock()}
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	issuer := func(tenantID, realmID, appID string) string { return "http://localhost" }
	creds, _, err := bootstrap.Run(ctx, c.st, box, c.clock.Now, issuer, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	if c.console, _, err = bootstrap.EnsureConsole(ctx, c.st, box, c.clock.Now, creds,
		bootstrap.AdminOptions{Email: "admin@example.com"}, "http://localhost"); err != nil {
		t.Fatal(err)
	}
	dir := directory.NewService(c.st.Directory())
	dir.Clock = c.clock.Now
	if c.ada, err = dir.CreateIdentity(ctx, c.console.TenantID, c.console.RealmID, directory.Identity{DisplayName: "Ada",
		Traits: directory.Traits{Type: "traits_v0", Username: "ada", PrimaryEmailAddress: "Ada@Example.com"}}); err != nil {
		t.Fatal(err)
	}
	passkeys := passkey.NewService(c.st.Passkey(), "http://localhost")
	passkeys.Clock = c.clock.Now
	if c.config, err = passkeys.GetAuthenticatorConfig(ctx, c.console.TenantID, c.console.RealmID, c.console.AuthenticatorConfigID); err != nil {
		t.Fatal(err)
	}
	c.config.Config.AuthenticationMethods = append(c.config.Config.AuthenticationMethods, passkey.Method{Type: passkey.EmailOneTimePassword})
	c.svc = otp.NewService(c.st.OTP(), passkeys, box.MAC)
	c.svc.Clock = c.clock.Now
	return c
}

func (c codes) request(t testing.TB, address, ip string) error {
	t.Helper()
	return c.svc.Request(t.Context(), otp.Request{TenantID: c.console.TenantID, RealmID: c.console.RealmID,
		Config: c.config.Config, Address: address, IP: ip})
}

func (c codes) verify(t testing.TB, address, code string, enroll bool) (otp.Result, error) {
	t.Helper()
	return c.svc.Verify(t.Context(), otp.Verification{TenantID: c.console.TenantID, RealmID: c.console.RealmID,
		Config: c.config, Address: address, Code: code, Enroll: enroll})
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// mailed returns the messages in the outbox, claiming them.
func (c codes) mailed(t testing.TB) []mail.Message {
	t.Helper()
	ms, err := c.st.Mail().ClaimMail(t.Context(), "test", c.clock.Now(), time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// code asks for a code for ada and returns it, read from its e-mail.
func (c codes) code(t testing.TB) string {
	t.Helper()
	if err := c.request(t, "ada@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	ms := c.mailed(t)
	if len(ms) != 1 || ms[0].To != "Ada@Example.com" || !strings.Contains(ms[0].HTML, "Ada") {
		t.Fatalf("mailed %+v, want one e-mail to ada", ms)
	}
	code := sixDigits.FindString(ms[0].Text)
	if code == "" || strings.Contains(ms[0].Subject, code) || !strings.Contains(ms[0].HTML, code) {
		t.Fatalf("e-mail %q / %q carries no code in its bodies only", ms[0].Subject, ms[0].Text)
	}
	return code
}

// otherThan returns a well-formed code that is not code.
func otherThan(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func refusedWith(t *testing.T, err error, code string, what string) {
	t.Helper()
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: %v, want a %s refusal", what, err, code)
	}
}

func TestCodeSignsInOnce(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			code := c.code(t)
			res, err := c.verify(t, "ADA@example.com", code, false)
			if err != nil || res.Identity.ID != c.ada.ID || res.Link != "" {
				t.Fatalf("verify: %+v %v", res, err)
			}
			// Reused: the code was spent.
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrNoCode) {
				t.Errorf("reused code: %v", err)
			}
		})
	}
}

func TestWrongExpiredAndBruteForcedCodes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			code := c.code(t)
			for i := range otp.MaxTries {
				_, err := c.verify(t, "ada@example.com", otherThan(code), false)
				refusedWith(t, err, latchkey.CodeUnauthorized, "a wrong code")
				if want := []string{"4 tries", "3 tries", "2 tries", "1 try ", "0 tries"}[i]; !strings.Contains(err.Error(), want) {
					t.Errorf("try %d: %v, want %q left", i+1, err, want)
				}
			}
			// The 6th try is refused although the code is right.
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrTooManyTries) {
				t.Fatalf("6th try with the right code: %v", err)
			}

			code = c.code(t) // a new code may be tried again
			c.clock.Advance(otp.CodeTTL - time.Microsecond)
			if _, err := c.verify(t, "ada@example.com", otherThan(code), false); err == nil {
				t.Fatal("a wrong code was accepted")
			}
			c.clock.Advance(time.Microsecond)
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrExpired) {
				t.Fatalf("expired code: %v", err)
			}
			n, err := c.svc.Sweep(t.Context())
			if err != nil || n == 0 {
				t.Errorf("sweep: %d %v", n, err)
			}
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrNoCode) {
				t.Errorf("after the sweep: %v", err)
			}
			for _, bad := range []string{"12345", "1234567", "12a456", ""} {
				_, err := c.verify(t, "ada@example.com", bad, false)
				refusedWith(t, err, latchkey.CodeBadRequest, "code "+bad)
			}
			_, err = c.verify(t, "not an address", "123456", false)
			refusedWith(t, err, latchkey.CodeBadRequest, "a malformed address")
		})
	}
}

func TestNewCodeReplacesTheLiveOne(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			first := c.code(t)
			second := c.code(t)
			if first != second {
				if _, err := c.verify(t, "ada@example.com", first, false); err == nil {
					t.Fatal("the replaced code signed in")
				}
			}
			if _, err := c.verify(t, "ada@example.com", second, false); err != nil {
				t.Fatalf("the new code: %v", err)
			}
		})
	}
}

// TestUnknownAddress: an address no active identity has gets the same
// answers as a known one, and no e-mail.
func TestUnknownAddress(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			if err := c.request(t, "nobody@example.com", "192.0.2.1"); err != nil {
				t.Fatalf("request: %v", err)
			}
			if ms := c.mailed(t); len(ms) != 0 {
				t.Fatalf("mailed %v to an unknown address", ms)
			}
			_, err := c.verify(t, "nobody@example.com", "123456", false)
			refusedWith(t, err, latchkey.CodeUnauthorized, "a code of an unknown address")
			if !strings.Contains(err.Error(), "4 tries left") {
				t.Errorf("unknown address: %v", err)
			}
			for range otp.MaxTries - 1 {
				c.verify(t, "nobody@example.com", "123456", false)
			}
			if _, err := c.verify(t, "nobody@example.com", "123456", false); !errors.Is(err, otp.ErrTooManyTries) {
				t.Errorf("unknown address, 6th try: %v", err)
			}
			if _, err := c.verify(t, "never@example.com", "123456", false); !errors.Is(err, otp.ErrNoCode) {
				t.Errorf("no request: %v", err)
			}
		})
	}
}

func TestRequestLimits(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			// Per address, known or not, whatever the IP.
			for _, address := range []string{"ada@example.com", "nobody@example.com"} {
				for i := range otp.DefaultAddressLimit {
					if err := c.request(t, address, "192.0.2."+string(rune('1'+i))); err != nil {
						t.Fatalf("%s, request %d: %v", address, i+1, err)
					}
				}
				if err := c.request(t, strings.ToUpper(address), "198.51.100.1"); !errors.Is(err, otp.ErrRateLimited) {
					t.Fatalf("%s, one request too many: %v", address, err)
				}
			}
			if ms := c.mailed(t); len(ms) != otp.DefaultAddressLimit {
				t.Errorf("%d e-mails, want %d", len(ms), otp.DefaultAddressLimit)
			}
			c.clock.Advance(otp.DefaultLimitWindow)
			if err := c.request(t, "ada@example.com", "198.51.100.1"); err != nil {
				t.Fatalf("the next window: %v", err)
			}
			// Per IP, whatever the address.
			c.svc.IPLimit = 3
			for i := range 3 {
				if err := c.request(t, "user"+string(rune('a'+i))+"@example.com", "203.0.113.9"); err != nil {
					t.Fatalf("IP request %d: %v", i+1, err)
				}
			}
			err := c.request(t, "ada@example.com", "203.0.113.9")
			refusedWith(t, err, latchkey.CodeTooManyRequests, "one request too many from an IP")
		})
	}
}

func TestWhatTheConfigAllows(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			code := c.code(t)
			methods := c.config.Config.AuthenticationMethods
			c.config.Config.AuthenticationMethods = methods[:len(methods)-1]
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrNotOffered) {
				t.Errorf("verify without the method: %v", err)
			}
			if err := c.request(t, "ada@example.com", "192.0.2.1"); !errors.Is(err, otp.ErrNotOffered) {
				t.Errorf("request without the method: %v", err)
			}
			c.config.Config.AuthenticationMethods = append(methods[:len(methods)-1], passkey.Method{Type: passkey.EmailOneTimePassword, Use: passkey.OTPEnroll})
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrNoSignIn) {
				t.Errorf("sign-in with an enroll-only code: %v", err)
			}
			res, err := c.verify(t, "ada@example.com", code, true)
			if err != nil || res.Job.IdentityID != c.ada.ID || res.Job.DeliveryMethod != passkey.Return ||
				!strings.Contains(res.Link, res.Job.ID+":invokeAuthenticator?token=") ||
				res.Job.ExpireTime.Sub(res.Job.CreateTime) != passkey.SelfServiceTTL {
				t.Fatalf("enroll: %+v %v", res, err)
			}
			c.config.Config.AuthenticationMethods = append(methods[:len(methods)-1], passkey.Method{Type: passkey.EmailOneTimePassword, Use: passkey.OTPSignIn})
			if _, err := c.verify(t, "ada@example.com", c.code(t), true); !errors.Is(err, otp.ErrNoEnroll) {
				t.Errorf("enroll with a sign-in-only code: %v", err)
			}
		})
	}
}

// TestAdministratorsDoNotEnrollByCode: a code proves an address, not the
// management scopes of an administrator; their code signs in (policy then
// decides) but makes no binding link, and the code stays for another try.
func TestAdministratorsDoNotEnrollByCode(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			if err := c.request(t, "admin@example.com", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			ms := c.mailed(t)
			if len(ms) != 1 {
				t.Fatalf("mailed %v", ms)
			}
			code := sixDigits.FindString(ms[0].Text)
			_, err := c.verify(t, "admin@example.com", code, true)
			refusedWith(t, err, latchkey.CodeForbidden, "an administrator's enrollment")
			if res, err := c.verify(t, "admin@example.com", code, false); err != nil || res.Identity.ID != c.console.AdminIdentityID {
				t.Fatalf("the administrator's sign-in: %+v %v", res, err)
			}
		})
	}
}

func TestSuspendedIdentityGetsNoCode(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			c := newCodes(t, eng.Open)
			code := c.code(t)
			dir := directory.NewService(c.st.Directory())
			dir.Clock = c.clock.Now
			suspended := directory.StatusSuspended
			if _, err := dir.UpdateIdentity(t.Context(), c.console.TenantID, c.console.RealmID, c.ada.ID, directory.IdentityPatch{Status: &suspended}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.verify(t, "ada@example.com", code, false); !errors.Is(err, otp.ErrInactive) {
				t.Errorf("a suspended identity's code: %v", err)
			}
			if err := c.request(t, "ada@example.com", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if ms := c.mailed(t); len(ms) != 0 {
				t.Errorf("mailed %v to a suspended identity", ms)
			}
		})
	}
}
