package httpapi_test

import (
	"slices"
	"strings"
	"testing"
)

// signInEvents lists the realm's events that filter selects, newest first.
func signInEvents(t *testing.T, c client, realm, filter string) []map[string]any {
	t.Helper()
	return c.listAll(t, "/realms/"+realm+"/events", "events", "filter", filter)
}

// assertAllowedSignIn checks the newest allowed sign-in of identity to app:
// its steps (started, allowed, token.issued for its code) share one
// correlation id, and name the application, the identity once known, the
// passkey, the client IP and user agent, and the outcome.
func assertAllowedSignIn(t *testing.T, c client, realm, app, identity string) {
	t.Helper()
	allowed := signInEvents(t, c, realm, `action eq "sign_in.allowed" and identity_id eq "`+identity+`" and application_id eq "`+app+`"`)
	if len(allowed) == 0 {
		t.Fatalf("no sign_in.allowed of %s to %s", identity, app)
	}
	correlation := str(t, allowed[0], "correlation_id")
	steps := signInEvents(t, c, realm, `correlation_id eq "`+correlation+`"`)
	want := []string{"token.issued", "sign_in.allowed", "sign_in.started"}
	if got := actionsOf(t, steps); !slices.Equal(got, want) {
		t.Fatalf("steps of sign-in %s: %v, want %v", correlation, got, want)
	}
	for _, e := range steps {
		if e["application_id"] != app || e["resource_id"] != app || e["client_ip"] == nil || e["user_agent"] == nil {
			t.Errorf("%s: %v, want application %s, client IP and user agent", e["action"], e, app)
		}
		if e["action"] == "sign_in.started" {
			continue
		}
		if e["identity_id"] != identity || e["actor_id"] != identity || e["actor_type"] != "identity" || e["outcome"] != "allowed" {
			t.Errorf("%s: %v, want identity %s, allowed", e["action"], e, identity)
		}
	}
	if allowed[0]["credential_id"] == nil {
		t.Errorf("sign_in.allowed names no passkey: %v", allowed[0])
	}
	if steps[0]["grant_type"] != "authorization_code" {
		t.Errorf("token.issued: %v, want grant_type authorization_code", steps[0])
	}
}

// assertDeniedSignIn checks that the realm recorded a denied sign-in to app
// whose reason contains reason, with outcome denied.
func assertDeniedSignIn(t *testing.T, c client, realm, app, reason string) {
	t.Helper()
	for _, e := range signInEvents(t, c, realm, `action eq "sign_in.denied" and application_id eq "`+app+`"`) {
		if strings.Contains(str(t, e, "reason"), reason) && e["outcome"] == "denied" && e["client_ip"] != nil {
			return
		}
	}
	t.Errorf("no sign_in.denied to %s with reason %q", app, reason)
}
