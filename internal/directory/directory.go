package directory

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/session"
)

// Tenant is the top of the hierarchy; every other resource belongs to one.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	CreateTime  time.Time `json:"create_time"`
	UpdateTime  time.Time `json:"update_time"`
}

// Realm classifications.
const (
	SecureWorkforce = "SECURE_WORKFORCE"
	SecureCustomer  = "SECURE_CUSTOMER"
)

// Realm is a namespace of identities, groups and applications inside a tenant.
type Realm struct {
	ID             string `json:"id"`
	TenantID       string `json:"tenant_id"`
	DisplayName    string `json:"display_name"`
	Classification string `json:"classification"`
	// Session lifetimes in seconds (Latchkey extension; 0 or absent: the
	// defaults of internal/session): how long a sign-in session lives
	// unused, and at most after its passkey signed in.
	SessionIdleTimeout int       `json:"session_idle_timeout,omitempty"`
	SessionLifetime    int       `json:"session_lifetime,omitempty"`
	CreateTime         time.Time `json:"create_time"`
	UpdateTime         time.Time `json:"update_time"`
}

// Identity statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Enrollment statuses of an identity.
const (
	Unenrolled = "UNENROLLED"
	Pending    = "PENDING"
	Enrolled   = "ENROLLED"
	// InviteFailed: no passkey and no pending link, but a link failed to send.
	InviteFailed = "INVITE_FAILED"
)

// Identity is a user of a realm.
type Identity struct {
	ID               string    `json:"id"`
	RealmID          string    `json:"realm_id"`
	TenantID         string    `json:"tenant_id"`
	DisplayName      string    `json:"display_name"`
	Status           string    `json:"status"`
	Traits           Traits    `json:"traits"`
	EnrollmentStatus string    `json:"enrollment_status"`
	CreateTime       time.Time `json:"create_time"`
	UpdateTime       time.Time `json:"update_time"`
}

// Active reports whether the identity may sign in and hold tokens.
func (i Identity) Active() bool { return i.Status == StatusActive }

// LosesAccess reports whether an update from old to updated ends the
// identity's access, so that its tokens must be revoked with it.
func LosesAccess(old, updated Identity) bool { return old.Active() && !updated.Active() }

// Group is a named set of identities of one realm.
type Group struct {
	ID          string `json:"id"`
	RealmID     string `json:"realm_id"`
	TenantID    string `json:"tenant_id"`
	DisplayName string `json:"display_name"`
	Description string `json:"description"`
	// ExternalID is a provisioning client's id of the group (SCIM
	// externalId); the v1 API does not show it.
	ExternalID string    `json:"-"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

// Tx reads and writes the directory inside one transaction. Lists return the
// page and the total number of matches. Missing rows are latchkey.ErrNotFound;
// a taken unique name is latchkey.ErrDuplicate; deleting a row that others
// still refer to is latchkey.ErrInUse; referring to a missing row is
// latchkey.ErrNoParent.
type Tx interface {
	CreateTenant(ctx context.Context, t Tenant) error
	GetTenant(ctx context.Context, id string) (Tenant, error)
	UpdateTenant(ctx context.Context, t Tenant) error

	CreateRealm(ctx context.Context, r Realm) error
	GetRealm(ctx context.Context, tenantID, id string) (Realm, error)
	ListRealms(ctx context.Context, tenantID string, opts latchkey.ListOptions) ([]Realm, int, error)
	UpdateRealm(ctx context.Context, r Realm) error
	DeleteRealm(ctx context.Context, tenantID, id string) error

	// CreateIdentities inserts identities of one realm in one statement batch.
	CreateIdentities(ctx context.Context, ids []Identity) error
	GetIdentity(ctx context.Context, realmID, id string) (Identity, error)
	ListIdentities(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]Identity, int, error)
	// IdentityIDs is ListIdentities reading ids only (opts.SkipTotal is implied).
	IdentityIDs(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]string, error)
	// CountIdentitiesUpTo counts the identities of the realm that match f,
	// up to max+1 (more than max when it returns max+1).
	CountIdentitiesUpTo(ctx context.Context, realmID string, f filter.Expr, max int) (int, error)
	// IdentitiesByID returns those of ids that are identities of the realm, in no particular order.
	IdentitiesByID(ctx context.Context, realmID string, ids []string) ([]Identity, error)
	UpdateIdentity(ctx context.Context, i Identity) error
	// DeleteIdentities deletes identities of a realm with their memberships
	// and returns how many existed.
	DeleteIdentities(ctx context.Context, realmID string, ids []string) (int, error)
	// RevokeTokensOfIdentities revokes every token issued to the identities:
	// access, ID and refresh tokens, on every node at once.
	RevokeTokensOfIdentities(ctx context.Context, ids []string) error
	// EndSessions is session.Tx's: the one way a sign-in session ends.
	EndSessions(ctx context.Context, e session.End) ([]session.Session, error)
	// MissingIdentities returns those of ids that are not identities of the realm.
	MissingIdentities(ctx context.Context, realmID string, ids []string) ([]string, error)

	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, realmID, id string) (Group, error)
	// LockGroup is GetGroup that also keeps other transactions from
	// changing the group until this one ends.
	LockGroup(ctx context.Context, realmID, id string) (Group, error)
	ListGroups(ctx context.Context, realmID string, opts latchkey.ListOptions) ([]Group, int, error)
	UpdateGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, realmID, id string) error

	// AddMembers and RemoveMembers are idempotent per member. Membership
	// changes move the update time of the group, and deleting identities
	// that of their groups: a SCIM Group shows its members, and its version
	// follows. (A User's version is made of its groups' ids.)
	AddMembers(ctx context.Context, groupID string, identityIDs []string) error
	// AddMemberships is AddMembers for several groups at once, by group id.
	AddMemberships(ctx context.Context, members map[string][]string) error
	// InsertMemberships is AddMemberships without moving the update times
	// of the groups, which the caller moves with TouchGroups in the same
	// transaction.
	InsertMemberships(ctx context.Context, members map[string][]string) error
	// TouchGroups moves the update times of groups, as a membership change does.
	TouchGroups(ctx context.Context, groupIDs []string) error
	RemoveMembers(ctx context.Context, groupID string, identityIDs []string) error
	RemoveAllMembers(ctx context.Context, groupID string) error
	// GroupsOfIdentities returns the groups of each identity, in one query.
	GroupsOfIdentities(ctx context.Context, identityIDs []string) (map[string][]Group, error)
	ListMembers(ctx context.Context, groupID string, opts latchkey.ListOptions) ([]Identity, int, error)
	// MembersAmong returns those of identityIDs that are members of the group.
	MembersAmong(ctx context.Context, groupID string, identityIDs []string) ([]string, error)
	// CountMembers counts a group's members up to max+1: more than max
	// when it returns max+1.
	CountMembers(ctx context.Context, groupID string, max int) (int, error)
	ListGroupsOfIdentity(ctx context.Context, identityID string, opts latchkey.ListOptions) ([]Group, int, error)
	// ManagementScopesOf returns the management API's scopes that identities
	// hold through roles, and that groups give their members.
	ManagementScopesOf(ctx context.Context, identityIDs, groupIDs []string) ([]string, error)

	// RecordEvents records events in as few statements as it can (a bulk change's).
	RecordEvents(ctx context.Context, es []audit.Event) error
	RecordEvent(ctx context.Context, e audit.Event) error
}

// Store is the directory's storage: Tx methods called on it run on their own;
// Update runs fn in one read-write transaction, committed when fn returns nil.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
	// CreateIdentity creates an identity with its audit event, all or
	// nothing, perhaps in one transaction with those that concurrent
	// requests create: latchkey.ErrNotFound when its realm is not its
	// tenant's, latchkey.ErrDuplicate when its username is taken.
	CreateIdentity(ctx context.Context, i Identity, e audit.Event) error
}
