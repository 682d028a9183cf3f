package oauth

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// ResourceServer is an API whose scopes applications may be granted. The
// managed one with identifier ManagementAPI is Latchkey's own API.
type ResourceServer struct {
	ID          string    `json:"id"`
	RealmID     string    `json:"realm_id"`
	TenantID    string    `json:"tenant_id"`
	DisplayName string    `json:"display_name"`
	IsManaged   bool      `json:"is_managed"`
	Identifier  string    `json:"identifier"`
	Scopes      []string  `json:"scopes"`
	CreateTime  time.Time `json:"-"`
	UpdateTime  time.Time `json:"-"`
}

// Application is an OAuth 2.0 / OIDC client.
type Application struct {
	ID                    string         `json:"id"`
	RealmID               string         `json:"realm_id"`
	TenantID              string         `json:"tenant_id"`
	ResourceServerID      string         `json:"resource_server_id,omitempty"`
	AuthenticatorConfigID string         `json:"authenticator_config_id,omitempty"`
	DisplayName           string         `json:"display_name"`
	IsManaged             bool           `json:"is_managed"`
	Classification        string         `json:"classification,omitempty"`
	ProtocolConfig        ProtocolConfig `json:"protocol_config"`
	CreateTime            time.Time      `json:"-"`
	UpdateTime            time.Time      `json:"-"`
}

// ProtocolConfig is the oauth2/oidc configuration of an application.
type ProtocolConfig struct {
	Type                    string   `json:"type"`
	AllowedScopes           []string `json:"allowed_scopes"`
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	Confidentiality         string   `json:"confidentiality"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantType               []string `json:"grant_type"`
	RedirectURIs            []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser afterwards (exact match); BackchannelLogoutURI is where a
	// logout token is POSTed when a session that signed in to the
	// application ends ("" for none). OpenID Connect's registration names.
	PostLogoutRedirectURIs []string           `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string             `json:"backchannel_logout_uri"`
	TokenConfiguration     TokenConfiguration `json:"token_configuration"`
	PKCE                   string             `json:"pkce"`
	TokenFormat            string             `json:"token_format"`
	// RefreshTokenConfiguration is a Latchkey extension (the reference
	// names no such fields): how long refresh tokens live and whether they rotate.
	RefreshTokenConfiguration RefreshTokenConfiguration `json:"refresh_token_configuration"`
}

// RefreshTokenConfiguration says how the refresh tokens of an application
// with the refresh_token grant live.
type RefreshTokenConfiguration struct {
	// ExpiresAfter is how long, in seconds, a refresh token may be used
	// (default 30 days); a rotating refresh answers a new one as long.
	ExpiresAfter int `json:"expires_after"`
	// AbsoluteLifetime bounds, in seconds after the code was redeemed, every
	// refresh token of a sign-in, rotated or not; 0 sets no bound.
	AbsoluteLifetime int `json:"absolute_lifetime"`
	// RotationType is Rotating (the default) or NonRotating.
	RotationType string `json:"rotation_type"`
}

// TokenConfiguration says how long tokens live and what their subject is.
type TokenConfiguration struct {
	ExpiresAfter          int    `json:"expires_after"`
	TokenSigningAlgorithm string `json:"token_signing_algorithm"`
	SubjectField          string `json:"subject_field"`
}

// Token is the record of an issued token; its id is the token's jti.
// Deleting the record revokes the token.
type Token struct {
	ID            string   `json:"id"`
	TenantID      string   `json:"-"`
	RealmID       string   `json:"-"`
	ApplicationID string   `json:"-"`
	PrincipalType string   `json:"-"`
	PrincipalID   string   `json:"-"`
	DisplayName   string   `json:"display_name,omitempty"`
	Scopes        []string `json:"scopes"`
	TokenSuffix   string   `json:"token_suffix"`
	TokenFormat   string   `json:"token_format"`
	TokenType     string   `json:"token_type"`
	IssuedAt      int64    `json:"issued_at"`
	Expires       int64    `json:"expires"`
	// Claims are, for a referential token, the JSON claims it stands for.
	Claims string `json:"-"`
	// FamilyID is the grant family the token descends from ("" for client
	// credentials): revoking the family deletes the record.
	FamilyID string `json:"-"`
}

// Family is what every token of one sign-in descends from: redeeming the
// code starts it, each refresh continues it, and revoking it revokes them
// all at once (RFC 6749 §4.1.2, RFC 9700 §4.14.2). Its id is the sign-in's.
type Family struct {
	ID            string
	TenantID      string
	RealmID       string
	ApplicationID string
	IdentityID    string
	CredentialID  string // the passkey that signed in
	CreateTime    time.Time
	ExpireTime    time.Time // when its last token or refresh token expires
}

// SigningKey is a key that signs JWTs with its Algorithm (RS256 or ES256).
// The private key is sealed with the master key.
type SigningKey struct {
	ID               string // the JWT kid
	Algorithm        string
	PrivateKeySealed string
	CreateTime       time.Time
}

// TokenFilter narrows ListTokens to one principal.
type TokenFilter struct {
	PrincipalType, PrincipalID string
}

// Tx reads and writes applications, resource servers, tokens and keys in one
// transaction. Missing rows are latchkey.ErrNotFound; taken unique values
// (client id, resource server identifier) are latchkey.ErrDuplicate.
type Tx interface {
	CreateResourceServer(ctx context.Context, rs ResourceServer) error
	GetResourceServer(ctx context.Context, realmID, id string) (ResourceServer, error)
	ListResourceServers(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]ResourceServer, int, error)
	UpdateResourceServer(ctx context.Context, rs ResourceServer) error
	// DeleteResourceServer returns latchkey.ErrInUse while applications or roles use it.
	DeleteResourceServer(ctx context.Context, realmID, id string) error
	// RemoveScopesFromApplications takes scopes out of the allowed scopes of
	// a resource server's applications and returns the ids of those it changed.
	RemoveScopesFromApplications(ctx context.Context, resourceServerID string, scopes []string) ([]string, error)

	// CreateApplication stores app with its client secret sealed.
	CreateApplication(ctx context.Context, app Application, secretSealed string) error
	// GetApplication returns an application and its sealed client secret ("" for public clients).
	GetApplication(ctx context.Context, realmID, id string) (Application, string, error)
	// ListApplications returns a page of applications with their sealed secrets.
	ListApplications(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]Application, []string, int, error)
	UpdateApplication(ctx context.Context, app Application, secretSealed string) error
	// ApplicationIDByClientID finds an application of the realm by its client id.
	ApplicationIDByClientID(ctx context.Context, realmID, clientID string) (string, error)
	DeleteApplication(ctx context.Context, realmID, id string) error
	GetAuthenticatorConfig(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error)
	// ReferenceAuthenticatorConfig is passkey.Tx's: it keeps the config from
	// being deleted until the application that references it is stored.
	ReferenceAuthenticatorConfig(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error)
	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)

	RoleTx

	// SaveGrant stores what a token response issued, all or nothing. When
	// the grant redeems a code that was redeemed before, or continues a
	// family that was revoked, it stores nothing and returns
	// latchkey.ErrNotFound.
	SaveGrant(ctx context.Context, g Grant) error
	GetToken(ctx context.Context, id string) (Token, error)
	ListTokens(ctx context.Context, applicationID string, f TokenFilter, opts latchkey.ListOptions) ([]Token, int, error)
	DeleteToken(ctx context.Context, applicationID, id string) error
	// DeleteExpiredTokens removes records of tokens that expired before t.
	DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error)

	// SaveAuthRequest stores a sign-in with its event (or nil): pending, or
	// finished already (with its identity and code hash).
	SaveAuthRequest(ctx context.Context, r AuthRequest, e *audit.Event) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// GetSignInByCode finds a finished sign-in by the hash of its code,
	// with the identity that signed in. (Whether its passkey may still sign
	// in, SaveGrant checks when the code is spent.)
	GetSignInByCode(ctx context.Context, codeHash string) (AuthRequest, directory.Identity, error)
	// FinishAuthRequest records who signed in and the code, if no one has
	// yet and the sign-in is r's (tenant, realm, application, challenge)
	// and pending at the time given: else latchkey.ErrNotFound.
	FinishAuthRequest(ctx context.Context, r AuthRequest, at time.Time) error
	// Approve stores a sign-in's approval, in one transaction with those
	// that concurrent sign-ins approve: latchkey.ErrNotFound when the
	// request was not pending (as FinishAuthRequest), ErrSessionEnded when
	// its session was not live; either way it stores nothing. It returns
	// the request as stored: a pending one's parameters are read with it.
	Approve(ctx context.Context, a Approval) (AuthRequest, error)
	GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error)
	// ListIdentities pages a realm's identities (Entra ID's hints find theirs by a filter).
	ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]directory.Identity, int, error)
	// UseSession is session.Tx's: a session signs in to an application.
	UseSession(ctx context.Context, id, applicationID string, at time.Time, touch bool) error
	// GetSession, ListSessions and EndSessions are session.Tx's: sign-out
	// and the sessions an administrator lists and ends.
	GetSession(ctx context.Context, id string) (sessions.Session, error)
	// GetSessionWithIdentity reads a session with its identity in one
	// statement: latchkey.ErrNotFound when either is gone.
	GetSessionWithIdentity(ctx context.Context, id string) (sessions.Session, directory.Identity, error)
	ListSessions(ctx context.Context, realmID, identityID string, t time.Time) ([]sessions.Session, error)
	EndSessions(ctx context.Context, e sessions.End) ([]sessions.Session, error)
	// EnqueueDelivery is delivery.Tx's: back-channel logout tokens.
	EnqueueDelivery(ctx context.Context, d delivery.Delivery) error

	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// UseRefreshToken marks a refresh token used, once: latchkey.ErrNotFound if it was.
	UseRefreshToken(ctx context.Context, hash string) error
	// RevokeFamily deletes a grant family with the records of its tokens
	// and its refresh tokens; an unknown family is no error.
	RevokeFamily(ctx context.Context, id string) error

	CreateSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	DeleteSigningKey(ctx context.Context, id string) error

	RecordEvent(ctx context.Context, e audit.Event) error
	// RecordEvents records events in as few statements as it can.
	RecordEvents(ctx context.Context, es []audit.Event) error
}

// Store is the oauth storage: Tx methods run on their own; Update runs fn in
// one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}
