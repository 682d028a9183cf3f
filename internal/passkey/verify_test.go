package passkey

import (
	"encoding/json"
	"testing"
)

// TestVerifyingIdP: the identity provider that must vouch for a job's
// identity is the job's idp_authorization, else its console config's
// verification_method idp; none for none, magic links and other types;
// a console config verifying by idp must name it.
func TestVerifyingIdP(t *testing.T) {
	config := func(raw string) Config {
		var c Config
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	byIdP := config(`{"type":"console","onboarding_configuration":{"verification_method":{"type":"idp","idp_id":"idp-1"}}}`)
	job := BindingJob{VerificationDetails: &VerificationDetails{IdPAuthorization: &IdPAuthorization{IdentityProviderID: "idp-2"}}}
	for _, tc := range []struct {
		what string
		inv  Invocation
		want string
	}{
		{"a console config verifying by idp", Invocation{Config: AuthenticatorConfig{Config: byIdP}}, "idp-1"},
		{"the job's idp_authorization first", Invocation{Job: job, Config: AuthenticatorConfig{Config: byIdP}}, "idp-2"},
		{"a console config verifying by none", Invocation{Config: AuthenticatorConfig{Config: config(`{"type":"console","onboarding_configuration":{"verification_method":{"type":"none"}}}`)}}, ""},
		{"a hosted config", Invocation{Config: AuthenticatorConfig{Config: config(`{"type":"hosted_web","onboarding_configuration":{"verification_method":{"type":"idp","idp_id":"x"}}}`)}}, ""},
		{"a magic link", Invocation{Job: BindingJob{VerificationDetails: &VerificationDetails{MagicLink: &struct{}{}}}}, ""},
	} {
		if got := tc.inv.VerifyingIdP(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, got, tc.want)
		}
	}
	err := validateConfig(AuthenticatorConfig{DisplayName: "C", Config: config(`{"type":"console","onboarding_configuration":{"verification_method":{"type":"idp"}}}`)}, false)
	if err == nil {
		t.Error("a console config verifying by an unnamed idp is valid")
	}
}
