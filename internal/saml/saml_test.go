package saml_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

const base = "https://idp.example"

// providers is the SSO configs of a test: one SP per config id, and who
// may use them.
type providers struct {
	sps     map[string]saml.ServiceProvider
	allowed map[string]bool // identity ids
}

func (p *providers) ServiceProvider(_ context.Context, _, _, id string) (saml.ServiceProvider, error) {
	sp, ok := p.sps[id]
	if !ok {
		return sp, latchkey.ErrNotFound
	}
	return sp, nil
}

func (p *providers) Allowed(_ context.Context, _, _, _ string, i directory.Identity) (bool, error) {
	return p.allowed[i.ID], nil
}

type fixture struct {
	st       *sqlstore.Store
	svc      *saml.Service
	sessions *session.Service
	clock    *testenv.Clock
	realm    directory.Realm
	ada      directory.Identity
	sps      *providers
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := testenv.OpenSQLite(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clock: testenv.NewClock(), sps: &providers{sps: map[string]saml.ServiceProvider{}, allowed: map[string]bool{}}}
	f.svc = saml.NewService(st.SAML(), box, f.sps, base)
	f.svc.Clock = f.clock.Now
	f.sessions = session.NewService(st.Session(), box)
	f.sessions.Clock = f.clock.Now
	ctx, now := t.Context(), f.clock.Now()
	tenant := directory.Tenant{ID: latchkey.NewID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	f.realm = directory.Realm{ID: latchkey.NewID(), TenantID: tenant.ID, DisplayName: "R", Classification: directory.SecureCustomer, CreateTime: now, UpdateTime: now}
	f.ada = directory.Identity{ID: latchkey.NewID(), TenantID: tenant.ID, RealmID: f.realm.ID, DisplayName: "Ada Lovelace", Status: directory.StatusActive,
		Traits:     directory.Traits{Type: "traits_v0", Username: "ada", PrimaryEmailAddress: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace"},
		CreateTime: now, UpdateTime: now}
	g := directory.Group{ID: latchkey.NewID(), TenantID: tenant.ID, RealmID: f.realm.ID, DisplayName: "Engineers", CreateTime: now, UpdateTime: now}
	for _, err := range []error{st.CreateTenant(ctx, tenant), st.CreateRealm(ctx, f.realm), st.CreateIdentities(ctx, []directory.Identity{f.ada}),
		st.CreateGroup(ctx, g), st.AddMembers(ctx, g.ID, []string{f.ada.ID})} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.sps.allowed[f.ada.ID] = true
	return f
}

// keyPair is an SP's RSA key and self-signed certificate.
func keyPair(t testing.TB) (*rsa.PrivateKey, *x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour * 24)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// testSP is a real crewjam service provider for a config, and the config.
type testSP struct {
	id  string
	sp  *crewsaml.ServiceProvider
	cfg saml.ServiceProvider
}

func (f *fixture) addSP(t testing.TB, change func(*saml.ServiceProvider)) *testSP {
	t.Helper()
	id := latchkey.NewUUID()
	key, cert, certPEM := keyPair(t)
	acs, _ := url.Parse("https://sp.example/saml/acs")
	slo, _ := url.Parse("https://sp.example/saml/slo")
	cfg := saml.ServiceProvider{DisplayName: "Wiki", EntityID: "https://sp.example/saml/metadata", ACSURL: acs.String(),
		SignEnvelope: true, SignAssertions: true, SigningCertificates: []string{certPEM}, EncryptionCertificate: certPEM,
		EnableSingleLogout: true, SingleLogoutURL: slo.String(), AssertionValidity: 10 * time.Minute,
		Attributes: []saml.Attribute{{Name: "email", Value: "email"}, {Name: "groups", Value: "groups"},
			{Name: "givenName", Value: "given_name"}, {Name: "team", Value: "custom_static_string", CustomValue: "blue"}}}
	if change != nil {
		change(&cfg)
	}
	f.sps.sps[id] = cfg
	md, err := f.svc.Metadata(t.Context(), f.realm.TenantID, f.realm.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	sp := &crewsaml.ServiceProvider{EntityID: cfg.EntityID, Key: key, Certificate: cert, AcsURL: *acs, SloURL: *slo,
		IDPMetadata: md, SignatureMethod: dsig.RSASHA256SignatureMethod, AllowIDPInitiated: true,
		AuthnNameIDFormat: crewsaml.UnspecifiedNameIDFormat, Clock: dsig.NewFakeClockAt(f.clock.Now())}
	return &testSP{id: id, sp: sp, cfg: cfg}
}

func (f *fixture) path(s *testSP) string { return base + saml.Path(f.realm.TenantID, f.realm.ID, s.id) }

// redirectRequest is an AuthnRequest of the SP with the HTTP-Redirect binding.
func (f *fixture) redirectRequest(t *testing.T, s *testSP) (*http.Request, string) {
	t.Helper()
	req, err := s.sp.MakeAuthenticationRequest(f.path(s)+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, err := req.Redirect("state-1", s.sp)
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewRequest("GET", u.String(), nil), req.ID
}

// postRequest is an XML AuthnRequest (raw) with the HTTP-POST binding.
func postRequest(raw []byte, relayState string) *http.Request {
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {relayState}}
	r := httptest.NewRequest("POST", "/sso", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// signIn starts ada's session.
func (f *fixture) signIn(t testing.TB) session.Session {
	t.Helper()
	ss, _, err := f.sessions.Start(t.Context(), session.SignIn{TenantID: f.realm.TenantID, RealmID: f.realm.ID, IdentityID: f.ada.ID,
		CredentialID: "k", AMR: []string{"pop"}, ACR: "phr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// consume is the SP reading a Response.
func consume(t *testing.T, s *testSP, p saml.Post, requestIDs ...string) (*crewsaml.Assertion, error) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p.SAMLResponse)
	if err != nil {
		t.Fatal(err)
	}
	acs, _ := url.Parse(p.URL)
	return s.sp.ParseXMLResponse(raw, requestIDs, *acs)
}

func attr(a *crewsaml.Assertion, name string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name {
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	return out
}

func wantBadRequest(t *testing.T, what string, err error, contains string) {
	t.Helper()
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.CodeBadRequest || !strings.Contains(err.Error(), contains) {
		t.Errorf("%s: %v, want a bad request about %q", what, err, contains)
	}
}

// TestSPInitiated: an AuthnRequest (HTTP-Redirect) waits for a passkey,
// then its Response, signed and with a signed assertion, is what a real SP
// (crewjam) accepts: NameID, attributes, validity, InResponseTo, relay
// state; the request is spent (a second Finish and a replay are refused).
// With a live session, a new request is answered at once.
func TestSPInitiated(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, nil)
	r, id := f.redirectRequest(t, s)
	out, err := f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, nil)
	if err != nil || out.Pending == nil || out.Post != nil {
		t.Fatalf("Begin without a session: %+v, %v", out, err)
	}
	p, _, err := f.svc.Pending(ctx, f.realm.TenantID, f.realm.ID, s.id, out.Pending.ID)
	if err != nil || p.Challenge == "" || p.RequestID != id {
		t.Fatalf("Pending: %+v, %v", p, err)
	}
	ss := f.signIn(t)
	post, err := f.svc.Finish(ctx, p, "192.0.2.1:1234", ss)
	if err != nil || post.Denied != "" || post.RelayState != "state-1" || post.URL != s.cfg.ACSURL {
		t.Fatalf("Finish: %+v, %v", post, err)
	}
	a, err := consume(t, s, post, id)
	if err != nil {
		t.Fatalf("the SP refuses the Response: %v", err)
	}
	if a.Subject.NameID.Value != "ada" || a.Signature == nil {
		t.Errorf("assertion subject %+v, signature %v", a.Subject.NameID, a.Signature != nil)
	}
	if got := attr(a, "email"); len(got) != 1 || got[0] != "ada@example.com" {
		t.Errorf("email attribute %v", got)
	}
	if got := attr(a, "groups"); len(got) != 1 || got[0] != "Engineers" {
		t.Errorf("groups attribute %v", got)
	}
	if got := attr(a, "givenName"); len(got) != 1 || got[0] != "Ada" {
		t.Errorf("givenName attribute %v", got)
	}
	if got := attr(a, "team"); len(got) != 1 || got[0] != "blue" {
		t.Errorf("custom attribute %v", got)
	}
	if want := f.clock.Now().Add(10 * time.Minute); a.Conditions.NotOnOrAfter.Sub(want).Abs() > time.Millisecond {
		t.Errorf("NotOnOrAfter %v, want %v (assertion_validity)", a.Conditions.NotOnOrAfter, want)
	}
	if a.AuthnStatements[0].SessionIndex != ss.ID || a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != "urn:oasis:names:tc:SAML:2.0:ac:classes:X509" {
		t.Errorf("authn statement %+v", a.AuthnStatements[0])
	}
	if _, err := f.svc.Finish(ctx, p, "192.0.2.1:1", ss); err == nil {
		t.Error("a second Finish of one sign-in answered")
	}
	// The sign-in is in the sign-in log, in the SSO config's name, once.
	events, _, err := f.st.ListEvents(ctx, f.realm.TenantID, f.realm.ID, latchkey.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "sign_in.allowed" || events[0].ApplicationID != s.id || events[0].IdentityID != f.ada.ID || events[0].CorrelationID != p.ID {
		t.Errorf("sign-in events %+v", events)
	}
	_, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, nil)
	wantBadRequest(t, "the AuthnRequest replayed", err, "used already")

	r2, id2 := f.redirectRequest(t, s)
	out, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r2, &ss)
	if err != nil || out.Post == nil {
		t.Fatalf("Begin with a session: %+v, %v", out, err)
	}
	if _, err := consume(t, s, *out.Post, id2); err != nil {
		t.Errorf("the SP refuses the session's Response: %v", err)
	}
	// Expired: a pending sign-in is gone after its TTL.
	r3, _ := f.redirectRequest(t, s)
	out, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r3, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Minute)
	_, _, err = f.svc.Pending(ctx, f.realm.TenantID, f.realm.ID, s.id, out.Pending.ID)
	wantBadRequest(t, "an expired sign-in", err, "expired")
	if n, err := f.svc.DeleteExpiredRequests(ctx); err != nil || n != 3 {
		t.Errorf("DeleteExpiredRequests: %d, %v; want the 3 requests", n, err)
	}
}

// TestSigningOptions: each of sign_envelope and sign_assertions alone
// signs only its element, and the SP accepts either; an encrypted
// assertion is decrypted by the SP's key.
func TestSigningOptions(t *testing.T) {
	f := newFixture(t)
	ss := f.signIn(t)
	for _, tc := range []struct {
		name                                  string
		envelope, assertion, encrypt, gcmMode bool
	}{
		{"envelope only", true, false, false, false},
		{"assertion only", false, true, false, false},
		{"encrypted, signed both", true, true, true, false},
		{"encrypted AES-GCM, envelope only", true, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := f.addSP(t, func(c *saml.ServiceProvider) {
				c.SignEnvelope, c.SignAssertions, c.EncryptAssertions = tc.envelope, tc.assertion, tc.encrypt
				if tc.gcmMode {
					c.AssertionEncryptionAlgorithm = "aes256_gcm"
				}
			})
			key := s.sp.Key.(*rsa.PrivateKey)
			s.sp.EncryptionKey = key
			r, id := f.redirectRequest(t, s)
			out, err := f.svc.Begin(t.Context(), f.realm.TenantID, f.realm.ID, s.id, r, &ss)
			if err != nil || out.Post == nil {
				t.Fatalf("Begin: %+v, %v", out, err)
			}
			raw, _ := base64.StdEncoding.DecodeString(out.Post.SAMLResponse)
			if got := bytes.Contains(raw, []byte("EncryptedAssertion")); got != tc.encrypt {
				t.Errorf("encrypted: %v, want %v", got, tc.encrypt)
			}
			if !tc.encrypt {
				signatures := bytes.Count(raw, []byte("<ds:Signature "))
				if want := map[bool]int{true: 1, false: 0}[tc.envelope] + map[bool]int{true: 1, false: 0}[tc.assertion]; signatures != want {
					t.Errorf("%d signatures, want %d", signatures, want)
				}
			}
			a, err := consume(t, s, *out.Post, id)
			if err != nil || a.Subject.NameID.Value != "ada" {
				t.Fatalf("the SP: %v", err)
			}
		})
	}
}

// TestRequestRules: signed requests required (unsigned refused, signed by
// another key refused, signed by the SP's key accepted, with both
// bindings), an ACS URL that is not the SP's, an unknown issuer, XML with
// a DTD, and a request for a config that is not an SP.
func TestRequestRules(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, func(c *saml.ServiceProvider) { c.ValidateSignedRequests = true })
	begin := func(r *http.Request) error {
		_, err := f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, s.id, r, nil)
		return err
	}
	// Signed (HTTP-Redirect: SigAlg and Signature in the query).
	r, _ := f.redirectRequest(t, s)
	if err := begin(r); err != nil {
		t.Errorf("a request signed by the SP: %v", err)
	}
	// Unsigned.
	unsigned := *s.sp
	unsigned.SignatureMethod = ""
	req, err := unsigned.MakeAuthenticationRequest(f.path(s)+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := req.Redirect("", &unsigned)
	wantBadRequest(t, "an unsigned request", begin(httptest.NewRequest("GET", u.String(), nil)), "signed")
	// Signed by another key.
	other := *s.sp
	otherKey, otherCert, _ := keyPair(t)
	other.Key, other.Certificate = otherKey, otherCert
	r, _ = f.redirectRequest(t, &testSP{id: s.id, sp: &other})
	wantBadRequest(t, "a request signed by another key", begin(r), "refused")
	// HTTP-POST, signed in the XML.
	raw, err := s.sp.MakePostAuthenticationRequest("rs")
	if err != nil {
		t.Fatal(err)
	}
	if err := begin(postRequest(decodeForm(t, raw), "rs")); err != nil {
		t.Errorf("a signed POST request: %v", err)
	}
	raw, _ = other.MakePostAuthenticationRequest("rs")
	wantBadRequest(t, "a POST request signed by another key", begin(postRequest(decodeForm(t, raw), "rs")), "refused")

	// An ACS URL that is not the SP's.
	open := f.addSP(t, nil)
	req, _ = open.sp.MakeAuthenticationRequest(f.path(open)+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	req.AssertionConsumerServiceURL = "https://evil.example/acs"
	u, _ = req.Redirect("", open.sp)
	_, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, open.id, httptest.NewRequest("GET", u.String(), nil), nil)
	wantBadRequest(t, "another ACS URL", err, "assertion consumer service")
	// Another SP's request sent to this config.
	r, _ = f.redirectRequest(t, s)
	_, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, open.id, r, nil)
	wantBadRequest(t, "another SP's request", err, "refused")
	// A DTD with entity expansion.
	dtd := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>` +
		`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0">&lol2;</samlp:AuthnRequest>`
	_, err = f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, open.id, postRequest([]byte(dtd), ""), nil)
	wantBadRequest(t, "a DTD", err, "DTD")
	// Not an SP.
	if _, err := f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, "nope", r, nil); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("an unknown config: %v", err)
	}
}

// decodeForm takes the SAMLRequest out of crewjam's auto-posting form.
func decodeForm(t *testing.T, form []byte) []byte {
	t.Helper()
	s := string(form)
	i := strings.Index(s, `name="SAMLRequest" value="`)
	if i < 0 {
		t.Fatalf("no SAMLRequest in %s", form)
	}
	s = s[i+len(`name="SAMLRequest" value="`):]
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s[:strings.Index(s, `"`)], "&#43;", "+"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPolicyAndIdPInitiated: an IdP-initiated sign-in posts an unsolicited
// Response (the default relay state) that the SP accepts; an identity that
// policy does not allow gets a Response with no assertion
// (RequestDenied), as does a suspended one.
func TestPolicyAndIdPInitiated(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, func(c *saml.ServiceProvider) { c.DefaultRelayState = "/home" })
	ss := f.signIn(t)
	out, err := f.svc.IdPInitiated(ctx, f.realm.TenantID, f.realm.ID, s.id, "", httptest.NewRequest("GET", "/", nil), nil)
	if err != nil || out.Pending == nil || !out.Pending.IdPInitiated() {
		t.Fatalf("IdP-initiated without a session: %+v, %v", out, err)
	}
	post, err := f.svc.Finish(ctx, *out.Pending, "192.0.2.1:1", ss)
	if err != nil || post.RelayState != "/home" {
		t.Fatalf("Finish: %+v, %v", post, err)
	}
	if a, err := consume(t, s, post); err != nil || a.Subject.NameID.Value != "ada" {
		t.Fatalf("the SP refuses the unsolicited Response: %v", err)
	}

	f.sps.allowed[f.ada.ID] = false
	out, err = f.svc.IdPInitiated(ctx, f.realm.TenantID, f.realm.ID, s.id, "x", httptest.NewRequest("GET", "/", nil), &ss)
	if err != nil || out.Post == nil || !strings.Contains(out.Post.Denied, "policy") {
		t.Fatalf("denied by policy: %+v, %v", out, err)
	}
	events, _, err := f.st.ListEvents(ctx, f.realm.TenantID, f.realm.ID, latchkey.ListOptions{Limit: 10})
	denied := 0
	for _, e := range events {
		if e.Action == "sign_in.denied" && strings.Contains(e.Reason, "policy") && e.Outcome == "denied" {
			denied++
		}
	}
	if err != nil || len(events) != 2 || denied != 1 {
		t.Errorf("the sign-in events, one denied by policy: %+v, %v", events, err)
	}
	if _, err := consume(t, s, *out.Post); err == nil {
		t.Error("the SP accepted a denied Response")
	}
	raw, _ := base64.StdEncoding.DecodeString(out.Post.SAMLResponse)
	if !bytes.Contains(raw, []byte(crewsaml.StatusRequestDenied)) || bytes.Contains(raw, []byte("Assertion ")) {
		t.Errorf("denied Response: %s", raw)
	}
}

// TestRotation: the metadata lists the current certificate; after Rotate
// the next is published beside it but does not sign until its time; then
// it signs and the previous stays published for a week, then goes. An SP
// holding the metadata from before the switch still verifies Responses.
func TestRotation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, nil)
	signingCerts := func() []string {
		md, err := f.svc.Metadata(ctx, f.realm.TenantID, f.realm.ID, s.id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kd := range md.IDPSSODescriptors[0].KeyDescriptors {
			if kd.Use == "signing" {
				out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
			}
		}
		return out
	}
	respond := func(sp *testSP) error {
		sp.sp.Clock = dsig.NewFakeClockAt(f.clock.Now())
		r, id := f.redirectRequest(t, sp)
		ss := f.signIn(t)
		out, err := f.svc.Begin(ctx, f.realm.TenantID, f.realm.ID, sp.id, r, &ss)
		if err != nil {
			return err
		}
		_, err = consume(t, sp, *out.Post, id)
		return err
	}
	first := signingCerts()
	if len(first) != 1 {
		t.Fatalf("metadata signing certificates %d, want 1", len(first))
	}
	next, err := f.svc.Rotate(ctx, f.realm.TenantID, f.realm.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	during := signingCerts()
	if len(during) != 2 || during[0] != first[0] || during[1] != base64.StdEncoding.EncodeToString(next.DER) {
		t.Fatalf("metadata during the rotation: %d certificates", len(during))
	}
	// An SP that took the metadata during the overlap, and one that took it before.
	before := s
	refreshed := f.addSP(t, nil)
	f.clock.Advance(25 * time.Hour)
	after := signingCerts()
	if len(after) != 2 || after[0] != during[1] || after[1] != first[0] {
		t.Fatalf("metadata after the switch: current must be the new one, then the previous")
	}
	if err := respond(refreshed); err != nil {
		t.Errorf("an SP with the metadata of the overlap: %v", err)
	}
	if err := respond(before); err == nil {
		t.Errorf("an SP with only the old certificate accepted a Response of the new one")
	}
	f.clock.Advance(8 * 24 * time.Hour)
	if got := signingCerts(); len(got) != 1 || got[0] != during[1] {
		t.Errorf("metadata a week after the switch: %d certificates", len(got))
	}
}

// TestSingleLogout: a LogoutRequest signed by the SP ends the session its
// SessionIndex names; unsigned, replayed, or for another NameID it ends
// nothing.
func TestSingleLogout(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s := f.addSP(t, nil)
	ss := f.signIn(t)
	logout := func(sp *crewsaml.ServiceProvider, nameID string) (*http.Request, error) {
		u, err := sp.MakeRedirectLogoutRequest(nameID, "bye", crewsaml.WithSessionIndexes(ss.ID))
		if err != nil {
			return nil, err
		}
		return httptest.NewRequest("GET", u.String(), nil), nil
	}
	unsigned := *s.sp
	unsigned.SignatureMethod = ""
	r, err := logout(&unsigned, "ada")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Logout(ctx, f.realm.TenantID, f.realm.ID, s.id, r)
	wantBadRequest(t, "an unsigned LogoutRequest", err, "refused")
	r, _ = logout(s.sp, "bea")
	if _, ended, err := f.svc.Logout(ctx, f.realm.TenantID, f.realm.ID, s.id, r); err != nil || len(ended) != 0 {
		t.Errorf("a LogoutRequest for another NameID: ended %v, %v", ended, err)
	}
	r, _ = logout(s.sp, "ada")
	lr, ended, err := f.svc.Logout(ctx, f.realm.TenantID, f.realm.ID, s.id, r)
	if err != nil || len(ended) != 1 || ended[0].ID != ss.ID || lr.RelayState != "bye" {
		t.Fatalf("Logout: ended %v, %v", ended, err)
	}
	w := httptest.NewRecorder()
	if err := lr.WriteLogoutResponse(w, lr.MakeLogoutResponse(crewsaml.StatusSuccess)); err != nil || w.Code != http.StatusFound {
		t.Fatalf("LogoutResponse: %d, %v", w.Code, err)
	}
	resp := httptest.NewRequest("GET", w.Header().Get("Location"), nil)
	if err := s.sp.ValidateLogoutResponseRequest(resp); err != nil {
		t.Errorf("the SP refuses the LogoutResponse: %v", err)
	}
	_, _, err = f.svc.Logout(ctx, f.realm.TenantID, f.realm.ID, s.id, r)
	wantBadRequest(t, "a replayed LogoutRequest", err, "refused")
}
