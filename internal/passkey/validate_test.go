package passkey

import (
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// TestUserVerificationRule: a config requires user verification unless it
// says "preferred": a new config is given "required", one stored before
// the field existed (empty) and no config at all require it, and no other
// value is accepted.
func TestUserVerificationRule(t *testing.T) {
	for _, c := range []struct {
		stored string
		want   protocol.UserVerificationRequirement
	}{{"", protocol.VerificationRequired}, {UVRequired, protocol.VerificationRequired}, {UVPreferred, protocol.VerificationPreferred}} {
		if got := (Config{UserVerification: c.stored}).userVerification(); got != c.want {
			t.Errorf("user_verification %q asks %s, want %s", c.stored, got, c.want)
		}
	}

	c := Config{Type: HostedWeb, AuthenticationMethods: []Method{{Type: WebAuthnPasskey}}}
	c.normalize()
	if c.UserVerification != UVRequired {
		t.Errorf("a new config's user_verification is %q, want required", c.UserVerification)
	}
	for uv, ok := range map[string]bool{UVRequired: true, UVPreferred: true, "discouraged": false, "Preferred": false} {
		c.UserVerification = uv
		if err := validateConfig(AuthenticatorConfig{DisplayName: "X", Config: c}, false); (err == nil) != ok {
			t.Errorf("user_verification %q: %v", uv, err)
		}
	}
}
