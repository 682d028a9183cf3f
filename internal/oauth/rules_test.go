package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
)

// errorCode is the OAuth error code of err: "" for nil, the *Error's or
// the *RedirectError's code, or "?" for anything else.
func errorCode(err error) string {
	var plain *Error
	var redirected *RedirectError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &redirected):
		return "redirect:" + redirected.Err.Code
	case errors.As(err, &plain):
		return plain.Code
	}
	return "?"
}

func TestCheckPKCE(t *testing.T) {
	confidential := ProtocolConfig{Confidentiality: "confidential", PKCE: "disabled"}
	s256 := ProtocolConfig{Confidentiality: "confidential", PKCE: "s256"}
	plain := ProtocolConfig{Confidentiality: "confidential", PKCE: "plain"}
	public := ProtocolConfig{Confidentiality: "public"}
	for _, c := range []struct {
		name              string
		pc                ProtocolConfig
		challenge, method string
		want              string
	}{
		{"no PKCE where none is required", confidential, "", "", ""},
		{"S256 offered anyway", confidential, "c", "S256", ""},
		{"plain offered anyway", confidential, "c", "plain", ""},
		{"no method means plain", confidential, "c", "", ""},
		{"an unknown method", confidential, "c", "S512", "redirect:invalid_request"},
		{"s256 required, none sent", s256, "", "", "redirect:invalid_request"},
		{"s256 required, plain sent", s256, "c", "plain", "redirect:invalid_request"},
		{"s256 required and sent", s256, "c", "S256", ""},
		{"plain required, plain sent", plain, "c", "plain", ""},
		{"plain required, none sent", plain, "", "", "redirect:invalid_request"},
		{"a public client without PKCE", public, "", "", "redirect:invalid_request"},
		{"a public client with plain", public, "c", "plain", "redirect:invalid_request"},
		{"a public client with S256", public, "c", "S256", ""},
	} {
		p := AuthParams{RedirectURI: "https://app.example/cb", CodeChallenge: c.challenge, CodeChallengeMethod: c.method}
		if got := errorCode(checkPKCE(c.pc, p)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVerifyPKCE(t *testing.T) {
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	for _, c := range []struct {
		name     string
		p        AuthParams
		verifier string
		want     bool
	}{
		{"S256, the verifier", AuthParams{CodeChallenge: challenge, CodeChallengeMethod: "S256"}, verifier, true},
		{"S256, another verifier", AuthParams{CodeChallenge: challenge, CodeChallengeMethod: "S256"}, verifier + "x", false},
		{"S256, the challenge itself", AuthParams{CodeChallenge: challenge, CodeChallengeMethod: "S256"}, challenge, false},
		{"S256, none", AuthParams{CodeChallenge: challenge, CodeChallengeMethod: "S256"}, "", false},
		{"plain, the verifier", AuthParams{CodeChallenge: verifier, CodeChallengeMethod: "plain"}, verifier, true},
		{"plain, another", AuthParams{CodeChallenge: verifier, CodeChallengeMethod: "plain"}, "w", false},
		{"no challenge, no verifier", AuthParams{}, "", true},
		{"no challenge, a verifier", AuthParams{}, verifier, false},
	} {
		if got := verifyPKCE(c.p, c.verifier); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGrantedScopes(t *testing.T) {
	allowed := []string{"pets:read", "pets:write"}
	for _, c := range []struct {
		requested string
		want      []string
		err       string
	}{
		{"", allowed, ""},
		{"pets:read", []string{"pets:read"}, ""},
		{"pets:read pets:read pets:write", []string{"pets:read", "pets:write"}, ""},
		{"pets:read pets:delete", nil, "invalid_scope"},
	} {
		got, err := grantedScopes(c.requested, allowed)
		if errorCode(err) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("grantedScopes(%q) = %v, %v; want %v, %s", c.requested, got, err, c.want, c.err)
		}
	}
	// What it returns is the caller's to change.
	got, _ := grantedScopes("", allowed)
	got[0] = "changed"
	if allowed[0] != "pets:read" {
		t.Errorf("grantedScopes returned the allowed list itself")
	}
}

func TestWithoutOIDC(t *testing.T) {
	if got := withoutOIDC("openid pets:read profile email pets:write"); got != "pets:read pets:write" {
		t.Errorf("withoutOIDC: %q", got)
	}
}

func TestLifetime(t *testing.T) {
	for _, c := range []struct {
		configured int
		asked      string
		extendable bool
		want       time.Duration
		err        string
	}{
		{3600, "", false, time.Hour, ""},
		{3600, "60", false, time.Minute, ""},
		{3600, "7200", false, time.Hour, ""},                // never longer than configured
		{3600, "7200", true, 2 * time.Hour, ""},             // SCIM tokens may be longer
		{3600, "999999999", true, MaxSCIMTokenLifetime, ""}, // up to a bound
		{3600, "0", false, 0, "invalid_request"},
		{3600, "-5", true, 0, "invalid_request"},
		{3600, "soon", false, 0, "invalid_request"},
	} {
		got, err := lifetime(c.configured, c.asked, c.extendable)
		if errorCode(err) != c.err || got != c.want {
			t.Errorf("lifetime(%d, %q, %v) = %v, %v; want %v, %s", c.configured, c.asked, c.extendable, got, err, c.want, c.err)
		}
	}
}

func TestOnlySCIM(t *testing.T) {
	for scopes, want := range map[string]bool{
		"scim:users:read":                  true,
		"scim:users:read scim:groups:read": true,
		"scim:all identities:read":         false,
		"":                                 false,
	} {
		if got := onlySCIM(strings.Fields(scopes)); got != want {
			t.Errorf("onlySCIM(%q) = %v", scopes, got)
		}
	}
}

func TestCustomClaims(t *testing.T) {
	for raw, ok := range map[string]bool{
		"":           true,
		`{"cart":3}`: true,
		`[1,2]`:      false,
		`null`:       false,
		`"text"`:     false,
		`{"cart":`:   false,
		`{"x":"` + strings.Repeat("a", 4096) + `"}`: false,
	} {
		if _, err := customClaims(raw); (err == nil) != ok {
			t.Errorf("customClaims(%.20q…): %v, want accepted %v", raw, err, ok)
		}
	}
}

func TestSubject(t *testing.T) {
	i := directory.Identity{ID: "id1", Traits: directory.Traits{Username: "ada", PrimaryEmailAddress: "ada@example.com", ExternalID: "ext-1"}}
	for field, want := range map[string]string{"": "id1", "id": "id1", "email": "ada@example.com", "username": "ada", "external_id": "ext-1"} {
		if got := subject(field, i); got != want {
			t.Errorf("subject(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestBackchannelURIProblem(t *testing.T) {
	for uri, ok := range map[string]bool{
		"": true, "https://rp.example/logout": true, "https://rp.example/logout?x=1": true, "http://localhost:3000/bc": true,
		"http://rp.example/logout": false, "https://rp.example/logout#f": false, "com.example.app:/logout": false,
		"javascript:alert(1)": false, "/logout": false,
	} {
		if got := backchannelURIProblem(uri); (got == "") != ok {
			t.Errorf("backchannelURIProblem(%q) = %q", uri, got)
		}
	}
}
