package sso

import (
	"context"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Config is an SSO config of a realm.
type Config struct {
	ID          string
	TenantID    string
	RealmID     string
	DisplayName string
	IsMigrated  bool
	// Type is the payload's type (one of Types).
	Type    string
	Payload Payload
	// SecretSealed is the payload's upstream secret sealed by secretbox ("" for none).
	SecretSealed string
	// ApplicationID is the oauth application behind a backed config ("" for none).
	ApplicationID          string
	CreateTime, UpdateTime time.Time
}

// MarshalJSON writes the config as the API answers it: {id, display_name, payload}
// and, a Latchkey extension, is_migrated and its times.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID          string    `json:"id"`
		DisplayName string    `json:"display_name"`
		IsMigrated  bool      `json:"is_migrated"`
		Payload     Payload   `json:"payload"`
		CreateTime  time.Time `json:"create_time"`
		UpdateTime  time.Time `json:"update_time"`
	}{c.ID, c.DisplayName, c.IsMigrated, c.Payload, c.CreateTime, c.UpdateTime})
}

// TileConfig is a config as the app portal reads it: its payload is the
// stored JSON, of which a tile needs a few fields.
type TileConfig struct {
	ID, TenantID, RealmID, Type, DisplayName string
	Payload                                  []byte
}

// AssociatedIdentity is an identity assigned to a config directly (GroupID
// "") or through a group.
type AssociatedIdentity struct {
	directory.Identity
	GroupID          string `json:"group_id,omitempty"`
	GroupDisplayName string `json:"group_display_name,omitempty"`
}

// AssociatedGroup is a group assigned to a config, with its number of members.
type AssociatedGroup struct {
	directory.Group
	MemberCount int `json:"member_count"`
}

// ListFilter selects configs of a list: of some types (none: any), and
// migrated or not (nil: either).
type ListFilter struct {
	Types      []string
	IsMigrated *bool
}

// Tx is what SSO needs inside one transaction.
type Tx interface {
	// CreateSSOConfig returns latchkey.ErrNoParent when the realm is gone.
	CreateSSOConfig(ctx context.Context, c Config) error
	// GetSSOConfig returns latchkey.ErrNotFound when the realm has no such config.
	GetSSOConfig(ctx context.Context, tenantID, realmID, id string) (Config, error)
	// GetSSOConfigOfApplication returns the config backed by an application,
	// or latchkey.ErrNotFound.
	GetSSOConfigOfApplication(ctx context.Context, tenantID, realmID, applicationID string) (Config, error)
	// ListSSOConfigs pages a realm's configs by id; f narrows them.
	ListSSOConfigs(ctx context.Context, tenantID, realmID string, f ListFilter, opts latchkey.ListOptions) ([]Config, int, error)
	// UpdateSSOConfig and DeleteSSOConfig return latchkey.ErrNotFound for an
	// unknown config; deleting one deletes its assignments.
	UpdateSSOConfig(ctx context.Context, c Config) error
	DeleteSSOConfig(ctx context.Context, tenantID, realmID, id string) error

	// AssignIdentities and AssignGroups are idempotent per id, as are the
	// Unassign ones; the ids must be of the config's realm.
	AssignIdentities(ctx context.Context, configID string, identityIDs []string) error
	UnassignIdentities(ctx context.Context, configID string, identityIDs []string) error
	AssignGroups(ctx context.Context, configID string, groupIDs []string) error
	UnassignGroups(ctx context.Context, configID string, groupIDs []string) error
	// ListAssignedIdentities pages the identities assigned to a config,
	// directly and through groups (one item per way), by identity then group.
	ListAssignedIdentities(ctx context.Context, configID string, opts latchkey.ListOptions) ([]AssociatedIdentity, int, error)
	// ListAssignedGroups pages the groups assigned to a config, by id.
	ListAssignedGroups(ctx context.Context, configID string, opts latchkey.ListOptions) ([]AssociatedGroup, int, error)
	// ListSSOConfigsOfIdentity pages, by id, the configs of the realm assigned
	// to an identity directly or through any of its groups.
	ListSSOConfigsOfIdentity(ctx context.Context, realmID, identityID string, opts latchkey.ListOptions) ([]Config, int, error)
	// ListTileConfigsOfIdentity is ListSSOConfigsOfIdentity for the app
	// portal: the configs after the id after (at most limit), by id, with
	// their payloads undecoded.
	ListTileConfigsOfIdentity(ctx context.Context, realmID, identityID, after string, limit int) ([]TileConfig, error)
	// ListSSOConfigsOfGroup pages, by id, the configs assigned to a group.
	ListSSOConfigsOfGroup(ctx context.Context, realmID, groupID string, opts latchkey.ListOptions) ([]Config, int, error)
	// IdentityAssigned reports whether an identity is assigned to a config,
	// directly or through a group; GroupsAssigned which of groupIDs are.
	IdentityAssigned(ctx context.Context, configID, identityID string) (bool, error)
	GroupsAssigned(ctx context.Context, configID string, groupIDs []string) ([]string, error)

	// MissingGroups returns those of ids that are not groups of the realm.
	MissingGroups(ctx context.Context, realmID string, ids []string) ([]string, error)
	MissingIdentities(ctx context.Context, realmID string, ids []string) ([]string, error)
	GetIdentity(ctx context.Context, realmID, id string) (directory.Identity, error)
	GetGroup(ctx context.Context, realmID, id string) (directory.Group, error)

	CreateIdentityProvider(ctx context.Context, p IdentityProvider) error
	GetIdentityProvider(ctx context.Context, tenantID, realmID, id string) (IdentityProvider, error)
	ListIdentityProviders(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]IdentityProvider, int, error)
	UpdateIdentityProvider(ctx context.Context, p IdentityProvider) error
	DeleteIdentityProvider(ctx context.Context, tenantID, realmID, id string) error

	// GetFlowTypeConfig returns latchkey.ErrNotFound before a realm's first;
	// PutFlowTypeConfig creates or replaces it.
	GetFlowTypeConfig(ctx context.Context, tenantID, realmID string) (FlowTypeConfig, error)
	PutFlowTypeConfig(ctx context.Context, c FlowTypeConfig) error

	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)
	RecordEvent(ctx context.Context, e audit.Event) error
}

// Store is SSO's storage.
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
}
