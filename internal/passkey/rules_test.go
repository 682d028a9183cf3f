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
		AuthenticationMethods: []Method{{WebAuthnPasskey}}}}
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
			c.AuthenticationMethods = []Method{{WebAuthnPasskey}, {WebAuthnPasskey}}
		}), false, "config.authentication_methods[1].type"},
		{"an unknown method", embedded(func(c *Config) { c.AuthenticationMethods = []Method{{"carrier_pigeon"}} }), false, "config.authentication_methods[0].type"},
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
