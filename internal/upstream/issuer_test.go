package upstream

import "testing"

// TestIssuerOf: the issuer an ID token may name is the authorization
// endpoint's origin, or a URL there whose path is a prefix of the
// endpoint's by whole segments.
func TestIssuerOf(t *testing.T) {
	for _, tc := range []struct {
		iss, authorize string
		want           bool
	}{
		{"https://acme.okta.com", "https://acme.okta.com/oauth2/v1/authorize", true},
		{"https://acme.okta.com/", "https://acme.okta.com/oauth2/v1/authorize", true},
		{"https://acme.okta.com/oauth2/default", "https://acme.okta.com/oauth2/default/v1/authorize", true},
		{"https://accounts.google.com", "https://accounts.google.com/o/oauth2/v2/auth", true},
		{"http://localhost:8080/v1/tenants/t/realms/r/applications/a", "http://localhost:8080/v1/tenants/t/realms/r/applications/a/authorize", true},
		{"https://acme.okta.com/oauth2/def", "https://acme.okta.com/oauth2/default/v1/authorize", false},
		{"https://acme.okta.com/oauth2/other", "https://acme.okta.com/oauth2/default/v1/authorize", false},
		{"http://acme.okta.com", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"https://evil.example", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"https://acme.okta.com.evil.example", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"https://acme.okta.com:444", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"https://user@acme.okta.com", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"https://acme.okta.com?x=1", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"", "https://acme.okta.com/oauth2/v1/authorize", false},
		{"acme.okta.com", "https://acme.okta.com/oauth2/v1/authorize", false},
	} {
		if got := issuerOf(tc.iss, tc.authorize); got != tc.want {
			t.Errorf("issuerOf(%q, %q) = %v, want %v", tc.iss, tc.authorize, got, tc.want)
		}
	}
}
