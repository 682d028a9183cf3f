package saml

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
)

// WS-Federation 1.2's passive requestor profile, as ADFS speaks it and
// relying parties (SharePoint, passport-wsfed-saml2, WIF) expect it: the
// token is a SAML 2.0 assertion, made and signed as SAML Responses' are
// (makeAssertion), in a WS-Trust 1.2 RequestSecurityTokenResponse.
const (
	fedNS       = "http://docs.oasis-open.org/wsfed/federation/200706"
	trustNS     = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	policyNS    = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	addressNS   = "http://www.w3.org/2005/08/addressing"
	utilityNS   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	soapNS      = "http://www.w3.org/2003/05/soap-envelope"
	saml2Token  = "urn:oasis:names:tc:SAML:2.0:assertion"
	saml11Token = "urn:oasis:names:tc:SAML:1.0:assertion"
)

// maxWSFedContext is the longest wctx kept for the reply: it comes back in
// a form, and no relying party needs more than an id or a short URL.
const maxWSFedContext = 4096

// WSFedPath is where a ws_fed config's WS-Federation endpoints live, under
// BaseURL: the passive requestor endpoint itself (wa=wsignin1.0,
// wsignout1.0, wsignoutcleanup1.0) and /metadata (its URL is the issuer).
func WSFedPath(tenantID, realmID, configID string) string {
	return "/v1/tenants/" + tenantID + "/realms/" + realmID + "/sso-configs/" + configID + "/wsfed"
}

// WSFedSignIn is a wsignin1.0 message: the relying party's realm
// (wtrealm), where the token goes (wreply; "" is the configured reply URL),
// its context (wctx), echoed back, and how fresh the sign-in must be
// (wfresh, minutes; "0" asks for the passkey every time, "" says nothing).
type WSFedSignIn struct {
	Realm, Reply, Context, Fresh string
}

// WSFedSignIn takes a relying party's wsignin1.0 for the config (a ws_fed
// one): wtrealm must be its realm and wreply, if given, its reply URL. With
// the browser's live session (current, not nil; clientIP, the browser's),
// signed in as recently as wfresh asks, the token is made at once; else the
// sign-in waits for a passkey on the hosted page (Outcome.Pending), which
// finishes it as SAML's (Finish).
func (s *Service) WSFedSignIn(ctx context.Context, tenantID, realmID, configID string, in WSFedSignIn, clientIP string, current *session.Session) (Outcome, error) {
	idp, sp, ed, err := s.provider(ctx, tenantID, realmID, configID, servesWSFed)
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case in.Realm == "":
		return Outcome{SP: sp}, badRequest("the sign-in request has no wtrealm")
	case in.Realm != sp.EntityID:
		return Outcome{SP: sp}, badRequest("the wtrealm %q is not this relying party's realm", in.Realm)
	case in.Reply != "" && in.Reply != sp.ACSURL:
		return Outcome{SP: sp}, badRequest("the wreply %q is not this relying party's reply URL", in.Reply)
	case len(in.Context) > maxWSFedContext:
		return Outcome{SP: sp}, badRequest("the wctx is longer than %d bytes", maxWSFedContext)
	}
	now := s.Clock.Now()
	// A session signed in longer ago than wfresh allows does not answer.
	force := false
	if in.Fresh != "" {
		minutes, err := strconv.Atoi(in.Fresh)
		if err != nil || minutes < 0 {
			return Outcome{SP: sp}, badRequest("the wfresh %q is not a number of minutes", in.Fresh)
		}
		force = current == nil || now.Sub(current.AuthTime) >= time.Duration(minutes)*time.Minute
	}
	id := latchkey.NewUUID()
	// A wsignin1.0 has no ID to answer, like an IdP-initiated SAML sign-in.
	pending := Request{ID: id, TenantID: tenantID, RealmID: realmID, ConfigID: configID, RequestID: id,
		ACSURL: sp.ACSURL, RelayState: in.Context,
		Challenge:  base64.RawURLEncoding.EncodeToString([]byte(latchkey.RandomString(32))),
		ForceAuthn: force, CreateTime: now, ExpireTime: now.Add(requestTTL)}
	req, err := s.request(idp, ed, pending, clientIP)
	if err != nil {
		return Outcome{SP: sp}, err
	}
	return s.begin(ctx, idp, sp, req, pending, current, false)
}

// wsfedRespond makes the wresult the decision calls for: a
// RequestSecurityTokenResponse with the signed assertion for its identity
// (audience the realm, valid as the config says), or a SOAP fault
// (wst:RequestFailed) that says why not.
func (s *Service) wsfedRespond(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, d decision, signedIn session.Session) (Post, error) {
	post := Post{URL: req.ACSEndpoint.Location, RelayState: req.RelayState, Denied: d.denied}
	doc := etree.NewDocument()
	if d.denied != "" {
		fault := doc.CreateElement("s:Fault")
		fault.CreateAttr("xmlns:s", soapNS)
		code := fault.CreateElement("s:Code")
		code.CreateElement("s:Value").SetText("s:Sender")
		sub := code.CreateElement("s:Subcode").CreateElement("s:Value")
		sub.CreateAttr("xmlns:t", trustNS)
		sub.SetText("t:RequestFailed")
		text := fault.CreateElement("s:Reason").CreateElement("s:Text")
		text.CreateAttr("xml:lang", "en")
		text.SetText(d.denied)
	} else {
		// A WS-Federation token is always signed: it travels alone.
		sp.SignAssertions = true
		makeAssertion, tokenType := s.makeAssertion, saml2Token
		if sp.SAML11 {
			makeAssertion, tokenType = s.makeAssertion11, saml11Token
		}
		assertionEl, err := makeAssertion(req, sp, d.identity, d.groups, signedIn)
		if err != nil {
			return Post{}, err
		}
		rstr := doc.CreateElement("t:RequestSecurityTokenResponse")
		rstr.CreateAttr("xmlns:t", trustNS)
		life := rstr.CreateElement("t:Lifetime")
		life.CreateAttr("xmlns:wsu", utilityNS)
		life.CreateElement("wsu:Created").SetText(req.Now.UTC().Format(time.RFC3339Nano))
		life.CreateElement("wsu:Expires").SetText(req.Now.Add(sp.validity()).UTC().Format(time.RFC3339Nano))
		applies := rstr.CreateElement("wsp:AppliesTo")
		applies.CreateAttr("xmlns:wsp", policyNS)
		epr := applies.CreateElement("wsa:EndpointReference")
		epr.CreateAttr("xmlns:wsa", addressNS)
		epr.CreateElement("wsa:Address").SetText(sp.EntityID)
		// The assertion is the token element's first child, with no
		// whitespace before it: relying parties take the first node.
		rstr.CreateElement("t:RequestedSecurityToken").AddChild(assertionEl)
		rstr.CreateElement("t:TokenType").SetText(tokenType)
		rstr.CreateElement("t:RequestType").SetText(trustNS + "/Issue")
		rstr.CreateElement("t:KeyType").SetText("http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
	}
	var err error
	post.WResult, err = doc.WriteToString()
	return post, err
}

// WSFedMetadata is a ws_fed config's federation metadata, signed by the
// realm's current key: an EntityDescriptor whose entity ID is the issuer of
// its tokens, with a RoleDescriptor of type fed:SecurityTokenServiceType
// that names the realm's signing certificates (the current one first, then
// the next and the previous), the token type and the passive requestor
// endpoint.
func (s *Service) WSFedMetadata(ctx context.Context, tenantID, realmID, configID string) ([]byte, error) {
	idp, _, _, err := s.provider(ctx, tenantID, realmID, configID, servesWSFed)
	if err != nil {
		return nil, err
	}
	ed := etree.NewElement("EntityDescriptor")
	ed.CreateAttr("xmlns", "urn:oasis:names:tc:SAML:2.0:metadata")
	ed.CreateAttr("ID", "_"+latchkey.NewUUID())
	ed.CreateAttr("entityID", idp.MetadataURL.String())
	role := ed.CreateElement("RoleDescriptor")
	role.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	role.CreateAttr("xmlns:fed", fedNS)
	role.CreateAttr("xsi:type", "fed:SecurityTokenServiceType")
	role.CreateAttr("protocolSupportEnumeration", fedNS)
	for _, c := range append([]*x509.Certificate{idp.Certificate}, idp.ExtraCertificates...) {
		key := role.CreateElement("KeyDescriptor")
		key.CreateAttr("use", "signing")
		info := key.CreateElement("KeyInfo")
		info.CreateAttr("xmlns", "http://www.w3.org/2000/09/xmldsig#")
		info.CreateElement("X509Data").CreateElement("X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	role.CreateElement("fed:TokenTypesOffered").CreateElement("fed:TokenType").CreateAttr("Uri", saml2Token)
	for _, name := range []string{"fed:SecurityTokenServiceEndpoint", "fed:PassiveRequestorEndpoint"} {
		epr := role.CreateElement(name).CreateElement("wsa:EndpointReference")
		epr.CreateAttr("xmlns:wsa", addressNS)
		epr.CreateElement("wsa:Address").SetText(idp.SSOURL.String())
	}
	signing, err := signingContext(idp)
	if err != nil {
		return nil, err
	}
	// Signing canonicalizes the element it is given, in place: the
	// RoleDescriptor would lose the fed namespace that its xsi:type names.
	// So a copy is signed, and its signature goes into ed, first, as the
	// metadata schema orders it.
	signed, err := signing.SignEnveloped(ed.Copy())
	if err != nil {
		return nil, err
	}
	ed.InsertChildAt(0, signed.ChildElements()[len(signed.ChildElements())-1])
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(ed)
	return doc.WriteToBytes()
}

// WSFedSignOut ends the browser's session (current; nil is none) for a
// wsignout1.0 or wsignoutcleanup1.0 of the config (a ws_fed one), and
// says where the browser goes then: reply, when it is the relying party's
// reply URL exactly, or "" (Latchkey shows that it signed out).
func (s *Service) WSFedSignOut(ctx context.Context, tenantID, realmID, configID, reply string, current *session.Session) (string, error) {
	sp, err := s.Providers.ServiceProvider(ctx, tenantID, realmID, configID)
	if err == nil && !sp.WSFed {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if current != nil && current.TenantID == tenantID && current.RealmID == realmID {
		err := s.store.Update(ctx, func(tx Tx) error {
			_, err := tx.EndSessions(ctx, session.End{At: s.Clock.Now(), Reason: session.ReasonSignedOut, IDs: []string{current.ID}})
			return err
		})
		if err != nil {
			return "", err
		}
	}
	if reply != "" && reply == sp.ACSURL {
		return reply, nil
	}
	return "", nil
}

// makeAssertion11 is makeAssertion's assertion as SAML 1.1 has it, for the
// relying parties that take no other (SharePoint's trusted identity
// providers): the same subject, claims, audience, validity and
// authentication, signed. crewjam makes no SAML 1.1, so it is built here;
// goxmldsig signs it, its ID attribute AssertionID.
func (s *Service) makeAssertion11(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, i directory.Identity, groups []directory.Group, signedIn session.Session) (*etree.Element, error) {
	const ns = "urn:oasis:names:tc:SAML:1.0:assertion"
	at := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", ns)
	a.CreateAttr("MajorVersion", "1")
	a.CreateAttr("MinorVersion", "1")
	a.CreateAttr("AssertionID", "_"+latchkey.NewUUID())
	a.CreateAttr("Issuer", req.IDP.MetadataURL.String())
	a.CreateAttr("IssueInstant", at(req.Now))
	conditions := a.CreateElement("saml:Conditions")
	conditions.CreateAttr("NotBefore", at(req.Now.Add(-crewsaml.MaxClockSkew)))
	conditions.CreateAttr("NotOnOrAfter", at(req.Now.Add(sp.validity())))
	conditions.CreateElement("saml:AudienceRestrictionCondition").CreateElement("saml:Audience").SetText(sp.EntityID)
	subject := etree.NewElement("saml:Subject")
	name := subject.CreateElement("saml:NameIdentifier")
	name.CreateAttr("Format", nameIDFormat(sp.NameFormat))
	name.SetText(sp.nameID(i))
	subject.CreateElement("saml:SubjectConfirmation").CreateElement("saml:ConfirmationMethod").SetText("urn:oasis:names:tc:SAML:1.0:cm:bearer")
	var statement *etree.Element
	for _, attr := range sp.Attributes {
		values := attr.values(i, groups)
		if len(values) == 0 {
			continue
		}
		if statement == nil {
			statement = a.CreateElement("saml:AttributeStatement")
			statement.AddChild(subject.Copy())
		}
		el := statement.CreateElement("saml:Attribute")
		el.CreateAttr("AttributeName", attr.Name)
		// SAML 1.1 requires a namespace: the claim type's, or the name format's.
		el.CreateAttr("AttributeNamespace", cmp.Or(attr.Namespace, attributeNameFormat(attr.NameFormat)))
		for _, v := range values {
			el.CreateElement("saml:AttributeValue").SetText(v)
		}
	}
	authn := a.CreateElement("saml:AuthenticationStatement")
	authn.CreateAttr("AuthenticationMethod", "urn:oasis:names:tc:SAML:1.0:am:unspecified")
	authn.CreateAttr("AuthenticationInstant", at(signedIn.AuthTime))
	authn.AddChild(subject)
	signing, err := signingContext(req.IDP)
	if err != nil {
		return nil, err
	}
	signing.IdAttribute = "AssertionID"
	// Signing canonicalizes what it is given in place: a copy is signed.
	signed, err := signing.SignEnveloped(a.Copy())
	if err != nil {
		return nil, err
	}
	a.AddChild(signed.ChildElements()[len(signed.ChildElements())-1])
	return a, nil
}
