package passkey

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func TestBindingJobStates(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	expiry := now.Add(time.Minute)
	for _, c := range []struct {
		state   string
		at      time.Time
		open    bool
		settled string
	}{
		{LinkSent, now, true, LinkSent},
		{LinkOpened, now, true, LinkOpened},
		{RequestDelivered, now, true, RequestDelivered},
		{LinkSent, expiry, false, Expired}, // expires at its expiry, not after
		{LinkOpened, expiry.Add(time.Hour), false, Expired},
		{Complete, now, false, Complete},
		{Complete, expiry.Add(time.Hour), false, Complete}, // a finished job stays what it ended as
		{Revoked, now, false, Revoked},
		{FailedToSend, now, false, FailedToSend},
	} {
		j := BindingJob{State: c.state, ExpireTime: expiry}
		if got := j.Open(c.at); got != c.open {
			t.Errorf("%s at %v: open %v, want %v", c.state, c.at.Sub(now), got, c.open)
		}
		if got := j.settled(c.at).State; got != c.settled {
			t.Errorf("%s at %v: settled as %s, want %s", c.state, c.at.Sub(now), got, c.settled)
		}
	}
}

func TestClosedLinkErrors(t *testing.T) {
	for state, want := range map[string]error{Complete: errUsed, Revoked: errRevoked, FailedToSend: errNotSent, Expired: errExpired} {
		if got := closed(BindingJob{State: state}); !errors.Is(got, want) {
			t.Errorf("closed(%s) = %v, want %v", state, got, want)
		}
	}
}

func TestOriginOf(t *testing.T) {
	for raw, want := range map[string]string{
		"https://app.example.com/bind?x=1": "https://app.example.com",
		"http://localhost:8080/":           "http://localhost:8080",
		"/relative/path":                   "",
		"%zz":                              "",
	} {
		if got := originOf(raw); got != want {
			t.Errorf("originOf(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestValidateConfig(t *testing.T) {
	embedded := func(edit func(*Config)) AuthenticatorConfig {
		c := Config{Type: Embedded, InvokeURL: "https://app.example.com/auth", TrustedOrigins: []string{"https://app.example.com"}}
		if edit != nil {
			edit(&c)
		}
		c.normalize()
		return AuthenticatorConfig{DisplayName: "App", Config: c}
	}
	hosted := AuthenticatorConfig{DisplayName: "Hosted", Config: Config{Type: HostedWeb,
		AuthenticationMethods: []Method{{Type: WebAuthnPasskey}}}}
	hosted.Config.normalize()
	for _, c := range []struct {
		name   string
		config AuthenticatorConfig
		inline bool
		field  string // "" when valid
	}{
		{"an embedded config", embedded(nil), false, ""},
		{"a hosted config", hosted, false, ""},
		{"a hosted config inline", hosted, true, "config.type"},
		{"no display name", AuthenticatorConfig{Config: hosted.Config}, false, "display_name"},
		{"no type", AuthenticatorConfig{DisplayName: "x"}, false, "config.type"},
		{"an unknown type", AuthenticatorConfig{DisplayName: "x", Config: Config{Type: "fax"}}, false, "config.type"},
		{"a relative invoke URL", embedded(func(c *Config) { c.InvokeURL = "/auth" }), false, "config.invoke_url"},
		{"no trusted origin", embedded(func(c *Config) { c.TrustedOrigins = nil }), false, "config.trusted_origins"},
		{"an origin with a path", embedded(func(c *Config) { c.TrustedOrigins = []string{"https://app.example.com/x"} }), false, "config.trusted_origins[0]"},
		{"an unknown invocation type", embedded(func(c *Config) { c.InvocationType = "telepathic" }), false, "config.invocation_type"},
		{"a method twice", embedded(func(c *Config) {
			c.AuthenticationMethods = []Method{{Type: WebAuthnPasskey}, {Type: WebAuthnPasskey}}
		}), false, "config.authentication_methods[1].type"},
		{"an unknown method", embedded(func(c *Config) { c.AuthenticationMethods = []Method{{Type: "carrier_pigeon"}} }), false, "config.authentication_methods[0].type"},
		{"a use of a passkey method", embedded(func(c *Config) { c.AuthenticationMethods = []Method{{Type: WebAuthnPasskey, Use: OTPSignIn}} }), false, "config.authentication_methods[0].use"},
		{"an unknown use", embedded(func(c *Config) { c.AuthenticationMethods = []Method{{Type: EmailOneTimePassword, Use: "always"}} }), false, "config.authentication_methods[0].use"},
		{"a code only to enroll", embedded(func(c *Config) { c.AuthenticationMethods = []Method{{Type: EmailOneTimePassword, Use: OTPEnroll}} }), true, ""},
	} {
		err := validateConfig(c.config, c.inline)
		if got := violatedField(err); got != c.field {
			t.Errorf("%s: %v, want a problem with %q", c.name, err, c.field)
		}
	}
}

// violatedField is the first field a validation error names, "" for nil.
func violatedField(err error) string {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		if err != nil {
			return "?"
		}
		return ""
	}
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			return v.Field
		}
	}
	return "?"
}

func TestNormalizeDefaults(t *testing.T) {
	c := Config{Type: Embedded, TrustedOrigins: []string{"https://app.example.com/"}}
	c.normalize()
	if c.InvocationType != "automatic" || len(c.AuthenticationMethods) != len(allMethods) || c.TrustedOrigins[0] != "https://app.example.com" {
		t.Errorf("normalized embedded config: %+v", c)
	}
	h := Config{Type: HostedWeb}
	h.normalize()
	if h.InvocationType != "" || h.AuthenticationMethods != nil {
		t.Errorf("a hosted config gets the embedded defaults: %+v", h)
	}
}

// TestNoteUse: a sign-in writes its passkey's last use when something
// changed or the recorded one is a minute old; otherwise nothing.
func TestNoteUse(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c := Credential{}
	for _, step := range []struct {
		name       string
		at         time.Duration
		ua         string
		keyChanged bool
		write      bool
		recorded   time.Duration // the last use recorded after the step
	}{
		{"first sign-in", 0, "Firefox", false, true, 0},
		{"again at once", time.Second, "Firefox", false, false, 0},
		{"just under a minute", time.Minute - time.Microsecond, "Firefox", false, false, 0},
		{"the sign count moved", time.Minute - time.Microsecond, "Firefox", true, true, time.Minute - time.Microsecond},
		{"another browser", time.Minute, "Chrome", false, true, time.Minute},
		{"a minute on", 2 * time.Minute, "Chrome", false, true, 2 * time.Minute},
		{"30 s on", 2*time.Minute + 30*time.Second, "Chrome", false, false, 2 * time.Minute},
	} {
		if got := c.noteUse(t0.Add(step.at), step.ua, step.keyChanged); got != step.write {
			t.Errorf("%s: write %v, want %v", step.name, got, step.write)
		}
		if !c.LastUsedTime.Equal(t0.Add(step.recorded)) {
			t.Errorf("%s: last use %v, want %v", step.name, c.LastUsedTime.Sub(t0), step.recorded)
		}
	}
	if c.LastUsedUserAgent != "Chrome" {
		t.Errorf("last user agent %q", c.LastUsedUserAgent)
	}
}

// TestAuthenticatorRules: which passkeys a config's rules refuse, and why.
func TestAuthenticatorRules(t *testing.T) {
	yubikey := []byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}
	unknown := []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	webauthn := func(aaguid []byte, synced bool) Credential {
		return Credential{WebAuthn: &WebAuthnKey{AAGUID: aaguid, BackupEligible: synced, BackupState: synced}}
	}
	const yk, other = "cb69481e-8ff7-4039-93ec-0a2729a154a8", "01020304-0506-0708-0102-030405060708"
	for _, c := range []struct {
		name  string
		rules Rules
		cred  Credential
		want  string // the refusal's message, "" when allowed
	}{
		{"no rules", Rules{}, webauthn(unknown, true), ""},
		{"no rules, software passkey", Rules{}, Credential{}, ""},
		{"denied", Rules{DeniedAAGUIDs: []string{yk}}, webauthn(yubikey, false),
			"passkeys from YubiKey 5 Series are not allowed here; use a passkey from another provider"},
		{"denied, another", Rules{DeniedAAGUIDs: []string{other}}, webauthn(yubikey, false), ""},
		{"denied, unknown provider", Rules{DeniedAAGUIDs: []string{other}}, webauthn(unknown, false),
			"passkeys from an unknown provider (AAGUID 01020304-0506-0708-0102-030405060708) are not allowed here; use a passkey from another provider"},
		{"allowed", Rules{AllowedAAGUIDs: []string{yk}}, webauthn(yubikey, false), ""},
		{"not allowed", Rules{AllowedAAGUIDs: []string{other}}, webauthn(yubikey, false),
			"only passkeys from the providers this organization approved are allowed here, and this one is from YubiKey 5 Series"},
		{"not allowed: no AAGUID", Rules{AllowedAAGUIDs: []string{yk}}, webauthn(make([]byte, 16), false),
			"only passkeys from the providers this organization approved are allowed here, and this one is from a provider that does not say who it is"},
		{"not allowed: software passkey", Rules{AllowedAAGUIDs: []string{yk}}, Credential{},
			"only passkeys from the providers this organization approved are allowed here, and this one is from a software passkey"},
		{"device-bound", Rules{DeviceBoundOnly: true}, webauthn(yubikey, false), ""},
		{"device-bound, software passkey", Rules{DeviceBoundOnly: true}, Credential{}, ""},
		{"device-bound, synced", Rules{DeviceBoundOnly: true, AllowedAAGUIDs: []string{yk}}, webauthn(yubikey, true),
			"only device-bound passkeys (such as a security key) are allowed here; this passkey from YubiKey 5 Series is synced between devices"},
	} {
		err := c.rules.Check(c.cred)
		var le *latchkey.Error
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &le) || le.Code != latchkey.CodeForbidden || le.Message != c.want):
			t.Errorf("%s: %v, want 403 %q", c.name, err, c.want)
		}
	}
}

func TestAuthenticatorRulesValidation(t *testing.T) {
	const yk = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	a := AuthenticatorConfig{DisplayName: "Admins", Config: Config{Type: HostedWeb, AuthenticationMethods: []Method{{Type: WebAuthnPasskey}},
		Rules: Rules{AllowedAAGUIDs: []string{" CB69481E-8FF7-4039-93EC-0A2729A154A8", "nope", yk}, DeniedAAGUIDs: []string{yk}}}}
	a.Config.normalize()
	if a.Config.AllowedAAGUIDs[0] != yk {
		t.Errorf("normalized %q", a.Config.AllowedAAGUIDs[0])
	}
	err := validateConfig(a, false)
	var le *latchkey.Error
	if !errors.As(err, &le) {
		t.Fatalf("validate: %v", err)
	}
	got := map[string]string{}
	for _, v := range le.Details[0].FieldViolations {
		got[v.Field] = v.Description
	}
	want := map[string]string{
		"config.allowed_aaguids[1]": "not an AAGUID (a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8)",
		"config.allowed_aaguids[2]": "listed twice",
		"config.denied_aaguids[0]":  "also in allowed_aaguids",
	}
	if len(got) != len(want) {
		t.Errorf("violations %v, want %v", got, want)
	}
	for f, d := range want {
		if got[f] != d {
			t.Errorf("%s: %q, want %q", f, got[f], d)
		}
	}
}

// TestFromAnotherDevice: which sign-ins came from another device than the
// browser's, so that a passkey on this one may be offered.
func TestFromAnotherDevice(t *testing.T) {
	webauthn := func(transports ...string) Credential {
		return Credential{WebAuthn: &WebAuthnKey{Transports: transports}}
	}
	for _, c := range []struct {
		what       string
		cred       Credential
		attachment string
		want       bool
	}{
		{"a phone over hybrid", webauthn("hybrid", "internal"), "cross-platform", true},
		{"the phone's passkey on the phone", webauthn("hybrid", "internal"), "platform", false},
		{"a hybrid passkey, the browser silent", webauthn("hybrid", "internal"), "", true},
		{"a security key on USB", webauthn("usb"), "cross-platform", false},
		{"a cross-platform passkey with no transports", webauthn(), "cross-platform", true},
		{"this device's passkey", webauthn("internal"), "platform", false},
		{"nothing known", webauthn(), "", false},
		{"a software passkey of the SDK", Credential{}, "cross-platform", false},
	} {
		if got := c.cred.FromAnotherDevice(c.attachment); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
}
