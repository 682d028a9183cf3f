package saml

import (
	"context"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
)

// ServiceProvider is one service provider's settings, as a generic_saml SSO
// config holds them, or a WS-Federation relying party's, as a ws_fed one
// does (WSFed).
type ServiceProvider struct {
	DisplayName string
	// EntityID is the SP's entity ID (audience_url): the Issuer of its
	// requests and the Audience of the assertions.
	EntityID string
	// ACSURL is where Responses are posted (acs_url): the default, and
	// OtherACSURLs (other_sso_urls) are the others a request may name, by
	// URL or index.
	ACSURL       string
	OtherACSURLs []IndexedURL
	// RecipientURL and DestinationURL, when set
	// (override_recipient_and_destination), replace the ACS URL as the
	// subject confirmation's Recipient and the Response's Destination.
	RecipientURL, DestinationURL string
	// DefaultRelayState is the RelayState of IdP-initiated sign-ins that
	// name none.
	DefaultRelayState string
	// NameFormat is the NameID format (name_format): unspecified (the
	// default), email_address, persistent, transient, entity, ….
	NameFormat string
	// SubjectUserNameAttribute is what the NameID holds
	// (subject_user_name_attribute): user_name (the default), email,
	// email_prefix, external_id, display_name, or id (the identity's id).
	SubjectUserNameAttribute string
	// AuthenticationContext is the AuthnContextClassRef asserted
	// (authentication_context); "" is x509.
	AuthenticationContext string
	// SignEnvelope signs the Response, SignAssertions the assertion.
	SignEnvelope, SignAssertions bool
	// EncryptAssertions encrypts the assertion to EncryptionCertificate
	// (PEM, the SP's), with RSA-OAEP and AES-256-CBC, or AES-256-GCM when
	// AssertionEncryptionAlgorithm is aes256_gcm.
	EncryptAssertions            bool
	EncryptionCertificate        string
	AssertionEncryptionAlgorithm string
	// AssertionValidity is how long an assertion may be used
	// (assertion_validity_duration_seconds); zero is five minutes.
	AssertionValidity time.Duration
	// SigningCertificates are the SP's certificates (PEM,
	// sp_signature_certificates): they verify signed AuthnRequests and
	// LogoutRequests. ValidateSignedRequests (validate_signed_requests)
	// refuses AuthnRequests that are not signed by one of them.
	SigningCertificates    []string
	ValidateSignedRequests bool
	// Single Logout: the SP's endpoint for LogoutRequests and
	// LogoutResponses (single_log_out_url), its binding ("post" or
	// "redirect", the default).
	EnableSingleLogout  bool
	SingleLogoutURL     string
	SingleLogoutBinding string
	// Attributes are the attribute statement.
	Attributes []Attribute
	// WSFed is a WS-Federation relying party (a ws_fed config), not a SAML
	// SP: EntityID is its realm (wtrealm) and ACSURL its reply URL
	// (wreply); only the WS-Federation endpoints serve it. Its tokens are
	// SAML 2.0 assertions, or SAML 1.1 ones if SAML11 (SharePoint's).
	WSFed, SAML11 bool
}

// IndexedURL is an ACS URL a request may name by index.
type IndexedURL struct {
	Index int
	URL   string
}

// Attribute is one attribute of the assertion: Name (with NameFormat, one
// of AttributeNameFormats; unspecified is the default) holds the identity's
// Value, one of AttributeValues: email, user_name, external_id,
// display_name, given_name, family_name, groups (the display names of its
// groups, one value each), or custom_static_string (CustomValue). A
// Namespace (WS-Federation's claim types) goes before the Name.
type Attribute struct {
	Name        string
	NameFormat  string
	Value       string
	CustomValue string
	Namespace   string
}

// claimType is the attribute's Name in the assertion: Namespace/Name, as
// WS-Federation relying parties read a SAML 2.0 attribute's claim type
// (http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn), or Name.
func (a Attribute) claimType() string {
	if a.Namespace == "" {
		return a.Name
	}
	return strings.TrimSuffix(a.Namespace, "/") + "/" + a.Name
}

// ServiceProviders are the SSO configs that are SAML service providers.
// ServiceProvider returns latchkey.ErrNotFound for a config that does not
// exist or is not one. Allowed decides whether identity may sign in to the
// config (its assignments are its allow list).
type ServiceProviders interface {
	ServiceProvider(ctx context.Context, tenantID, realmID, configID string) (ServiceProvider, error)
	Allowed(ctx context.Context, tenantID, realmID, configID string, identity directory.Identity) (bool, error)
}

// Certificate is one of a realm's signing certificates.
type Certificate struct {
	ID, TenantID, RealmID string
	// DER is the self-signed X.509 certificate.
	DER              []byte
	PrivateKeySealed string
	// ActivateTime is when it starts to sign (zero time: at once).
	ActivateTime time.Time
	CreateTime   time.Time
}

// Request is a SAML sign-in: an accepted AuthnRequest, or an IdP-initiated
// sign-in, from when it arrives until its Response is sent.
type Request struct {
	ID, TenantID, RealmID, ConfigID string
	// RequestID is the AuthnRequest's ID, which the Response answers
	// (InResponseTo); the row's ID for an IdP-initiated sign-in, which
	// answers none.
	RequestID  string
	ACSURL     string
	RelayState string
	// Challenge is the WebAuthn challenge a passkey signs on the hosted page.
	Challenge  string
	ForceAuthn bool
	// Spent once its Response was made: it stays until ExpireTime, so that
	// its AuthnRequest cannot be replayed.
	Spent      bool
	CreateTime time.Time
	ExpireTime time.Time
}

// IdPInitiated reports whether r answers no AuthnRequest.
func (r Request) IdPInitiated() bool { return r.RequestID == r.ID }

// Tx is what SAML needs from storage in one transaction. A missing row is
// latchkey.ErrNotFound.
type Tx interface {
	// ListSAMLCertificates returns the realm's certificates, oldest
	// activation first.
	ListSAMLCertificates(ctx context.Context, tenantID, realmID string) ([]Certificate, error)
	// CreateSAMLCertificate returns latchkey.ErrDuplicate when the realm has
	// one with the same ActivateTime.
	CreateSAMLCertificate(ctx context.Context, c Certificate) error
	DeleteSAMLCertificate(ctx context.Context, tenantID, realmID, id string) error
	// SaveSAMLRequest stores a sign-in request with e, the sign-in event of
	// the Response that answers it at once (or nil); it returns
	// latchkey.ErrDuplicate when the config has a request with the same
	// RequestID: a replay. Outside a transaction, the requests that
	// concurrent sign-ins save share one (a group commit).
	SaveSAMLRequest(ctx context.Context, r Request, e *audit.Event) error
	GetSAMLRequest(ctx context.Context, tenantID, realmID, id string) (Request, error)
	// SpendSAMLRequest marks a request spent; latchkey.ErrNotFound when it
	// is not there, spent already, or expired at t.
	SpendSAMLRequest(ctx context.Context, id string, t time.Time) error
	// DeleteExpiredSAMLRequests removes the requests that expired before t.
	DeleteExpiredSAMLRequests(ctx context.Context, t time.Time) (int, error)
	// RecordEvent records a sign-in event in the transaction of the
	// sign-in it records.
	RecordEvent(ctx context.Context, e audit.Event) error
	// Of the directory and the sessions.
	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)
	GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error)
	GetSession(ctx context.Context, id string) (session.Session, error)
	EndSessions(ctx context.Context, e session.End) ([]session.Session, error)
	GroupsOfIdentities(ctx context.Context, identityIDs []string) (map[string][]directory.Group, error)
}

// Store is the storage of SAML: Tx methods run on their own; Update runs
// fn in one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}
