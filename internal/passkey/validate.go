package passkey

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// maxOrigins bounds the trusted origins of one config.
const maxOrigins = 100

var allMethods = []Method{{Type: WebAuthnPasskey}, {Type: SoftwarePasskey}, {Type: EmailOneTimePassword}}

// normalize fills in the defaults of a config: an embedded config invokes
// automatically and allows every method unless it says otherwise; every
// config requires user verification unless it says otherwise.
func (c *Config) normalize() {
	if c.Type == Embedded {
		if c.InvocationType == "" {
			c.InvocationType = "automatic"
		}
		if len(c.AuthenticationMethods) == 0 {
			c.AuthenticationMethods = slices.Clone(allMethods)
		}
	}
	if c.UserVerification == "" {
		c.UserVerification = UVRequired
	}
	c.Rules.normalize()
	if c.TrustedOrigins != nil {
		for i, o := range c.TrustedOrigins {
			c.TrustedOrigins[i] = strings.TrimSuffix(o, "/")
		}
	}
}

// validateConfig checks an authenticator config about to be stored; field
// names are relative to the config object.
func validateConfig(a AuthenticatorConfig, inline bool) error {
	var v latchkey.Violations
	if !inline {
		if p := directory.NameProblem(a.DisplayName, true, 64); p != "" {
			v.Add("display_name", p)
		}
	}
	c := a.Config
	switch c.Type {
	case "":
		v.Add("config.type", "empty string")
	case Embedded:
		if c.InvokeURL == "" {
			v.Add("config.invoke_url", "empty string")
		} else if !isHTTPURL(c.InvokeURL) {
			v.Add("config.invoke_url", "not an absolute http or https URL")
		}
		if len(c.TrustedOrigins) == 0 {
			v.Add("config.trusted_origins", "must list at least one origin")
		}
		if c.InvocationType != "automatic" && c.InvocationType != "manual" {
			v.Add("config.invocation_type", `must be "automatic" or "manual"`)
		}
	case HostedWeb:
		if inline {
			v.Add("config.type", "a hosted_web config cannot be given inline; use authenticator_config_id")
		}
		if len(c.AuthenticationMethods) == 0 {
			v.Add("config.authentication_methods", "must list at least one method")
		}
	case Console, Platform: // stored and returned as given, but an IdP verification must name its provider
		if c.verifyingIdP() == "" && c.verifiesByIdP() {
			v.Add("config.onboarding_configuration.verification_method.idp_id", "empty string")
		}
	default:
		v.Add("config.type", `must be one of "embedded", "hosted_web", "console", "platform"`)
	}
	if c.UserVerification != UVRequired && c.UserVerification != UVPreferred {
		v.Add("config.user_verification", `must be "required" or "preferred"`)
	}
	if len(c.TrustedOrigins) > maxOrigins {
		v.Add("config.trusted_origins", "more than 100 origins")
	}
	for i, o := range c.TrustedOrigins {
		if !isOrigin(o) {
			v.Add("config.trusted_origins["+itoa(i)+"]", "not an origin (scheme://host[:port])")
		}
	}
	c.Rules.validate(&v)
	seen := map[string]bool{}
	for i, m := range c.AuthenticationMethods {
		switch {
		case !slices.ContainsFunc(allMethods, func(a Method) bool { return a.Type == m.Type }):
			v.Add("config.authentication_methods["+itoa(i)+"].type",
				`must be one of "webauthn_passkey", "software_passkey", "email_one_time_password"`)
		case seen[m.Type]:
			v.Add("config.authentication_methods["+itoa(i)+"].type", "listed twice")
		case m.Use != "" && m.Type != EmailOneTimePassword:
			v.Add("config.authentication_methods["+itoa(i)+"].use", "only an email_one_time_password method has a use")
		case !slices.Contains([]string{"", OTPSignInAndEnroll, OTPSignIn, OTPEnroll}, m.Use):
			v.Add("config.authentication_methods["+itoa(i)+"].use", `must be "sign_in_and_enroll", "sign_in" or "enroll"`)
		}
		seen[m.Type] = true
	}
	return v.Err()
}

func itoa(i int) string { return strconv.Itoa(i) }

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isOrigin reports whether s is a web origin: scheme, host and optional port.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
