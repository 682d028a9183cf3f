package sso

import (
	"bytes"
	"cmp"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/saml"
)

// The payload types of SSO configs (the API's SsoConfigType).
const (
	TypeBookmark     = "bookmark"
	TypeEntraID      = "entra_id_external_auth_methods"
	TypeGenericOIDC  = "generic_oidc"
	TypeOIDCIdP      = "generic_oidc_idp"
	TypeSAML         = "generic_saml"
	TypeOktaIdP      = "okta_idp"
	TypeOktaSSOBIIdP = "okta_sso_bi_idp"
	TypeSCIM         = "scim"
	TypeWSFed        = "ws_fed"
)

// Types are the payload types, in the API's order.
var Types = []string{TypeBookmark, TypeEntraID, TypeGenericOIDC, TypeOIDCIdP, TypeSAML, TypeOktaIdP, TypeOktaSSOBIIdP, TypeSCIM, TypeWSFed}

// Payload is the typed payload of an SSO config: *Bookmark, *SAML, *WSFed,
// *GenericOIDC, *OktaSSOBIIdP, *EntraID, *OIDCIdP (generic_oidc_idp and
// okta_idp), *SCIM.
type Payload interface {
	// validate adds what is wrong to v, with field names relative to the payload.
	validate(v *latchkey.Violations)
	// secret is the payload's upstream secret field, stored sealed; nil for none.
	secret() *string
	typeName() string
}

// Tile is what the app portal shows of a config.
type Tile struct {
	LoginLink     string `json:"login_link,omitempty"`
	Icon          string `json:"icon,omitempty"`
	IsTileVisible *bool  `json:"is_tile_visible,omitempty"`
}

// Bookmark is a tile that opens LoginLink.
type Bookmark struct {
	Type string `json:"type"`
	Tile
	ApplicationTileID string `json:"application_tile_id,omitempty"` // read-only
}

func (p *Bookmark) typeName() string { return TypeBookmark }
func (p *Bookmark) secret() *string  { return nil }
func (p *Bookmark) validate(v *latchkey.Violations) {
	if p.LoginLink == "" {
		v.Add("login_link", "missing")
	} else {
		checkWebURL(v, "login_link", p.LoginLink)
	}
	checkIcon(v, p.Icon)
}

// OIDCConfiguration is the discovery of the application behind a config,
// as the API answers it.
type OIDCConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	IntrospectEndpoint                string   `json:"introspect_endpoint"`
}

// Backing is what a config that signs in like an application answers of
// that application; the service fills it on every read (read-only).
type Backing struct {
	ApplicationID         string             `json:"application_id,omitempty"`
	AuthenticatorConfigID *string            `json:"authenticator_config_id,omitempty"`
	ResourceServerID      *string            `json:"resource_server_id,omitempty"`
	ClientID              string             `json:"client_id,omitempty"`
	ClientSecret          string             `json:"client_secret,omitempty"`
	OIDCConfiguration     *OIDCConfiguration `json:"oidc_configuration,omitempty"`
}

func (b *Backing) backing() *Backing { return b }

// backed is a payload with an application behind it.
type backed interface {
	Payload
	backing() *Backing
	// application says what the application is made of: its redirect URIs,
	// confidentiality and PKCE.
	application() (redirectURIs []string, confidentiality, pkce string)
}

// GenericOIDC is an OIDC application that signs in through Latchkey.
type GenericOIDC struct {
	Type            string          `json:"type"`
	RedirectURIs    []string        `json:"redirect_uris"`
	Scopes          []string        `json:"scopes"`
	TrustedOrigins  []string        `json:"trusted_origins"`
	Confidentiality string          `json:"confidentiality"`
	PKCE            string          `json:"pkce"`
	InboundSCIM     json.RawMessage `json:"inbound_scim,omitempty"`
	Tile
	ApplicationTileID string `json:"application_tile_id,omitempty"` // read-only
	Backing
}

func (p *GenericOIDC) typeName() string { return TypeGenericOIDC }
func (p *GenericOIDC) secret() *string  { return nil }
func (p *GenericOIDC) application() ([]string, string, string) {
	return p.RedirectURIs, p.Confidentiality, p.PKCE
}
func (p *GenericOIDC) validate(v *latchkey.Violations) {
	if p.TrustedOrigins == nil {
		p.TrustedOrigins = []string{}
	}
	checkRedirectURIs(v, "redirect_uris", p.RedirectURIs)
	if p.Scopes == nil {
		v.Add("scopes", "missing")
	}
	for i, s := range p.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\n\"") {
			v.Add("scopes["+strconv.Itoa(i)+"]", "a scope is a word without spaces or quotes")
		}
	}
	for i, o := range p.TrustedOrigins {
		checkWebURL(v, "trusted_origins["+strconv.Itoa(i)+"]", o)
	}
	oneOf(v, "confidentiality", p.Confidentiality, "confidential", "public")
	oneOf(v, "pkce", p.PKCE, pkceMethods...)
	if p.Confidentiality == "public" && p.PKCE == "disabled" {
		v.Add("pkce", "public clients must use PKCE (plain or s256)")
	}
	if p.LoginLink != "" {
		checkWebURL(v, "login_link", p.LoginLink)
	}
	checkIcon(v, p.Icon)
}

// OktaRegistration is how Latchkey registers itself in an Okta org.
type OktaRegistration struct {
	Domain        string `json:"domain,omitempty"`
	OktaToken     string `json:"okta_token,omitempty"` // sealed; never answered
	AttributeName string `json:"attribute_name,omitempty"`
	IsEnabled     bool   `json:"is_enabled"`
}

// OktaSSOBIIdP is Latchkey as an OIDC identity provider of an Okta org: an
// application whose redirect URI is the org's IdP callback.
type OktaSSOBIIdP struct {
	Type             string           `json:"type"`
	PKCE             string           `json:"pkce"`
	OktaRegistration OktaRegistration `json:"okta_registration"`
	InboundSCIM      json.RawMessage  `json:"inbound_scim,omitempty"`
	Backing
}

func (p *OktaSSOBIIdP) typeName() string { return TypeOktaSSOBIIdP }
func (p *OktaSSOBIIdP) secret() *string  { return &p.OktaRegistration.OktaToken }
func (p *OktaSSOBIIdP) application() ([]string, string, string) {
	return []string{"https://" + p.OktaRegistration.Domain + "/oauth2/v1/authorize/callback"}, "confidential", p.PKCE
}
func (p *OktaSSOBIIdP) validate(v *latchkey.Violations) {
	oneOf(v, "pkce", p.PKCE, pkceMethods...)
	checkHost(v, "okta_registration.domain", p.OktaRegistration.Domain)
}

// EntraID is Latchkey as an external authentication method of Microsoft
// Entra ID: an application whose redirect URIs are Entra's.
type EntraID struct {
	Type             string          `json:"type"`
	RedirectURIs     []string        `json:"redirect_uris"`
	DiscoverEndpoint string          `json:"discover_endpoint"`
	InboundSCIM      json.RawMessage `json:"inbound_scim,omitempty"`
	Backing
}

func (p *EntraID) typeName() string { return TypeEntraID }
func (p *EntraID) secret() *string  { return nil }
func (p *EntraID) application() ([]string, string, string) {
	return p.RedirectURIs, "confidential", "disabled"
}
func (p *EntraID) validate(v *latchkey.Violations) {
	checkRedirectURIs(v, "redirect_uris", p.RedirectURIs)
	oneOf(v, "discover_endpoint", p.DiscoverEndpoint, "global_azure", "azure_us_government", "microsoft_azure_vianet")
}

// OIDCIdP is an upstream OIDC identity provider that users may sign in
// through (generic_oidc_idp, or okta_idp, whose endpoints default to the
// Okta org's).
type OIDCIdP struct {
	Type                  string          `json:"type"`
	ClientID              string          `json:"client_id"`
	ClientSecret          string          `json:"client_secret,omitempty"` // sealed; never answered
	PKCE                  string          `json:"pkce"`
	IDTokenScopes         []string        `json:"id_token_scopes"`
	IdentifyingClaimName  string          `json:"identifying_claim_name"`
	IdentityAttribute     string          `json:"identity_attribute"`
	OktaDomain            string          `json:"okta_domain,omitempty"`
	AuthorizationEndpoint string          `json:"authorization_endpoint"`
	TokenEndpoint         string          `json:"token_endpoint"`
	JWKSEndpoint          string          `json:"jwks_endpoint"`
	InboundSCIM           json.RawMessage `json:"inbound_scim,omitempty"`
	// RedirectURI (Latchkey's callback for the upstream) and
	// IdentityProviderID (the config's id) are read-only.
	RedirectURI        string `json:"redirect_uri,omitempty"`
	IdentityProviderID string `json:"identity_provider_id,omitempty"`
}

func (p *OIDCIdP) typeName() string { return p.Type }
func (p *OIDCIdP) secret() *string  { return &p.ClientSecret }
func (p *OIDCIdP) validate(v *latchkey.Violations) {
	p.PKCE = cmp.Or(p.PKCE, "disabled")
	if p.IDTokenScopes == nil {
		p.IDTokenScopes = []string{}
	}
	if p.Type == TypeOktaIdP {
		checkHost(v, "okta_domain", p.OktaDomain)
		base := "https://" + p.OktaDomain + "/oauth2/v1"
		p.AuthorizationEndpoint = cmp.Or(p.AuthorizationEndpoint, base+"/authorize")
		p.TokenEndpoint = cmp.Or(p.TokenEndpoint, base+"/token")
		p.JWKSEndpoint = cmp.Or(p.JWKSEndpoint, base+"/keys")
	} else if p.OktaDomain != "" {
		v.Add("okta_domain", "only an okta_idp has an Okta domain")
	}
	checkUpstream(v, p.ClientID, p.PKCE, p.IdentifyingClaimName, p.IdentityAttribute, p.IDTokenScopes, "id_token_scopes",
		map[string]string{"authorization_endpoint": p.AuthorizationEndpoint, "token_endpoint": p.TokenEndpoint, "jwks_endpoint": p.JWKSEndpoint})
}

// checkUpstream checks what an upstream OIDC provider is made of, for SSO
// configs and identity providers alike.
func checkUpstream(v *latchkey.Violations, clientID, pkce, claim, attribute string, scopes []string, scopesField string, endpoints map[string]string) {
	if clientID == "" {
		v.Add("client_id", "missing")
	}
	oneOf(v, "pkce", pkce, pkceMethods...)
	if claim == "" {
		v.Add("identifying_claim_name", "missing")
	}
	oneOf(v, "identity_attribute", attribute, identityAttributes...)
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\n\"") {
			v.Add(scopesField+"["+strconv.Itoa(i)+"]", "a scope is a word without spaces or quotes")
		}
	}
	for _, field := range slices.Sorted(maps.Keys(endpoints)) {
		if endpoints[field] == "" {
			v.Add(field, "missing")
		} else {
			checkWebURL(v, field, endpoints[field])
		}
	}
}

// SAMLAttribute is an attribute statement an assertion carries.
type SAMLAttribute struct {
	Name        string `json:"name"`
	NameFormat  string `json:"name_format"`
	Value       string `json:"value"`
	CustomValue string `json:"custom_value,omitempty"`
	Namespace   string `json:"namespace,omitempty"` // WS-Federation only
}

// SPCertificate is a service provider's signing certificate (PEM).
type SPCertificate struct {
	SPPublicSigningKey string `json:"sp_public_signing_key"`
}

// OtherSSOURL is another ACS URL a signed-out AuthnRequest may ask for by index.
type OtherSSOURL struct {
	Index int    `json:"index"`
	URL   string `json:"url"`
}

// IdPCertificate is one of Latchkey's signing certificates of a SAML config,
// as the internal/saml engine publishes them (read-only here).
type IdPCertificate struct {
	ID                   string `json:"id"`
	CreatedAt            string `json:"created_at"`
	ExpiresAt            string `json:"expires_at"`
	IsActive             bool   `json:"is_active"`
	IdPPublicCertificate string `json:"idp_public_certificate"`
}

// SAML is Latchkey as the SAML 2.0 identity provider of a service provider
// (generic_saml; the API's requests name it "saml").
type SAML struct {
	Type                               string          `json:"type"`
	ACSURL                             string          `json:"acs_url"`
	OverrideRecipientAndDestination    bool            `json:"override_recipient_and_destination"`
	RecipientURL                       string          `json:"recipient_url,omitempty"`
	DestinationURL                     string          `json:"destination_url,omitempty"`
	AudienceURL                        string          `json:"audience_url"`
	DefaultRelayState                  string          `json:"default_relay_state"`
	NameFormat                         string          `json:"name_format"`
	AuthenticationContext              string          `json:"authentication_context"`
	SubjectUserNameAttribute           string          `json:"subject_user_name_attribute"`
	SignEnvelope                       bool            `json:"sign_envelope"`
	SignAssertions                     bool            `json:"sign_assertions"`
	SignatureAlgorithm                 string          `json:"signature_algorithm"`
	DigestAlgorithm                    string          `json:"digest_algorithm"`
	EncryptAssertions                  bool            `json:"encrypt_assertions"`
	AssertionValidityDurationSeconds   int             `json:"assertion_validity_duration_seconds"`
	AssertionEncryptionAlgorithm       string          `json:"assertion_encryption_algorithm,omitempty"`
	AssertionKeyTransportAlgorithm     string          `json:"assertion_key_transport_algorithm,omitempty"`
	AssertionEncryptionPublicKey       string          `json:"assertion_encryption_public_key,omitempty"`
	SPSignatureCertificates            []SPCertificate `json:"sp_signature_certificates"`
	EnableSingleLogOut                 bool            `json:"enable_single_log_out"`
	SingleLogOutURL                    string          `json:"single_log_out_url,omitempty"`
	SingleLogOutIssuerURL              string          `json:"single_log_out_issuer_url,omitempty"`
	SingleLogOutBinding                string          `json:"single_log_out_binding,omitempty"`
	SingleLogoutSignRequestAndResponse bool            `json:"single_logout_sign_request_and_response"`
	ValidateSignedRequests             bool            `json:"validate_signed_requests"`
	OtherSSOURLs                       *OtherSSOURL    `json:"other_sso_urls,omitempty"`
	AdditionalUserAttributes           []SAMLAttribute `json:"additional_user_attributes"`
	UseShortURL                        bool            `json:"use_short_url"`
	InboundSCIM                        json.RawMessage `json:"inbound_scim,omitempty"`
	Tile
	// Read-only: what the SAML engine publishes of the config.
	IdentityProviderCerts []IdPCertificate `json:"identity_provider_certs,omitempty"`
	IdPInitiatedURL       string           `json:"idp_initiated_url,omitempty"`
	SPInitiatedURL        string           `json:"sp_initiated_url,omitempty"`
	ApplicationID         string           `json:"application_id,omitempty"`
	AuthenticatorConfigID string           `json:"authenticator_config_id,omitempty"`
}

func (p *SAML) typeName() string { return TypeSAML }
func (p *SAML) secret() *string  { return nil }
func (p *SAML) validate(v *latchkey.Violations) {
	checkRequiredURL(v, "acs_url", p.ACSURL)
	if p.OverrideRecipientAndDestination {
		checkRequiredURL(v, "recipient_url", p.RecipientURL)
		checkRequiredURL(v, "destination_url", p.DestinationURL)
	}
	checkEntityID(v, "audience_url", p.AudienceURL, true)
	if latchkey.TextProblem(p.DefaultRelayState, false) != "" || len(p.DefaultRelayState) > 80 {
		v.Add("default_relay_state", "at most 80 printable characters (SAML bindings §3.4.3)")
	}
	checkSigning(v, &p.NameFormat, &p.AuthenticationContext, &p.SubjectUserNameAttribute, &p.SignatureAlgorithm, &p.DigestAlgorithm)
	checkLifetime(v, "assertion_validity_duration_seconds", &p.AssertionValidityDurationSeconds, 300)
	if p.EncryptAssertions {
		p.AssertionEncryptionAlgorithm = cmp.Or(p.AssertionEncryptionAlgorithm, "aes256_gcm")
		p.AssertionKeyTransportAlgorithm = cmp.Or(p.AssertionKeyTransportAlgorithm, "rsa_oaep")
		if p.AssertionEncryptionPublicKey == "" {
			v.Add("assertion_encryption_public_key", "encrypt_assertions needs the service provider's certificate or public key")
		}
	}
	if p.AssertionEncryptionAlgorithm != "" {
		oneOf(v, "assertion_encryption_algorithm", p.AssertionEncryptionAlgorithm, "aes256_cbc", "aes256_gcm", "aes128_cbc", "aes128_gcm")
	}
	if p.AssertionKeyTransportAlgorithm != "" {
		oneOf(v, "assertion_key_transport_algorithm", p.AssertionKeyTransportAlgorithm, "rsa_oaep", "rsa1_5")
	}
	if p.AssertionEncryptionPublicKey != "" {
		if _, err := ParsePublicKeyPEM(p.AssertionEncryptionPublicKey); err != nil {
			v.Add("assertion_encryption_public_key", err.Error())
		}
	}
	if p.SPSignatureCertificates == nil {
		p.SPSignatureCertificates = []SPCertificate{}
	}
	for i, c := range p.SPSignatureCertificates {
		if _, err := ParseCertificatePEM(c.SPPublicSigningKey); err != nil {
			v.Add("sp_signature_certificates["+strconv.Itoa(i)+"].sp_public_signing_key", err.Error())
		}
	}
	if p.ValidateSignedRequests && len(p.SPSignatureCertificates) == 0 {
		v.Add("sp_signature_certificates", "validate_signed_requests needs at least one certificate")
	}
	if p.EnableSingleLogOut {
		checkRequiredURL(v, "single_log_out_url", p.SingleLogOutURL)
		p.SingleLogOutBinding = cmp.Or(p.SingleLogOutBinding, "post")
	}
	if p.SingleLogOutIssuerURL != "" {
		checkEntityID(v, "single_log_out_issuer_url", p.SingleLogOutIssuerURL, false)
	}
	if p.SingleLogOutBinding != "" {
		oneOf(v, "single_log_out_binding", p.SingleLogOutBinding, "post", "redirect")
	}
	if o := p.OtherSSOURLs; o != nil {
		if p.ValidateSignedRequests {
			v.Add("other_sso_urls", "cannot be set with validate_signed_requests")
		}
		if o.Index < 0 || o.Index > 32767 {
			v.Add("other_sso_urls.index", "must be 0 to 32767")
		}
		checkRequiredURL(v, "other_sso_urls.url", o.URL)
	}
	checkAttributes(v, &p.AdditionalUserAttributes, false)
	checkIcon(v, p.Icon)
}

// WSFed is Latchkey as a WS-Federation passive requestor identity provider.
type WSFed struct {
	Type                     string          `json:"type"`
	ACSURL                   string          `json:"acs_url"`
	AudienceURL              string          `json:"audience_url"`
	ExpirationTimeSeconds    int             `json:"expiration_time_seconds"`
	DigestAlgorithm          string          `json:"digest_algorithm"`
	SignatureAlgorithm       string          `json:"signature_algorithm"`
	NameFormat               string          `json:"name_format"`
	SubjectUserNameAttribute string          `json:"subject_user_name_attribute"`
	AuthenticationContext    string          `json:"authentication_context"`
	AdditionalUserAttributes []SAMLAttribute `json:"additional_user_attributes"`
	InboundSCIM              json.RawMessage `json:"inbound_scim,omitempty"`
	// TokenType is Latchkey's: saml2 (the default) or saml11, the token
	// SharePoint's trusted identity providers take.
	TokenType string `json:"token_type,omitempty"`
	Tile
	// Read-only: what the WS-Federation engine publishes of the config.
	ApplicationID         string `json:"application_id,omitempty"`
	AuthenticatorConfigID string `json:"authenticator_config_id,omitempty"`
	ApplicationTileID     string `json:"application_tile_id,omitempty"`
	IdPSSOURL             string `json:"idp_sso_url,omitempty"`
	IdPIssuerURL          string `json:"idp_issuer_url,omitempty"`
	MetadataURL           string `json:"metadata_url,omitempty"`
}

func (p *WSFed) typeName() string { return TypeWSFed }
func (p *WSFed) secret() *string  { return nil }
func (p *WSFed) validate(v *latchkey.Violations) {
	checkRequiredURL(v, "acs_url", p.ACSURL)
	checkEntityID(v, "audience_url", p.AudienceURL, true)
	checkLifetime(v, "expiration_time_seconds", &p.ExpirationTimeSeconds, 3600)
	checkSigning(v, &p.NameFormat, &p.AuthenticationContext, &p.SubjectUserNameAttribute, &p.SignatureAlgorithm, &p.DigestAlgorithm)
	checkAttributes(v, &p.AdditionalUserAttributes, true)
	p.TokenType = cmp.Or(p.TokenType, "saml2")
	oneOf(v, "token_type", p.TokenType, "saml2", "saml11")
	checkIcon(v, p.Icon)
}

// SCIM is an inbound SCIM connection; Latchkey stores it as given (its
// SCIM server is reached with tokens of the scim:* scopes).
type SCIM struct {
	Type          string `json:"type"`
	ApplicationID string `json:"application_id,omitempty"`
	ClientID      string `json:"client_id,omitempty"`
	ClientSecret  string `json:"client_secret,omitempty"` // never stored: read-only
	SCIMURL       string `json:"scim_url,omitempty"`
	TokenEndpoint string `json:"token_endpoint,omitempty"`
}

func (p *SCIM) typeName() string                { return TypeSCIM }
func (p *SCIM) secret() *string                 { return nil }
func (p *SCIM) validate(v *latchkey.Violations) { p.ClientSecret = "" }

var (
	pkceMethods        = []string{"disabled", "plain", "s256"}
	identityAttributes = []string{"id", "email", "username", "external_id"}
	nameFormats        = []string{"unspecified", "email_address", "x509_subject_name", "persistent", "transient", "entity", "kerberos", "windows_domain_qualified_name"}
)

// checkSigning sets the defaults of the assertion's settings that
// generic_saml and ws_fed share, and checks them.
func checkSigning(v *latchkey.Violations, nameFormat, context, subject, signature, digest *string) {
	*nameFormat = cmp.Or(*nameFormat, "unspecified")
	*context = cmp.Or(*context, "x509")
	*subject = cmp.Or(*subject, "user_name")
	*signature = cmp.Or(*signature, "rsa_sha256")
	*digest = cmp.Or(*digest, "sha256")
	oneOf(v, "name_format", *nameFormat, nameFormats...)
	oneOf(v, "authentication_context", *context, "x509", "integrated_windows_federation", "kerberos", "password",
		"password_protected_transport", "tls_client", "unspecified", "refeds_mfa")
	oneOf(v, "subject_user_name_attribute", *subject, "user_name", "email", "email_prefix", "external_id", "display_name", "custom", "none")
	oneOf(v, "signature_algorithm", *signature, "rsa_sha256", "rsa_sha1", "rsa_sha384", "rsa_sha512")
	oneOf(v, "digest_algorithm", *digest, "sha256", "sha1", "sha384", "sha512")
}

func checkAttributes(v *latchkey.Violations, attrs *[]SAMLAttribute, namespaces bool) {
	if *attrs == nil {
		*attrs = []SAMLAttribute{}
	}
	for i, a := range *attrs {
		f := "additional_user_attributes[" + strconv.Itoa(i) + "]"
		if a.Name == "" || latchkey.TextProblem(a.Name, false) != "" || len(a.Name) > 256 {
			v.Add(f+".name", "1 to 256 printable characters")
		}
		// The SAML engine's lists: what it can put in an assertion.
		oneOf(v, f+".name_format", a.NameFormat, saml.AttributeNameFormats()...)
		oneOf(v, f+".value", a.Value, saml.AttributeValues()...)
		if a.Value == "custom_static_string" && a.CustomValue == "" {
			v.Add(f+".custom_value", "custom_static_string needs a custom_value")
		}
		if a.Namespace != "" && !namespaces {
			v.Add(f+".namespace", "only WS-Federation attributes have a namespace")
		}
	}
}

// checkLifetime defaults the lifetime of an issued assertion or token,
// *seconds, to def when unset, and keeps it within a day.
func checkLifetime(v *latchkey.Violations, field string, seconds *int, def int) {
	if *seconds == 0 {
		*seconds = def
	}
	if *seconds < 1 || *seconds > 86400 {
		v.Add(field, "must be 1 to 86400 seconds")
	}
}

func oneOf(v *latchkey.Violations, field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.Add(field, "must be one of "+strings.Join(allowed, ", "))
	}
}

// webURLProblem says why s is not an absolute http(s) URL Latchkey may send
// a browser or a request to (https, or http on loopback), or "".
func webURLProblem(s string) string {
	if p := latchkey.RedirectURIProblem(s); p != "" {
		return p
	}
	if u, _ := url.Parse(s); u.Scheme != "https" && u.Scheme != "http" {
		return "must be an https URL (or http on localhost or a loopback address)"
	}
	return ""
}

func checkWebURL(v *latchkey.Violations, field, s string) {
	if p := webURLProblem(s); p != "" {
		v.Add(field, p)
	}
}

func checkRequiredURL(v *latchkey.Violations, field, s string) {
	if s == "" {
		v.Add(field, "missing")
		return
	}
	checkWebURL(v, field, s)
}

// checkEntityID checks a SAML entity ID: a URI, not only a URL (SAML core §8.3.6).
func checkEntityID(v *latchkey.Violations, field, s string, required bool) {
	switch u, err := url.Parse(s); {
	case s == "" && required:
		v.Add(field, "missing")
	case s == "":
	case err != nil || u.Scheme == "" || len(s) > 1024 || latchkey.TextProblem(s, false) != "" || strings.ContainsAny(s, " \t"):
		v.Add(field, "must be an absolute URI of at most 1024 characters (an entity ID)")
	}
}

func checkRedirectURIs(v *latchkey.Violations, field string, uris []string) {
	if len(uris) == 0 {
		v.Add(field, "needs at least one redirect URI")
	}
	for i, u := range uris {
		if p := latchkey.RedirectURIProblem(u); p != "" {
			v.Add(field+"["+strconv.Itoa(i)+"]", p)
		}
	}
}

// checkHost checks a bare host name such as an Okta org's (example.okta.com).
func checkHost(v *latchkey.Violations, field, host string) {
	u, err := url.Parse("https://" + host)
	if host == "" || err != nil || u.Host != host || u.Hostname() == "" || strings.ContainsAny(host, "/?#@ ") {
		v.Add(field, "must be a host name such as example.okta.com")
	}
}

// checkIcon allows an https URL or a data: image URI of at most 64 KiB.
func checkIcon(v *latchkey.Violations, icon string) {
	switch {
	case icon == "":
	case len(icon) > 64<<10:
		v.Add("icon", "longer than 64 KiB")
	case strings.HasPrefix(icon, "data:image/"):
	default:
		checkWebURL(v, "icon", icon)
	}
}

// ParseCertificatePEM parses one PEM X.509 certificate, as service
// providers give them (a bare base64 DER body is accepted too).
func ParseCertificatePEM(s string) (*x509.Certificate, error) {
	der, err := pemBody(s, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("not an X.509 certificate")
	}
	return c, nil
}

// ParsePublicKeyPEM parses a service provider's encryption key: a PEM X.509
// certificate or a PEM public key; RSA only (SAML key transport).
func ParsePublicKeyPEM(s string) (*rsa.PublicKey, error) {
	var k any
	if c, err := ParseCertificatePEM(s); err == nil {
		k = c.PublicKey
	} else if der, err := pemBody(s, "PUBLIC KEY"); err == nil {
		k, _ = x509.ParsePKIXPublicKey(der)
	}
	if k == nil {
		return nil, errors.New("must be a PEM certificate or public key")
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("must be an RSA key: SAML encrypts the assertion's key with RSA")
	}
	return rk, nil
}

func pemBody(s, blockType string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "-----BEGIN") {
		s = "-----BEGIN " + blockType + "-----\n" + s + "\n-----END " + blockType + "-----"
	}
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != blockType || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("must be one PEM " + strings.ToLower(blockType))
	}
	return b.Bytes, nil
}

// newPayload returns an empty payload of a type ("saml" names generic_saml,
// as the API's request schema does).
func newPayload(typ string) (Payload, bool) {
	switch typ {
	case TypeBookmark:
		return &Bookmark{}, true
	case TypeEntraID:
		return &EntraID{}, true
	case TypeGenericOIDC:
		return &GenericOIDC{}, true
	case TypeOIDCIdP, TypeOktaIdP:
		return &OIDCIdP{}, true
	case TypeSAML, "saml":
		return &SAML{}, true
	case TypeOktaSSOBIIdP:
		return &OktaSSOBIIdP{}, true
	case TypeSCIM:
		return &SCIM{}, true
	case TypeWSFed:
		return &WSFed{}, true
	}
	return nil, false
}

// setType sets a payload's type field to its canonical name.
func setType(p Payload, typ string) {
	if typ == "saml" {
		typ = TypeSAML
	}
	switch p := p.(type) {
	case *Bookmark:
		p.Type = typ
	case *EntraID:
		p.Type = typ
	case *GenericOIDC:
		p.Type = typ
	case *OIDCIdP:
		p.Type = typ
	case *SAML:
		p.Type = typ
	case *OktaSSOBIIdP:
		p.Type = typ
	case *SCIM:
		p.Type = typ
	case *WSFed:
		p.Type = typ
	}
}

// DecodePayload decodes a stored or requested payload object strictly
// (unknown fields are refused) onto base: nil for a new payload of the
// object's type, or the current payload, which a partial update changes
// field by field. The type may not change.
func DecodePayload(data []byte, base Payload) (Payload, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, latchkey.Errorf(latchkey.CodeBadRequest, "invalid request")
	}
	p := base
	switch {
	case base == nil && head.Type == nil:
		return nil, latchkey.InvalidField("type", "missing")
	case base == nil:
		var ok bool
		if p, ok = newPayload(*head.Type); !ok {
			return nil, latchkey.InvalidField("type", "must be one of "+strings.Join(Types, ", "))
		}
	case head.Type != nil && canonical(*head.Type) != base.typeName():
		return nil, latchkey.InvalidField("type", "cannot be changed (it is "+base.typeName()+")")
	}
	typ := p.typeName()
	if base == nil {
		typ = canonical(*head.Type)
	}
	if err := decodeStrict(data, p); err != nil {
		return nil, err
	}
	setType(p, typ)
	return p, nil
}

// decodeStrict decodes a JSON object onto dst, refusing unknown fields and
// naming the field of a wrong type.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return latchkey.InvalidField(typeErr.Field, "has the wrong type")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return latchkey.InvalidField(strings.Trim(name, `"`), "unknown field")
	}
	return latchkey.Errorf(latchkey.CodeBadRequest, "invalid request")
}

func canonical(typ string) string {
	if typ == "saml" {
		return TypeSAML
	}
	return typ
}
