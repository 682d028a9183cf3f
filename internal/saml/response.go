package saml

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
)

// defaultValidity is how long an assertion may be used when the SP says
// nothing (assertion_validity_duration_seconds 0).
const defaultValidity = 5 * time.Minute

// nameIDFormats are the URIs of the name_format values.
var nameIDFormats = map[string]string{
	"unspecified":                   "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
	"email_address":                 "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
	"x509_subject_name":             "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
	"windows_domain_qualified_name": "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
	"persistent":                    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	"transient":                     "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
	"entity":                        "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
	"kerberos":                      "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
}

// nameIDFormat is the URI of a name_format value; "" is unspecified, and a
// URI stands for itself.
func nameIDFormat(v string) string {
	if f, ok := nameIDFormats[v]; ok {
		return f
	}
	if v == "" {
		return nameIDFormats["unspecified"]
	}
	return v
}

// authnContexts are the class URIs of the authentication_context values.
var authnContexts = map[string]string{
	"x509":                          "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
	"integrated_windows_federation": "urn:federation:authentication:windows",
	"kerberos":                      "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos",
	"password":                      "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
	"password_protected_transport":  "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
	"tls_client":                    "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
	"unspecified":                   "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
	"refeds_mfa":                    "https://refeds.org/profile/mfa",
}

// attributeNameFormats are the URIs of SAML's attribute name formats.
var attributeNameFormats = map[string]string{
	"unspecified": "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
	"basic":       "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
	"uri":         "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
}

// attributeNameFormat is the URI of an Attribute's NameFormat: one of
// attributeNameFormats ("" is unspecified), or the name of a NameID format,
// which Beyond Identity's API lets an attribute's name_format be, for its URI.
func attributeNameFormat(v string) string {
	if f, ok := attributeNameFormats[cmp.Or(v, "unspecified")]; ok {
		return f
	}
	return nameIDFormat(v)
}

// AttributeNameFormats are the NameFormats an Attribute may have, sorted:
// the list SSO configs are validated with.
func AttributeNameFormats() []string {
	names := slices.Collect(maps.Keys(attributeNameFormats))
	for k := range nameIDFormats {
		if _, ok := attributeNameFormats[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// attributeValue is what an Attribute's Value names, of an identity and
// its groups.
type attributeValue func(a Attribute, i directory.Identity, groups []directory.Group) []string

// ofIdentity is the attribute value that is a field of the identity.
func ofIdentity(field func(i directory.Identity) string) attributeValue {
	return func(_ Attribute, i directory.Identity, _ []directory.Group) []string { return one(field(i)) }
}

// attributeValues are what an Attribute's Value may name.
var attributeValues = map[string]attributeValue{
	"email":        ofIdentity(func(i directory.Identity) string { return i.Traits.PrimaryEmailAddress }),
	"user_name":    ofIdentity(func(i directory.Identity) string { return i.Traits.Username }),
	"external_id":  ofIdentity(func(i directory.Identity) string { return i.Traits.ExternalID }),
	"display_name": ofIdentity(func(i directory.Identity) string { return i.DisplayName }),
	"given_name":   ofIdentity(func(i directory.Identity) string { return i.Traits.GivenName }),
	"family_name":  ofIdentity(func(i directory.Identity) string { return i.Traits.FamilyName }),
	"groups": func(_ Attribute, _ directory.Identity, groups []directory.Group) []string {
		var names []string
		for _, g := range groups {
			names = append(names, g.DisplayName)
		}
		return names
	},
	"custom_static_string": func(a Attribute, _ directory.Identity, _ []directory.Group) []string { return one(a.CustomValue) },
}

// values are what the attribute holds of identity i and its groups; none
// for a Value this engine does not know.
func (a Attribute) values(i directory.Identity, groups []directory.Group) []string {
	if f := attributeValues[a.Value]; f != nil {
		return f(a, i, groups)
	}
	return nil
}

// AttributeValues are the Values an Attribute may name, sorted: the list
// SSO configs are validated with.
func AttributeValues() []string { return slices.Sorted(maps.Keys(attributeValues)) }

// one is a value that is there, alone, or none.
func one(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// makeAssertion is the assertion for identity i signed in by the session,
// as the SP's settings say (NameID, attributes, validity, authn context),
// signed if SignAssertions: the one assertion of SAML Responses and of
// WS-Federation's tokens.
func (s *Service) makeAssertion(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, i directory.Identity, groups []directory.Group, signedIn session.Session) (*etree.Element, error) {
	ref := authnContexts[sp.AuthenticationContext]
	if ref == "" {
		ref = authnContexts["x509"]
	}
	cs := &crewsaml.Session{ID: signedIn.ID, Index: signedIn.ID, CreateTime: signedIn.AuthTime,
		NameID: sp.nameID(i), NameIDFormat: nameIDFormat(sp.NameFormat), AuthnContextClassRef: ref}
	for _, a := range sp.Attributes {
		values := a.values(i, groups)
		if len(values) == 0 {
			continue
		}
		attr := crewsaml.Attribute{Name: a.claimType(), NameFormat: attributeNameFormat(a.NameFormat)}
		for _, v := range values {
			attr.Values = append(attr.Values, crewsaml.AttributeValue{Type: "xs:string", Value: v})
		}
		cs.CustomAttributes = append(cs.CustomAttributes, attr)
	}
	if err := (crewsaml.DefaultAssertionMaker{}).MakeAssertion(req, cs); err != nil {
		return nil, err
	}
	a := req.Assertion
	a.Conditions.NotOnOrAfter = req.Now.Add(sp.validity())
	confirm := a.Subject.SubjectConfirmations[0].SubjectConfirmationData
	confirm.NotOnOrAfter = a.Conditions.NotOnOrAfter
	if sp.RecipientURL != "" {
		confirm.Recipient = sp.RecipientURL
	}
	if !sp.SignAssertions {
		return a.Element(), nil
	}
	signing, err := signingContext(req.IDP)
	if err != nil {
		return nil, err
	}
	signed, err := signing.SignEnveloped(a.Element())
	if err != nil {
		return nil, err
	}
	// The signature goes after the Issuer, as the schema orders it.
	a.Signature = signed.ChildElements()[len(signed.ChildElements())-1]
	return a.Element(), nil
}

// validity is how long the SP's assertions may be used.
func (sp ServiceProvider) validity() time.Duration {
	if sp.AssertionValidity <= 0 {
		return defaultValidity
	}
	return sp.AssertionValidity
}

// makeResponse sets req.ResponseEl to the Response for identity i signed in
// by the session: its assertion (makeAssertion), encrypted if
// EncryptAssertions, in a Response signed if SignEnvelope.
func (s *Service) makeResponse(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, i directory.Identity, groups []directory.Group, signedIn session.Session) error {
	assertionEl, err := s.makeAssertion(req, sp, i, groups, signedIn)
	if err != nil {
		return err
	}
	if sp.EncryptAssertions {
		if assertionEl, err = encrypt(assertionEl, sp); err != nil {
			return err
		}
	}
	req.AssertionEl = assertionEl
	destination := req.ACSEndpoint.Location
	if sp.DestinationURL != "" {
		destination = sp.DestinationURL
	}
	response := &crewsaml.Response{Destination: destination, ID: "_" + latchkey.NewUUID(),
		InResponseTo: req.Request.ID, IssueInstant: req.Now, Version: "2.0",
		Issuer: &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: req.IDP.MetadataURL.String()},
		Status: crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: crewsaml.StatusSuccess}}}
	responseEl := response.Element()
	responseEl.AddChild(assertionEl)
	if sp.SignEnvelope {
		signing, err := signingContext(req.IDP)
		if err != nil {
			return err
		}
		signed, err := signing.SignEnveloped(responseEl)
		if err != nil {
			return err
		}
		// The signature goes after the Issuer, as the schema orders it.
		response.Signature = signed.ChildElements()[len(signed.ChildElements())-1]
		responseEl = response.Element()
		responseEl.AddChild(assertionEl)
	}
	req.ResponseEl = responseEl
	return nil
}

// encrypt encrypts an assertion to the SP's certificate: RSA-OAEP key
// transport and AES-256-CBC, or AES-256-GCM if the SP asks for it.
func encrypt(assertionEl *etree.Element, sp ServiceProvider) (*etree.Element, error) {
	cert, err := parseCertificate(sp.EncryptionCertificate)
	if err != nil {
		return nil, errors.New("the SP's encryption certificate: " + err.Error())
	}
	doc := etree.NewDocument()
	doc.SetRoot(assertionEl)
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	// RSA-OAEP-MGF1P with SHA-1, which every SP decrypts (node-saml knows
	// no other digest there), as crewjam does by default; SHA-1 in OAEP is
	// not a signature.
	enc := xmlenc.OAEP()
	enc.DigestMethod = &xmlenc.SHA1
	if sp.AssertionEncryptionAlgorithm == "aes256_gcm" {
		enc.BlockCipher = xmlenc.AES256GCM
	}
	data, err := enc.Encrypt(cert, plain, nil)
	if err != nil {
		return nil, err
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	out := etree.NewElement("saml:EncryptedAssertion")
	out.AddChild(data)
	return out, nil
}

// refuseDTD refuses XML with a document type declaration: entity
// expansion ("billion laughs") and external entities start there, and no
// SAML message has one.
func refuseDTD(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return badRequest("the SAML message is not well-formed XML: %v", err)
		}
		if dir, ok := tok.(xml.Directive); ok {
			return badRequest("the SAML message has a DTD (%.20s…), which is refused", string(dir))
		}
	}
}
