package upstream

import (
	"context"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Kinds of upstream provider, as their callback paths name them
// (sso.Service.CallbackURL).
const (
	KindSSOConfig        = "sso-configs"
	KindIdentityProvider = "identity-providers"
)

// AMR and ACR are those of a sign-in through an upstream provider: RFC
// 8176 has no value for a federated sign-in, so amr is Latchkey's "fed";
// acr says the upstream proved the user, not a passkey of Latchkey's.
var AMR = []string{"fed"}

const ACR = "urn:latchkey:acr:upstream-idp"

// TTL is how long an authorization waits for the upstream's callback.
const TTL = 10 * time.Minute

// Provider is an upstream OpenID Connect provider as sign-in uses it: an
// SSO config (generic_oidc_idp, okta_idp) or an identity provider (oidc_idp).
type Provider struct {
	Kind, ID, TenantID, RealmID, DisplayName string
	ClientID, ClientSecret                   string
	PKCE                                     string // disabled, plain or s256
	Scopes                                   []string
	AuthorizeURL, TokenURL, JWKSURL          string
	// ClaimName is the ID token's claim that names the user; Attribute
	// the identity's attribute it equals (id, email, username, external_id).
	ClaimName, Attribute string
	RedirectURL          string
}

// Authorization is a browser sent to an upstream provider, waiting for its
// callback: for a sign-in of an application (ApplicationID, RequestID), or
// for a binding job's verification (IdentityID, JobID, its link's token).
type Authorization struct {
	// ID is the hex SHA-256 of the state sent to the provider.
	ID                string
	TenantID, RealmID string
	Kind, ProviderID  string
	Nonce, Verifier   string
	BrowserHash       string
	ApplicationID     string
	RequestID         string
	IdentityID, JobID string
	LinkTokenSealed   string
	CreateTime        time.Time
	ExpireTime        time.Time
}

// samlMark starts the RequestID of an authorization for a pending SAML
// sign-in (whose SSO config is then its ApplicationID): the callback
// finishes it as a SAML sign-in, not an application's.
const samlMark = "saml:"

// ForSAML is an authorization for the pending SAML sign-in requestID of the
// SAML SSO config configID.
func ForSAML(configID, requestID string) Authorization {
	return Authorization{ApplicationID: configID, RequestID: samlMark + requestID}
}

// SAMLRequest is the pending SAML sign-in a is for, if it is for one.
func (a Authorization) SAMLRequest() (string, bool) { return strings.CutPrefix(a.RequestID, samlMark) }

// Store is what upstream keeps and reads.
type Store interface {
	CreateUpstreamAuthorization(ctx context.Context, a Authorization) error
	// TakeUpstreamAuthorization deletes and returns the realm's
	// authorization id, latchkey.ErrNotFound when there is none live at now.
	TakeUpstreamAuthorization(ctx context.Context, tenantID, realmID, id string, now time.Time) (Authorization, error)
	DeleteExpiredUpstreamAuthorizations(ctx context.Context, before time.Time) (int, error)
	// ListIdentities is directory.Tx's.
	ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]directory.Identity, int, error)
}

// Refusals of a user the upstream vouched for, which the hosted pages show.
var (
	ErrUnknownIdentity = latchkey.Errorf(latchkey.CodeForbidden, "no identity of the realm matches the identity provider's user")
	ErrSuspended       = latchkey.Errorf(latchkey.CodeForbidden, "the identity is suspended")
	ErrNotAssigned     = latchkey.Errorf(latchkey.CodeForbidden, "the identity is not assigned to this identity provider")
	ErrOtherIdentity   = latchkey.Errorf(latchkey.CodeForbidden, "the identity provider vouched for another identity than the link's")
)
