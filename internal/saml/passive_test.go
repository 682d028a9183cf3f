package saml_test

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"testing"

	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey/internal/saml"
)

// passiveRequest is a signed AuthnRequest of the SP with IsPassive="true"
// (and ForceAuthn, when force), HTTP-Redirect binding.
func (f *fixture) passiveRequest(t *testing.T, s *testSP, force bool) (*http.Request, string) {
	t.Helper()
	req, err := s.sp.MakeAuthenticationRequest(f.path(s)+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	req.IsPassive = &yes
	if force {
		req.ForceAuthn = &yes
	}
	u, err := req.Redirect("state-p", s.sp)
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewRequest("GET", u.String(), nil), req.ID
}

// status reads a Response's status codes (top level, second level).
func status(t *testing.T, p saml.Post) (string, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p.SAMLResponse)
	if err != nil {
		t.Fatal(err)
	}
	var r crewsaml.Response
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	second := ""
	if r.Status.StatusCode.StatusCode != nil {
		second = r.Status.StatusCode.StatusCode.Value
	}
	if r.Assertion != nil || r.EncryptedAssertion != nil {
		t.Error("a NoPassive Response carries an assertion")
	}
	return r.Status.StatusCode.Value, second
}

// TestIsPassive: a passive AuthnRequest without a live session is answered
// at once (no page) with a signed Response of status Responder/NoPassive,
// to the SP's ACS URL with its RelayState, and is spent (a replay is
// refused); ForceAuthn with IsPassive is answered so even with a session;
// with a live session it signs in silently.
func TestIsPassive(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, func(sp *saml.ServiceProvider) { sp.ValidateSignedRequests = true })

	r, id := f.passiveRequest(t, s, false)
	out, err := f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, nil)
	if err != nil || out.Pending != nil || out.Post == nil {
		t.Fatalf("Begin of a passive request without a session: %+v, %v", out, err)
	}
	if top, second := status(t, *out.Post); top != crewsaml.StatusResponder || second != crewsaml.StatusNoPassive {
		t.Errorf("status %s / %s, want Responder / NoPassive", top, second)
	}
	if out.Post.URL != s.cfg.ACSURL || out.Post.RelayState != "state-p" {
		t.Errorf("posted to %s with RelayState %q", out.Post.URL, out.Post.RelayState)
	}
	if _, err := consume(t, s, *out.Post, id); err == nil {
		t.Error("the SP read a NoPassive Response as a sign-in")
	}
	_, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, nil)
	wantBadRequest(t, "a passive request replayed", err, "used already")

	ss := f.signIn(t)
	r, _ = f.passiveRequest(t, s, true)
	out, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, &ss)
	if err != nil || out.Post == nil {
		t.Fatalf("Begin of a passive, forced request: %+v, %v", out, err)
	}
	if _, second := status(t, *out.Post); second != crewsaml.StatusNoPassive {
		t.Errorf("IsPassive with ForceAuthn: second-level status %q, want NoPassive", second)
	}

	r, id = f.passiveRequest(t, s, false)
	out, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, &ss)
	if err != nil || out.Post == nil || out.Post.Denied != "" {
		t.Fatalf("Begin of a passive request with a session: %+v, %v", out, err)
	}
	if a, err := consume(t, s, *out.Post, id); err != nil || a.Subject.NameID.Value != "ada" {
		t.Errorf("the SP refuses the silent sign-in: %v", err)
	}
}
