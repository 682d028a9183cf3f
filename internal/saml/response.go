package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
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

// attributeNameFormats are the URIs of attribute name formats.
var attributeNameFormats = map[string]string{
	"":            "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
	"unspecified": "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
	"basic":       "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
	"uri":         "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
}

// attributeValues are what an Attribute's Value names, of an identity and
// its groups.
func attributeValues(a Attribute, i directory.Identity, groups []directory.Group) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	switch a.Value {
	case "email":
		return one(i.Traits.PrimaryEmailAddress)
	case "user_name":
		return one(i.Traits.Username)
	case "external_id":
		return one(i.Traits.ExternalID)
	case "display_name":
		return one(i.DisplayName)
	case "given_name":
		return one(i.Traits.GivenName)
	case "family_name":
		return one(i.Traits.FamilyName)
	case "groups":
		var names []string
		for _, g := range groups {
			names = append(names, g.DisplayName)
		}
		return names
	case "custom_static_string":
		return one(a.CustomValue)
	}
	return nil
}

// makeResponse sets req.ResponseEl to the Response for identity i signed in
// by the session: the assertion (NameID, attributes, validity, authn
// context as the SP's settings say), signed if SignAssertions, encrypted if
// EncryptAssertions, in a Response signed if SignEnvelope.
func (s *Service) makeResponse(req *crewsaml.IdpAuthnRequest, sp ServiceProvider, i directory.Identity, groups []directory.Group, signedIn session.Session) error {
	ref := authnContexts[sp.AuthenticationContext]
	if ref == "" {
		ref = authnContexts["x509"]
	}
	cs := &crewsaml.Session{ID: signedIn.ID, Index: signedIn.ID, CreateTime: signedIn.AuthTime,
		NameID: sp.nameID(i), NameIDFormat: nameIDFormat(sp.NameFormat), AuthnContextClassRef: ref}
	for _, a := range sp.Attributes {
		values := attributeValues(a, i, groups)
		if len(values) == 0 {
			continue
		}
		format := attributeNameFormats[a.NameFormat]
		if format == "" {
			format = a.NameFormat
		}
		attr := crewsaml.Attribute{Name: a.Name, NameFormat: format}
		for _, v := range values {
			attr.Values = append(attr.Values, crewsaml.AttributeValue{Type: "xs:string", Value: v})
		}
		cs.CustomAttributes = append(cs.CustomAttributes, attr)
	}
	if err := (crewsaml.DefaultAssertionMaker{}).MakeAssertion(req, cs); err != nil {
		return err
	}
	a := req.Assertion
	validity := sp.AssertionValidity
	if validity <= 0 {
		validity = defaultValidity
	}
	a.Conditions.NotOnOrAfter = req.Now.Add(validity)
	confirm := a.Subject.SubjectConfirmations[0].SubjectConfirmationData
	confirm.NotOnOrAfter = a.Conditions.NotOnOrAfter
	if sp.RecipientURL != "" {
		confirm.Recipient = sp.RecipientURL
	}
	signing, err := signingContext(req.IDP)
	if err != nil {
		return err
	}
	assertionEl := a.Element()
	if sp.SignAssertions {
		signed, err := signing.SignEnveloped(assertionEl)
		if err != nil {
			return err
		}
		a.Signature = signed.ChildElements()[len(signed.ChildElements())-1]
		assertionEl = a.Element()
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
