package oauth

import (
	"context"
	"errors"
	"github.com/latchkey/latchkey/internal/audit"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Roles: the API's §5. A role is a set of its resource server's scopes
// given to identities and groups; an identity holds the scopes of its own
// roles and of its groups' roles.

// Role is a named set of scopes of one resource server.
type Role struct {
	ID               string    `json:"id"`
	ResourceServerID string    `json:"resource_server_id"`
	RealmID          string    `json:"realm_id"`
	TenantID         string    `json:"tenant_id"`
	DisplayName      string    `json:"display_name"`
	Description      string    `json:"description"`
	CreateTime       time.Time `json:"create_time"`
	UpdateTime       time.Time `json:"update_time"`
}

// RoleTx reads and writes roles, their scopes and their members. Adding and
// removing scopes or members is idempotent per item.
type RoleTx interface {
	CreateRole(ctx context.Context, r Role) error
	GetRole(ctx context.Context, resourceServerID, id string) (Role, error)
	ListRoles(ctx context.Context, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error)
	UpdateRole(ctx context.Context, r Role) error
	// DeleteRole returns latchkey.ErrInUse while the role has scopes or members.
	DeleteRole(ctx context.Context, resourceServerID, id string) error

	AddRoleScopes(ctx context.Context, roleID string, scopes []string) error
	RemoveRoleScopes(ctx context.Context, roleID string, scopes []string) error
	ListRoleScopes(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]string, int, error)
	// RemoveScopesFromRoles removes scopes from every role of a resource server.
	RemoveScopesFromRoles(ctx context.Context, resourceServerID string, scopes []string) error

	AddRoleMembers(ctx context.Context, roleID string, groupIDs, identityIDs []string) error
	RemoveRoleMembers(ctx context.Context, roleID string, groupIDs, identityIDs []string) error
	ListRoleGroups(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]directory.Group, int, error)
	ListRoleIdentities(ctx context.Context, roleID string, opts latchkey.ListOptions) ([]directory.Identity, int, error)
	// ListRolesOfIdentity and ListRolesOfGroup list the roles given to the
	// identity or group itself, of one resource server or ("") of any.
	ListRolesOfIdentity(ctx context.Context, identityID, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error)
	ListRolesOfGroup(ctx context.Context, groupID, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error)
	// ScopesOfIdentity returns, sorted, the scopes of a resource server that
	// an identity holds through its roles and its groups' roles.
	ScopesOfIdentity(ctx context.Context, identityID, resourceServerID string) ([]string, error)

	GetGroup(ctx context.Context, realmID, id string) (directory.Group, error)
	// MissingIdentities and MissingGroups return those of ids that are not
	// identities (groups) of the realm.
	MissingIdentities(ctx context.Context, realmID string, ids []string) ([]string, error)
	MissingGroups(ctx context.Context, realmID string, ids []string) ([]string, error)
}

var errRoleChildren = latchkey.Errorf(latchkey.CodeConflict, "role has children")

func roleNotFound(id string) error { return latchkey.NotFound("Role", id, "role not found") }

func validateRole(r Role) error {
	var v latchkey.Violations
	if p := directory.NameProblem(r.DisplayName, true, 64); p != "" {
		v.Add("display_name", p)
	}
	if p := directory.NameProblem(r.Description, false, 300); p != "" {
		v.Add("description", p)
	}
	return v.Err()
}

// role returns a role of a resource server of the realm.
func role(ctx context.Context, tx Tx, tenantID, realmID, resourceServerID, id string) (Role, error) {
	if _, err := resourceServer(ctx, tx, tenantID, realmID, resourceServerID); err != nil {
		return Role{}, err
	}
	r, err := tx.GetRole(ctx, resourceServerID, id)
	return r, latchkey.IfNotFound(err, roleNotFound, id)
}

// CreateRole validates and stores a role of a resource server.
func (s *Service) CreateRole(ctx context.Context, tenantID, realmID, resourceServerID string, r Role) (Role, error) {
	t := s.Clock.Now()
	r.ID, r.ResourceServerID, r.TenantID, r.RealmID, r.CreateTime, r.UpdateTime = latchkey.NewID(), resourceServerID, tenantID, realmID, t, t
	if err := validateRole(r); err != nil {
		return r, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := resourceServer(ctx, tx, tenantID, realmID, resourceServerID); err != nil {
			return err
		}
		if err := tx.CreateRole(ctx, r); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "role.create", "Role", r.ID)
	})
	return r, err
}

// GetRole returns a role of a resource server of the realm.
func (s *Service) GetRole(ctx context.Context, tenantID, realmID, resourceServerID, id string) (Role, error) {
	return role(ctx, s.store, tenantID, realmID, resourceServerID, id)
}

// ListRoles returns a page of a resource server's roles.
func (s *Service) ListRoles(ctx context.Context, tenantID, realmID, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error) {
	if _, err := resourceServer(ctx, s.store, tenantID, realmID, resourceServerID); err != nil {
		return nil, 0, err
	}
	return s.store.ListRoles(ctx, resourceServerID, opts)
}

// changeRole runs change on a role in one transaction, then stores the
// role with a new update time and records the action.
func (s *Service) changeRole(ctx context.Context, tenantID, realmID, resourceServerID, id, action string, change func(Tx, *Role) error) (r Role, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if r, err = role(ctx, tx, tenantID, realmID, resourceServerID, id); err != nil {
			return err
		}
		before := audit.Snapshot(r) // change may edit r.Scopes in place
		if err := change(tx, &r); err != nil {
			return err
		}
		r.UpdateTime = s.Clock.Now()
		if err := tx.UpdateRole(ctx, r); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, r.UpdateTime, tenantID, realmID, action, "Role", id).Changed(r.DisplayName, before, r))
	})
	return r, err
}

// UpdateRole applies edit (display name, description) to a role.
func (s *Service) UpdateRole(ctx context.Context, tenantID, realmID, resourceServerID, id string, edit func(*Role) error) (Role, error) {
	return s.changeRole(ctx, tenantID, realmID, resourceServerID, id, "role.update", func(_ Tx, r *Role) error {
		keep := *r
		if err := edit(r); err != nil {
			return err
		}
		r.ID, r.ResourceServerID, r.RealmID, r.TenantID, r.CreateTime = keep.ID, keep.ResourceServerID, keep.RealmID, keep.TenantID, keep.CreateTime
		return validateRole(*r)
	})
}

// DeleteRole deletes a role without scopes or members.
func (s *Service) DeleteRole(ctx context.Context, tenantID, realmID, resourceServerID, id string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := role(ctx, tx, tenantID, realmID, resourceServerID, id); err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, resourceServerID, id); err != nil {
			if errors.Is(err, latchkey.ErrInUse) {
				return errRoleChildren
			}
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "role.delete", "Role", id)
	})
}

// distinct returns the values sorted, without repeats: repeated ids and
// scopes in a request are harmless.
func distinct(values []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(values)))
}

// checkScopeList applies the batch rules to the scopes of addScopes and
// deleteScopes.
func checkScopeList(scopes []string) error {
	switch {
	case len(scopes) == 0:
		return latchkey.InvalidField("scopes", "missing")
	case len(scopes) > directory.MaxBatch:
		return latchkey.InvalidField("scopes", "array exceeds 1000 elements")
	case slices.Contains(scopes, ""):
		return latchkey.InvalidField("scopes", "empty string")
	}
	return nil
}

// AddRoleScopes adds scopes of the role's resource server to the role;
// management scopes only those the actor of ctx holds.
func (s *Service) AddRoleScopes(ctx context.Context, tenantID, realmID, resourceServerID, id string, scopes []string) (Role, error) {
	scopes = distinct(scopes)
	if err := checkScopeList(scopes); err != nil {
		return Role{}, err
	}
	return s.changeRole(ctx, tenantID, realmID, resourceServerID, id, "role.add_scopes", func(tx Tx, r *Role) error {
		rs, err := tx.GetResourceServer(ctx, realmID, resourceServerID)
		if err != nil {
			return err
		}
		for _, sc := range scopes {
			if !slices.Contains(rs.Scopes, sc) {
				return latchkey.InvalidField("scopes", "scope "+sc+" is not a scope of the resource server")
			}
		}
		ms, err := managementScopes(ctx, tx, realmID, resourceServerID, scopes)
		if err != nil {
			return err
		}
		if err := latchkey.MayGrant(ctx, ms); err != nil {
			return err
		}
		return tx.AddRoleScopes(ctx, id, scopes)
	})
}

// DeleteRoleScopes removes scopes from a role; scopes it does not have are ignored.
func (s *Service) DeleteRoleScopes(ctx context.Context, tenantID, realmID, resourceServerID, id string, scopes []string) (Role, error) {
	scopes = distinct(scopes)
	if err := checkScopeList(scopes); err != nil {
		return Role{}, err
	}
	return s.changeRole(ctx, tenantID, realmID, resourceServerID, id, "role.delete_scopes", func(tx Tx, _ *Role) error {
		return tx.RemoveRoleScopes(ctx, id, scopes)
	})
}

// ListRoleScopes returns a page of a role's scopes.
func (s *Service) ListRoleScopes(ctx context.Context, tenantID, realmID, resourceServerID, id string, opts latchkey.ListOptions) ([]string, int, error) {
	if _, err := role(ctx, s.store, tenantID, realmID, resourceServerID, id); err != nil {
		return nil, 0, err
	}
	return s.store.ListRoleScopes(ctx, id, opts)
}

// checkMembers applies the batch rules to each list; the two together
// name one id at least.
func checkMembers(groupIDs, identityIDs []string) error {
	if len(groupIDs)+len(identityIDs) == 0 {
		return latchkey.InvalidField("identity_ids", "missing")
	}
	if len(groupIDs) > 0 {
		if err := directory.CheckIDs("group_ids", groupIDs); err != nil {
			return err
		}
	}
	if len(identityIDs) > 0 {
		return directory.CheckIDs("identity_ids", identityIDs)
	}
	return nil
}

// AddRoleMembers gives a role to groups and identities of the realm: all of
// them, or none when any is not in the realm. The actor of ctx must hold the
// role's management scopes.
func (s *Service) AddRoleMembers(ctx context.Context, tenantID, realmID, resourceServerID, id string, groupIDs, identityIDs []string) (Role, error) {
	groupIDs, identityIDs = distinct(groupIDs), distinct(identityIDs)
	if err := checkMembers(groupIDs, identityIDs); err != nil {
		return Role{}, err
	}
	return s.changeRole(ctx, tenantID, realmID, resourceServerID, id, "role.add_members", func(tx Tx, _ *Role) error {
		scopes, _, err := tx.ListRoleScopes(ctx, id, latchkey.ListOptions{Limit: maxScopes, SkipTotal: true})
		if err != nil {
			return err
		}
		ms, err := managementScopes(ctx, tx, realmID, resourceServerID, scopes)
		if err != nil {
			return err
		}
		if err := latchkey.MayGrant(ctx, ms); err != nil {
			return err
		}
		missing, err := tx.MissingGroups(ctx, realmID, groupIDs)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return latchkey.BatchNotFound("Group", "groups not found", missing)
		}
		if missing, err = tx.MissingIdentities(ctx, realmID, identityIDs); err != nil {
			return err
		}
		if len(missing) > 0 {
			return latchkey.BatchNotFound("Identity", "identities not found", missing)
		}
		return tx.AddRoleMembers(ctx, id, groupIDs, identityIDs)
	})
}

// DeleteRoleMembers takes a role from groups and identities; those that do
// not have it are ignored.
func (s *Service) DeleteRoleMembers(ctx context.Context, tenantID, realmID, resourceServerID, id string, groupIDs, identityIDs []string) (Role, error) {
	groupIDs, identityIDs = distinct(groupIDs), distinct(identityIDs)
	if err := checkMembers(groupIDs, identityIDs); err != nil {
		return Role{}, err
	}
	return s.changeRole(ctx, tenantID, realmID, resourceServerID, id, "role.delete_members", func(tx Tx, _ *Role) error {
		return tx.RemoveRoleMembers(ctx, id, groupIDs, identityIDs)
	})
}

// RoleMembers is one page of a role's groups and one of its identities.
type RoleMembers struct {
	Groups          []directory.Group
	TotalGroups     int
	Identities      []directory.Identity
	TotalIdentities int
}

// ListRoleMembers returns a page of the groups and one of the identities
// that have a role.
func (s *Service) ListRoleMembers(ctx context.Context, tenantID, realmID, resourceServerID, id string, groupOpts, identityOpts latchkey.ListOptions) (m RoleMembers, err error) {
	if _, err = role(ctx, s.store, tenantID, realmID, resourceServerID, id); err != nil {
		return m, err
	}
	if m.Groups, m.TotalGroups, err = s.store.ListRoleGroups(ctx, id, groupOpts); err != nil {
		return m, err
	}
	m.Identities, m.TotalIdentities, err = s.store.ListRoleIdentities(ctx, id, identityOpts)
	return m, err
}

// rolesFilter checks the resource server a list of roles is narrowed to; an
// unknown one is a 409, as the reference says.
func rolesFilter(ctx context.Context, tx Tx, tenantID, realmID, resourceServerID string) error {
	if resourceServerID == "" {
		return nil
	}
	_, err := resourceServer(ctx, tx, tenantID, realmID, resourceServerID)
	if latchkey.ErrorCode(err) == latchkey.CodeNotFound {
		return latchkey.Errorf(latchkey.CodeConflict, "resource server not found")
	}
	return err
}

// ListRolesOfIdentity lists the roles given to an identity itself, of one
// resource server or ("") of all.
func (s *Service) ListRolesOfIdentity(ctx context.Context, tenantID, realmID, identityID, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error) {
	i, err := s.store.GetIdentity(ctx, realmID, identityID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && i.TenantID != tenantID) {
		return nil, 0, directory.IdentityNotFound(identityID)
	}
	if err != nil {
		return nil, 0, err
	}
	if err := rolesFilter(ctx, s.store, tenantID, realmID, resourceServerID); err != nil {
		return nil, 0, err
	}
	return s.store.ListRolesOfIdentity(ctx, identityID, resourceServerID, opts)
}

// ListRolesOfGroup lists the roles given to a group, of one resource server
// or ("") of all.
func (s *Service) ListRolesOfGroup(ctx context.Context, tenantID, realmID, groupID, resourceServerID string, opts latchkey.ListOptions) ([]Role, int, error) {
	g, err := s.store.GetGroup(ctx, realmID, groupID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && g.TenantID != tenantID) {
		return nil, 0, directory.GroupNotFound(groupID)
	}
	if err != nil {
		return nil, 0, err
	}
	if err := rolesFilter(ctx, s.store, tenantID, realmID, resourceServerID); err != nil {
		return nil, 0, err
	}
	return s.store.ListRolesOfGroup(ctx, groupID, resourceServerID, opts)
}
