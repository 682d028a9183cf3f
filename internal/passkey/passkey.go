package passkey

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/session"
)

// Authenticator config types.
const (
	Embedded  = "embedded"
	HostedWeb = "hosted_web"
	Console   = "console"
	Platform  = "platform"
)

// Authentication methods of an authenticator config.
const (
	WebAuthnPasskey      = "webauthn_passkey"
	SoftwarePasskey      = "software_passkey"
	EmailOneTimePassword = "email_one_time_password"
)

// AuthenticatorConfig says which authenticator an identity uses to bind and
// to use a passkey: the embedded SDK in the customer's app, or Latchkey's
// hosted web pages.
type AuthenticatorConfig struct {
	ID          string    `json:"id"`
	RealmID     string    `json:"realm_id"`
	TenantID    string    `json:"tenant_id"`
	DisplayName string    `json:"display_name"`
	Config      Config    `json:"config"`
	CreateTime  time.Time `json:"-"`
	UpdateTime  time.Time `json:"-"`
}

// DefaultConfig is the authenticator config a realm made in the console
// starts with, so that its first passkey needs no setup: Latchkey's hosted
// pages, with passkeys bound on them, trusted at origin (the public URL).
func DefaultConfig(origin string) AuthenticatorConfig {
	c := AuthenticatorConfig{DisplayName: "Hosted sign-in", Config: Config{Type: HostedWeb, AuthenticationMethods: []Method{{Type: WebAuthnPasskey}}}}
	if origin != "" {
		c.Config.TrustedOrigins = []string{origin}
	}
	return c
}

// Config is the type-specific part of an authenticator config. Console and
// platform configs are stored and returned as given.
type Config struct {
	Type                    string   `json:"type"`
	InvokeURL               string   `json:"invoke_url,omitempty"`
	TrustedOrigins          []string `json:"trusted_origins,omitempty"`
	InvocationType          string   `json:"invocation_type,omitempty"`
	AuthenticationMethods   []Method `json:"authentication_methods,omitempty"`
	OnboardingConfiguration any      `json:"onboarding_configuration,omitempty"`
	RoamingAuthConfig       any      `json:"roaming_auth_config,omitempty"`
	// UserVerification is whether a WebAuthn passkey must verify its user
	// (PIN, biometric) to bind and to sign in: UVRequired (the default) or
	// UVPreferred.
	UserVerification string `json:"user_verification,omitempty"`
	// Rules say which passkeys may bind and sign in (Latchkey extensions).
	Rules
}

// User verification requirements of a config (Config.UserVerification).
const (
	UVRequired  = "required"
	UVPreferred = "preferred"
)

// userVerification is what the config asks of a WebAuthn authenticator.
// A passkey is the only factor, so the user is verified unless the config
// explicitly relaxes it; no config, or one stored before the field existed,
// requires it.
func (c Config) userVerification() protocol.UserVerificationRequirement {
	if c.UserVerification == UVPreferred {
		return protocol.VerificationPreferred
	}
	return protocol.VerificationRequired
}

// Method is one way of authenticating an authenticator config allows.
type Method struct {
	Type string `json:"type"`
	// Use, for email_one_time_password only, says what a correct code
	// does: OTPSignInAndEnroll (the default) signs the user in and offers a
	// passkey on the device, OTPSignIn only signs in, OTPEnroll only lets
	// the user create a passkey (recovery without a sign-in by e-mail).
	Use string `json:"use,omitempty"`
}

// Uses of an email_one_time_password method (Method.Use).
const (
	OTPSignInAndEnroll = "sign_in_and_enroll"
	OTPSignIn          = "sign_in"
	OTPEnroll          = "enroll"
)

// OTP returns what a correct e-mail code does under the config: whether it
// signs in and whether it lets the user create a passkey; both false when
// the config does not list email_one_time_password.
func (c Config) OTP() (signIn, enroll bool) {
	for _, m := range c.AuthenticationMethods {
		if m.Type == EmailOneTimePassword {
			return m.Use != OTPEnroll, m.Use != OTPSignIn
		}
	}
	return false, false
}

// States of a credential binding job.
const (
	LinkSent         = "LINK_SENT"
	LinkOpened       = "LINK_OPENED"
	RequestDelivered = "REQUEST_DELIVERED"
	Complete         = "COMPLETE"
	Expired          = "EXPIRED"
	Revoked          = "REVOKED"
	FailedToSend     = "FAILED_TO_SEND"
)

// OpenStates are the states in which a job's link can still bind a passkey.
var OpenStates = []string{LinkSent, LinkOpened, RequestDelivered}

// Delivery methods of a job's link.
const (
	Return = "RETURN"
	Email  = "EMAIL"
)

// BindingJob is a credential binding job: a one-time link with which an
// identity binds a passkey on its device.
type BindingJob struct {
	ID                     string        `json:"id"`
	RealmID                string        `json:"realm_id"`
	TenantID               string        `json:"tenant_id"`
	IdentityID             string        `json:"identity_id"`
	CredentialID           string        `json:"credential_id,omitempty"`
	BatchID                string        `json:"batch_id,omitempty"`
	DeliveryMethod         string        `json:"delivery_method"`
	State                  string        `json:"state"`
	PostBindingRedirectURI string        `json:"post_binding_redirect_uri,omitempty"`
	AuthenticatorConfigID  string        `json:"authenticator_config_id,omitempty"`
	AuthenticatorConfig    *InlineConfig `json:"authenticator_config,omitempty"`
	// VerificationDetails, when they name an identity provider, hold the
	// link back until it vouched for the identity (at VerifyTime).
	VerificationDetails *VerificationDetails `json:"verification_details,omitempty"`
	VerifyTime          *time.Time           `json:"verify_time,omitempty"`
	ExpireTime          time.Time            `json:"expire_time"`
	CreateTime          time.Time            `json:"create_time"`
	UpdateTime          time.Time            `json:"update_time"`
	// TokenHash is the hex SHA-256 of the link's token. It stays after the
	// token is spent (the job COMPLETE) so that a reused link is told so.
	TokenHash string `json:"-"`
}

// InlineConfig is an authenticator config given inside a job instead of by id.
type InlineConfig struct {
	Config Config `json:"config"`
}

// Open reports whether the job's link can still bind a passkey at now.
func (j BindingJob) Open(now time.Time) bool {
	return isOpen(j.State) && now.Before(j.ExpireTime)
}

func isOpen(state string) bool {
	for _, s := range OpenStates {
		if s == state {
			return true
		}
	}
	return false
}

// settled returns the job as it stands at now: an open job past its expiry
// is EXPIRED even before the sweeper records it.
func (j BindingJob) settled(now time.Time) BindingJob {
	if isOpen(j.State) && !now.Before(j.ExpireTime) {
		j.State = Expired
	}
	return j
}

// Credential states and CSR types.
const (
	Active       = "ACTIVE"
	RevokedState = "REVOKED"
	CSRJWT       = "JWT"
	CSRWebAuthn  = "WEBAUTHN"
)

// Credential is a passkey bound to an identity.
type Credential struct {
	ID            string    `json:"id"`
	IdentityID    string    `json:"identity_id"`
	RealmID       string    `json:"realm_id"`
	TenantID      string    `json:"tenant_id"`
	State         string    `json:"state"`
	CSRType       string    `json:"csr_type"`
	JWKJSON       string    `json:"jwk_json"`
	JWKThumbprint string    `json:"jwk_thumbprint"`
	CreateTime    time.Time `json:"create_time"`
	UpdateTime    time.Time `json:"update_time"`
	// DisplayName is the name the passkey's holder or an administrator gave
	// it ("" until then; see Name).
	DisplayName string `json:"display_name"`
	// LastUsedTime is when the passkey last signed in (zero for never), to
	// the minute: see lastUseStale. LastUsedUserAgent is the browser or
	// app it signed in from then.
	LastUsedTime      time.Time `json:"last_used_time,omitzero"`
	LastUsedUserAgent string    `json:"last_used_user_agent,omitempty"`
	// WebAuthn is what sign-in needs of a WEBAUTHN credential; nil for JWT.
	WebAuthn *WebAuthnKey `json:"-"`
}

// MarshalJSON adds to the credential what its WebAuthn record says of the
// authenticator (Latchkey extensions of the reference's Credential): its
// AAGUID and provider name, whether it is synced (backup_eligible: it may
// be; backup_state: it is) and its transports. A software passkey (JWT)
// has none of them.
func (c Credential) MarshalJSON() ([]byte, error) {
	type plain Credential
	out := struct {
		plain
		AAGUID            string   `json:"aaguid,omitempty"`
		AuthenticatorName string   `json:"authenticator_name,omitempty"`
		BackupEligible    bool     `json:"backup_eligible"`
		BackupState       bool     `json:"backup_state"`
		Transports        []string `json:"transports"`
	}{plain: plain(c), Transports: []string{}}
	if k := c.WebAuthn; k != nil {
		out.AAGUID = FormatAAGUID(k.AAGUID)
		out.AuthenticatorName, _ = AuthenticatorName(k.AAGUID)
		out.BackupEligible, out.BackupState = k.BackupEligible, k.BackupState
		if k.Transports != nil {
			out.Transports = k.Transports
		}
	}
	return json.Marshal(out)
}

// Name is what people see a passkey called: the name it was given, else
// its provider's name, else its kind.
func (c Credential) Name() string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	if c.WebAuthn != nil {
		if name, _ := AuthenticatorName(c.WebAuthn.AAGUID); name != "" {
			return name
		}
		return "Passkey"
	}
	return "Software passkey"
}

// Synced reports whether the passkey is a multi-device one, which its
// provider may copy to the holder's other devices (backup eligible, fixed
// when it was made); a device-bound one lives on one authenticator only.
func (c Credential) Synced() bool { return c.WebAuthn != nil && c.WebAuthn.BackupEligible }

// WebAuthnKey is the WebAuthn credential record of a passkey.
type WebAuthnKey struct {
	CredentialID    []byte   `json:"credential_id"`
	PublicKey       []byte   `json:"public_key"` // COSE
	SignCount       uint32   `json:"sign_count"`
	AAGUID          []byte   `json:"aaguid"`
	BackupEligible  bool     `json:"backup_eligible"`
	BackupState     bool     `json:"backup_state"`
	UserVerified    bool     `json:"user_verified"`
	Transports      []string `json:"transports,omitempty"`
	AttestationType string   `json:"attestation_type"`
	UserHandle      []byte   `json:"user_handle,omitempty"`
}

// Filter attributes of the lists.
var (
	ConfigFilterAttributes     = []string{"id", "display_name", "config.type"}
	JobFilterAttributes        = []string{"id", "identity_id", "state", "delivery_method", "authenticator_config_id", "batch_id"}
	CredentialFilterAttributes = []string{"id", "identity_id", "state", "csr_type", "jwk_thumbprint"}
)

// AnyIdentity in place of an identity id lists the jobs or credentials of
// every identity of the realm.
const AnyIdentity = "-"

// Tx reads and writes passkey state inside one transaction, with the errors
// of directory.Tx.
type Tx interface {
	// mail.Tx enqueues binding e-mails with the job that they carry.
	mail.Tx
	GetTenant(ctx context.Context, id string) (directory.Tenant, error)
	GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error)
	// ManagementScopesOf returns the management API's scopes that identities
	// hold through roles (groupIDs: none here).
	ManagementScopesOf(ctx context.Context, identityIDs, groupIDs []string) ([]string, error)

	CreateAuthenticatorConfig(ctx context.Context, c AuthenticatorConfig) error
	GetAuthenticatorConfig(ctx context.Context, realmID, id string) (AuthenticatorConfig, error)
	// ReferenceAuthenticatorConfig is GetAuthenticatorConfig for a row about
	// to reference the config: until the transaction ends, a concurrent
	// LockAuthenticatorConfig waits (there is no foreign key to do it).
	ReferenceAuthenticatorConfig(ctx context.Context, realmID, id string) (AuthenticatorConfig, error)
	// LockAuthenticatorConfig is GetAuthenticatorConfig for a delete: until
	// the transaction ends, concurrent references wait.
	LockAuthenticatorConfig(ctx context.Context, realmID, id string) (AuthenticatorConfig, error)
	ListAuthenticatorConfigs(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]AuthenticatorConfig, int, error)
	UpdateAuthenticatorConfig(ctx context.Context, c AuthenticatorConfig) error
	DeleteAuthenticatorConfig(ctx context.Context, realmID, id string) error
	// AuthenticatorConfigInUse reports whether an application, an open job
	// (by state; expiry is not considered) or a running batch uses the config.
	AuthenticatorConfigInUse(ctx context.Context, id string) (bool, error)

	CreateBindingJob(ctx context.Context, j BindingJob) error
	// GetBindingJob finds a job of the realm; identityID AnyIdentity matches any.
	GetBindingJob(ctx context.Context, realmID, identityID, id string) (BindingJob, error)
	ListBindingJobs(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]BindingJob, int, error)
	// SetBindingJobState moves a job to state only if it is in one of from,
	// so that of concurrent changes one wins; otherwise latchkey.ErrNotFound.
	SetBindingJobState(ctx context.Context, id string, from []string, state string, now time.Time) error
	// SetBindingJobVerified records when an identity provider vouched for
	// the job's identity.
	SetBindingJobVerified(ctx context.Context, id string, at time.Time) error
	// IdentityProviderName returns the display name of an identity
	// provider of the realm, latchkey.ErrNotFound when there is none.
	IdentityProviderName(ctx context.Context, tenantID, realmID, id string) (string, error)
	// CompleteBindingJob is SetBindingJobState to COMPLETE that also records
	// the credential bound.
	CompleteBindingJob(ctx context.Context, id string, from []string, credentialID string, now time.Time) error
	// ExpireBindingJobs moves open jobs whose expiry is before now to
	// EXPIRED and returns the identities they belonged to.
	ExpireBindingJobs(ctx context.Context, now time.Time) ([]string, error)

	CreateBatch(ctx context.Context, b Batch) error
	GetBatch(ctx context.Context, realmID, id string) (Batch, error)
	// QueuedBatchIdentities counts the identities that the realm's running
	// batches have still to handle. In an Update it holds the realm until
	// the transaction ends, so that of concurrent batch creations each
	// counts the ones before it.
	QueuedBatchIdentities(ctx context.Context, realmID string) (int, error)
	// ClaimBatch leases to owner until now+lease a running batch that no one
	// holds (or whose lease ran out); latchkey.ErrNotFound when there is none.
	ClaimBatch(ctx context.Context, owner string, now time.Time, lease time.Duration) (Batch, error)
	// SaveBatch stores a batch's progress and renews the lease, if owner
	// still holds it; otherwise latchkey.ErrNotFound.
	SaveBatch(ctx context.Context, b Batch, owner string, leaseUntil time.Time) error

	// CreateCredential returns latchkey.ErrDuplicate when the realm has a
	// credential with the same key (thumbprint).
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, realmID, identityID, id string) (Credential, error)
	// GetSignerByWebAuthnID finds a WebAuthn credential of the realm, with
	// its identity, by the id its authenticator knows it by.
	GetSignerByWebAuthnID(ctx context.Context, realmID string, credentialID []byte) (Credential, directory.Identity, error)
	// GetSignerByThumbprint finds a credential of the realm, with its
	// identity, by the RFC 7638 thumbprint of its key (JWKThumbprint).
	GetSignerByThumbprint(ctx context.Context, realmID, thumbprint string) (Credential, directory.Identity, error)
	ListCredentials(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]Credential, int, error)
	// UpdateCredential stores a credential's state, WebAuthn record,
	// display name and update time.
	UpdateCredential(ctx context.Context, c Credential) error
	// RecordCredentialUse stores what a sign-in changed of an ACTIVE
	// credential: its WebAuthn record (sign count, backup state), update
	// time and last use; latchkey.ErrNotFound when it is no longer ACTIVE.
	RecordCredentialUse(ctx context.Context, c Credential) error
	// RevokeFamiliesOfCredential revokes every token that a sign-in with
	// the credential led to, on every node at once.
	RevokeFamiliesOfCredential(ctx context.Context, credentialID string) error
	// EndSessions is session.Tx's: the one way a sign-in session ends.
	EndSessions(ctx context.Context, e session.End) ([]session.Session, error)

	// RefreshEnrollment recomputes the identity's enrollment status from its
	// credentials and jobs as they stand at now.
	RefreshEnrollment(ctx context.Context, identityID string, now time.Time) error
}

// Store is passkey storage; Update runs fn in one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}
