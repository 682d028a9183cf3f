package oauth_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

// TestUpstreamReason: the events of a sign-in through an upstream identity
// provider name it after why (if refused); those of other sign-ins keep why.
func TestUpstreamReason(t *testing.T) {
	okta := oauth.Upstream{ID: "cfg-1", Name: "Okta"}
	for _, c := range []struct {
		via       oauth.Upstream
		why, want string
	}{
		{okta, "", `through the identity provider "Okta" (cfg-1)`},
		{okta, "the identity is suspended", `the identity is suspended; through the identity provider "Okta" (cfg-1)`},
		{oauth.Upstream{}, "no rule matches", "no rule matches"},
		{oauth.Upstream{}, "", ""},
	} {
		if got := c.via.Reason(c.why); got != c.want {
			t.Errorf("%+v.Reason(%q) = %q, want %q", c.via, c.why, got, c.want)
		}
	}
}
