package saml_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
)

const (
	rpRealm = "urn:wiki:example"
	rpReply = "https://wiki.example/wsfed"
)

// addRP adds a ws_fed config: a relying party whose tokens carry a UPN claim
// (a namespaced attribute) and the groups.
func (f *fixture) addRP(t testing.TB) string {
	t.Helper()
	id := latchkey.NewUUID()
	f.sps.sps[id] = saml.ServiceProvider{DisplayName: "Wiki", WSFed: true, EntityID: rpRealm, ACSURL: rpReply,
		SubjectUserNameAttribute: "email", NameFormat: "email_address", AuthenticationContext: "password_protected_transport",
		SignAssertions: true, AssertionValidity: time.Hour,
		Attributes: []saml.Attribute{{Name: "upn", Value: "email", Namespace: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"},
			{Name: "groups", Value: "groups"}}}
	return id
}

// realmCert is the realm's current signing certificate, as the SAML
// metadata of a SAML config of the realm publishes it.
func (f *fixture) realmCert(t testing.TB) *x509.Certificate {
	t.Helper()
	s := f.addSP(t, nil)
	md, err := f.svc.Metadata(t.Context(), f.realm.TenantID, f.realm.ID, s.id)
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(md.IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verified is el checked against cert (goxmldsig, as SPs check): the
// signed element, or an error.
func (f *fixture) verified(cert *x509.Certificate, el *etree.Element) (*etree.Element, error) {
	v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	v.Clock = dsig.NewFakeClockAt(f.clock.Now())
	return v.Validate(el)
}

// rstrAssertion reads a wresult as a relying party does: the signed SAML
// 2.0 assertion, the first child of RequestedSecurityToken.
func (f *fixture) rstrAssertion(t *testing.T, cert *x509.Certificate, wresult string) *crewsaml.Assertion {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(wresult); err != nil {
		t.Fatal(err)
	}
	rstr := doc.Root()
	if rstr.Tag != "RequestSecurityTokenResponse" || rstr.NamespaceURI() != "http://schemas.xmlsoap.org/ws/2005/02/trust" {
		t.Fatalf("wresult is %s", wresult)
	}
	if got := rstr.FindElement("./TokenType").Text(); got != "urn:oasis:names:tc:SAML:2.0:assertion" {
		t.Errorf("TokenType %s", got)
	}
	if got := rstr.FindElement("./AppliesTo/EndpointReference/Address").Text(); got != rpRealm {
		t.Errorf("AppliesTo %s", got)
	}
	token := rstr.FindElement("./RequestedSecurityToken")
	if token == nil || len(token.Child) == 0 {
		t.Fatalf("no RequestedSecurityToken: %s", wresult)
	}
	el, ok := token.Child[0].(*etree.Element)
	if !ok || el.Tag != "Assertion" {
		t.Fatalf("RequestedSecurityToken's first node is %#v", token.Child[0])
	}
	signed, err := f.verified(cert, el)
	if err != nil {
		t.Fatalf("the assertion's signature: %v", err)
	}
	out := etree.NewDocument()
	out.SetRoot(signed.Copy())
	raw, _ := out.WriteToBytes()
	var a crewsaml.Assertion
	if err := xml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// TestWSFedMetadata: a ws_fed config's federation metadata is signed by the
// realm's key, names it, and says where the passive requestor endpoint is;
// SAML's endpoints do not serve a ws_fed config, nor WS-Federation's a
// SAML one.
func TestWSFedMetadata(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.addRP(t)
	cert := f.realmCert(t)
	raw, err := f.svc.WSFedMetadata(ctx, f.realm.TenantID, f.realm.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	ed := doc.Root()
	if first := ed.ChildElements()[0]; first.Tag != "Signature" {
		t.Errorf("the metadata's first child is %s, not its Signature", first.Tag)
	}
	if _, err := f.verified(cert, ed); err != nil {
		t.Errorf("the metadata's signature: %v", err)
	}
	endpoint := base + saml.WSFedPath(f.realm.TenantID, f.realm.ID, id)
	if got := ed.SelectAttrValue("entityID", ""); got != endpoint+"/metadata" {
		t.Errorf("entityID %s", got)
	}
	role := ed.FindElement("./RoleDescriptor")
	if role == nil || role.SelectAttrValue("xsi:type", "") != "fed:SecurityTokenServiceType" || role.SelectAttrValue("xmlns:fed", "") != "http://docs.oasis-open.org/wsfed/federation/200706" ||
		role.SelectAttrValue("protocolSupportEnumeration", "") != "http://docs.oasis-open.org/wsfed/federation/200706" {
		t.Fatalf("RoleDescriptor %v", role)
	}
	if got := role.FindElement("./PassiveRequestorEndpoint/EndpointReference/Address").Text(); got != endpoint {
		t.Errorf("PassiveRequestorEndpoint %s", got)
	}
	if got := role.FindElement("./KeyDescriptor/KeyInfo/X509Data/X509Certificate").Text(); got != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Error("the metadata does not name the realm's signing certificate")
	}

	if _, err := f.svc.Metadata(ctx, f.realm.TenantID, f.realm.ID, id); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("SAML metadata of a ws_fed config: %v", err)
	}
	s := f.addSP(t, nil)
	if _, err := f.svc.WSFedMetadata(ctx, f.realm.TenantID, f.realm.ID, s.id); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("WS-Federation metadata of a SAML config: %v", err)
	}
	in := saml.WSFedSignIn{Realm: s.cfg.EntityID}
	if _, err := f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, s.id, in, "192.0.2.1:1", nil); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("wsignin1.0 to a SAML config: %v", err)
	}
	if _, err := f.svc.WSFedMetadata(ctx, f.realm.TenantID, f.realm.ID, "nope"); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("WS-Federation metadata of no config: %v", err)
	}
}

// TestWSFedSignIn: a wsignin1.0 waits for a passkey, then its token is a
// signed SAML 2.0 assertion in an RSTR, posted with wctx to the reply URL:
// audience the realm, subject, namespaced claims, validity as configured;
// the sign-in is spent once. With a live session the token comes at once,
// unless wfresh asks for a fresher sign-in.
func TestWSFedSignIn(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.addRP(t)
	cert := f.realmCert(t)
	in := saml.WSFedSignIn{Realm: rpRealm, Context: "rm=0&id=passive&ru=%2f"}
	out, err := f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, id, in, "192.0.2.1:1234", nil)
	if err != nil || out.Pending == nil || out.Post != nil {
		t.Fatalf("wsignin1.0 without a session: %+v, %v", out, err)
	}
	p, _, err := f.svc.Pending(ctx, f.realm.TenantID, f.realm.ID, id, out.Pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	ss := f.signIn(t)
	post, err := f.svc.Finish(ctx, p, "192.0.2.1:1234", ss)
	if err != nil || post.Denied != "" || post.URL != rpReply || post.SAMLResponse != "" {
		t.Fatalf("Finish: %+v, %v", post, err)
	}
	fields := post.Fields()
	if fields["wa"] != "wsignin1.0" || fields["wctx"] != in.Context || fields["wresult"] == "" || len(fields) != 3 {
		t.Errorf("form fields %v", fields)
	}
	a := f.rstrAssertion(t, cert, post.WResult)
	if a.Subject.NameID.Value != "ada@example.com" || a.Subject.NameID.Format != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" {
		t.Errorf("NameID %+v", a.Subject.NameID)
	}
	if got := a.Conditions.AudienceRestrictions[0].Audience.Value; got != rpRealm {
		t.Errorf("Audience %s", got)
	}
	confirm := a.Subject.SubjectConfirmations[0].SubjectConfirmationData
	if confirm.Recipient != rpReply || confirm.InResponseTo != "" {
		t.Errorf("SubjectConfirmationData %+v", confirm)
	}
	if want := f.clock.Now().Add(time.Hour); a.Conditions.NotOnOrAfter.Sub(want).Abs() > time.Millisecond {
		t.Errorf("NotOnOrAfter %v, want %v (expiration_time_seconds)", a.Conditions.NotOnOrAfter, want)
	}
	if got := attr(a, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"); len(got) != 1 || got[0] != "ada@example.com" {
		t.Errorf("upn claim %v", got)
	}
	if got := attr(a, "groups"); len(got) != 1 || got[0] != "Engineers" {
		t.Errorf("groups claim %v", got)
	}
	if got := a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" {
		t.Errorf("AuthnContextClassRef %s", got)
	}
	if issuer := a.Issuer.Value; issuer != base+saml.WSFedPath(f.realm.TenantID, f.realm.ID, id)+"/metadata" {
		t.Errorf("Issuer %s", issuer)
	}
	_, err = f.svc.Finish(ctx, p, "192.0.2.1:1", ss)
	wantBadRequest(t, "a second Finish of one wsignin", err, "finished")

	out, err = f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, id, saml.WSFedSignIn{Realm: rpRealm, Reply: rpReply}, "192.0.2.1:1", &ss)
	if err != nil || out.Post == nil || out.Post.Denied != "" {
		t.Fatalf("wsignin1.0 with a session: %+v, %v", out, err)
	}
	f.rstrAssertion(t, cert, out.Post.WResult)
	if _, ok := out.Post.Fields()["wctx"]; ok {
		t.Error("a wsignin1.0 without wctx is answered with one")
	}

	// wfresh: a session signed in longer ago than it allows asks for the
	// passkey again; a fresh enough one answers.
	f.clock.Advance(10 * time.Minute)
	for fresh, wantPending := range map[string]bool{"0": true, "5": true, "15": false} {
		out, err = f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, id, saml.WSFedSignIn{Realm: rpRealm, Fresh: fresh}, "192.0.2.1:1", &ss)
		if err != nil || (out.Pending != nil) != wantPending || (out.Post != nil) == wantPending {
			t.Errorf("wfresh=%s, signed in 10 minutes ago: %+v, %v; want pending %v", fresh, out, err, wantPending)
		}
		if wantPending && !out.Pending.ForceAuthn {
			t.Errorf("wfresh=%s: the pending sign-in does not force the passkey", fresh)
		}
	}
}

// TestWSFedRefusals: wsignin1.0 with no or another realm, another reply
// URL or an overlong wctx is a bad request; an identity the config's
// assignments do not allow gets a SOAP fault, not a token; a suspended
// session's sign-in is not answered at once.
func TestWSFedRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.addRP(t)
	ss := f.signIn(t)
	for _, tc := range []struct {
		name string
		in   saml.WSFedSignIn
		want string
	}{
		{"no wtrealm", saml.WSFedSignIn{}, "no wtrealm"},
		{"another realm", saml.WSFedSignIn{Realm: "urn:evil"}, "not this relying party's realm"},
		{"wreply not configured", saml.WSFedSignIn{Realm: rpRealm, Reply: "https://evil.example/wsfed"}, "not this relying party's reply URL"},
		{"wctx too long", saml.WSFedSignIn{Realm: rpRealm, Context: strings.Repeat("x", 5000)}, "wctx"},
		{"wfresh not minutes", saml.WSFedSignIn{Realm: rpRealm, Fresh: "soon"}, "wfresh"},
		{"wfresh negative", saml.WSFedSignIn{Realm: rpRealm, Fresh: "-1"}, "wfresh"},
	} {
		_, err := f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, id, tc.in, "192.0.2.1:1", &ss)
		wantBadRequest(t, tc.name, err, tc.want)
	}
	if _, err := f.svc.WSFedSignIn(ctx, f.realm.TenantID, "other-realm", "nope", saml.WSFedSignIn{Realm: rpRealm}, "192.0.2.1:1", &ss); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("wsignin1.0 to no config: %v", err)
	}

	f.sps.allowed[f.ada.ID] = false
	out, err := f.svc.WSFedSignIn(ctx, f.realm.TenantID, f.realm.ID, id, saml.WSFedSignIn{Realm: rpRealm}, "192.0.2.1:1", &ss)
	if err != nil || out.Post == nil || !strings.Contains(out.Post.Denied, "policy does not let") {
		t.Fatalf("wsignin1.0 the assignments deny: %+v, %v", out, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(out.Post.WResult); err != nil {
		t.Fatal(err)
	}
	if doc.Root().Tag != "Fault" || doc.FindElement("//Subcode/Value").Text() != "t:RequestFailed" ||
		!strings.Contains(doc.FindElement("//Reason/Text").Text(), "policy does not let") || strings.Contains(out.Post.WResult, "Assertion") {
		t.Errorf("the denial's wresult %s", out.Post.WResult)
	}
	events, _, err := f.st.ListEvents(ctx, f.realm.TenantID, f.realm.ID, latchkey.ListOptions{Limit: 10})
	if err != nil || len(events) != 1 || events[0].Action != "sign_in.denied" || events[0].ApplicationID != id {
		t.Errorf("sign-in events %+v, %v", events, err)
	}
}

// TestWSFedSignOut: wsignout1.0 ends the browser's session and sends it to
// wreply only when that is the reply URL; another realm's session stays.
func TestWSFedSignOut(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.addRP(t)
	ss := f.signIn(t)
	to, err := f.svc.WSFedSignOut(ctx, f.realm.TenantID, f.realm.ID, id, "https://evil.example/", &ss)
	if err != nil || to != "" {
		t.Errorf("wsignout1.0 with another wreply: %q, %v", to, err)
	}
	got, err := f.st.GetSession(ctx, ss.ID)
	if err != nil || got.Live(f.clock.Now()) || got.EndReason != session.ReasonSignedOut {
		t.Errorf("the session after wsignout1.0: %+v, %v", got, err)
	}
	other := f.signIn(t)
	if _, err := f.svc.WSFedSignOut(ctx, f.realm.TenantID, "another-realm", id, "", &other); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.GetSession(ctx, other.ID); !got.Live(f.clock.Now()) {
		t.Error("a sign-out in another realm's path ended the session")
	}
	to, err = f.svc.WSFedSignOut(ctx, f.realm.TenantID, f.realm.ID, id, rpReply, nil)
	if err != nil || to != rpReply {
		t.Errorf("wsignout1.0 to the reply URL: %q, %v", to, err)
	}
	s := f.addSP(t, nil)
	if _, err := f.svc.WSFedSignOut(ctx, f.realm.TenantID, f.realm.ID, s.id, "", &other); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("wsignout1.0 of a SAML config: %v", err)
	}
}

// TestWSFedSAML11: a relying party that asks for SAML 1.1 tokens gets one,
// signed (its ID attribute AssertionID), with the same subject, audience,
// validity and claims (AttributeNamespace and AttributeName).
func TestWSFedSAML11(t *testing.T) {
	f := newFixture(t)
	id := f.addRP(t)
	rp := f.sps.sps[id]
	rp.SAML11 = true
	f.sps.sps[id] = rp
	cert := f.realmCert(t)
	ss := f.signIn(t)
	out, err := f.svc.WSFedSignIn(t.Context(), f.realm.TenantID, f.realm.ID, id, saml.WSFedSignIn{Realm: rpRealm}, "192.0.2.1:1", &ss)
	if err != nil || out.Post == nil || out.Post.Denied != "" {
		t.Fatalf("wsignin1.0: %+v, %v", out, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(out.Post.WResult); err != nil {
		t.Fatal(err)
	}
	if got := doc.FindElement("//TokenType").Text(); got != "urn:oasis:names:tc:SAML:1.0:assertion" {
		t.Errorf("TokenType %s", got)
	}
	el := doc.FindElement("//RequestedSecurityToken").ChildElements()[0]
	v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	v.Clock, v.IdAttribute = dsig.NewFakeClockAt(f.clock.Now()), "AssertionID"
	a, err := v.Validate(el)
	if err != nil {
		t.Fatalf("the SAML 1.1 assertion's signature: %v", err)
	}
	if a.Space != "saml" || a.NamespaceURI() != "urn:oasis:names:tc:SAML:1.0:assertion" || a.SelectAttrValue("MajorVersion", "") != "1" || a.SelectAttrValue("MinorVersion", "") != "1" {
		t.Errorf("not a SAML 1.1 assertion: %s", out.Post.WResult)
	}
	if got := a.FindElement("./Conditions/AudienceRestrictionCondition/Audience").Text(); got != rpRealm {
		t.Errorf("Audience %s", got)
	}
	if got := a.FindElement("./Conditions").SelectAttrValue("NotOnOrAfter", ""); got != f.clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("NotOnOrAfter %s", got)
	}
	if got := a.FindElement("./AuthenticationStatement/Subject/NameIdentifier").Text(); got != "ada@example.com" {
		t.Errorf("NameIdentifier %s", got)
	}
	upn := a.FindElement("./AttributeStatement/Attribute[@AttributeName='upn']")
	if upn == nil || upn.SelectAttrValue("AttributeNamespace", "") != "http://schemas.xmlsoap.org/ws/2005/05/identity/claims" || upn.FindElement("./AttributeValue").Text() != "ada@example.com" {
		t.Errorf("upn claim %v", upn)
	}
	if groups := a.FindElement("./AttributeStatement/Attribute[@AttributeName='groups']"); groups == nil || groups.FindElement("./AttributeValue").Text() != "Engineers" {
		t.Errorf("groups claim %v", groups)
	}
}
