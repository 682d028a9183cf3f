package sso

import (
	"context"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Assignments: who may use a config. An identity is assigned directly or
// through any group it belongs to; the app portal and policy ask
// IsIdentityAssigned.

// changeAssignments checks ids (1 to 1,000, no empties, repeats ignored),
// that the config exists and that every id is one of missing's kind in the
// realm (all or none, else a 404 listing the missing), then applies change.
func (s *Service) changeAssignments(ctx context.Context, tenantID, realmID, id, field, kind, message string, ids []string,
	missing func(tx Tx, ids []string) ([]string, error), change func(tx Tx, ids []string) error) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if err := directory.CheckIDs(field, ids); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.GetSSOConfig(ctx, tenantID, realmID, id); err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		absent, err := missing(tx, ids)
		if err != nil {
			return err
		}
		if len(absent) > 0 {
			return latchkey.BatchNotFound(kind, message, absent)
		}
		if err := change(tx, ids); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "sso_config.assignments_update", "SsoConfig", id)
	})
}

func (s *Service) missingIdentities(ctx context.Context, realmID string) func(Tx, []string) ([]string, error) {
	return func(tx Tx, ids []string) ([]string, error) { return tx.MissingIdentities(ctx, realmID, ids) }
}

func (s *Service) missingGroups(ctx context.Context, realmID string) func(Tx, []string) ([]string, error) {
	return func(tx Tx, ids []string) ([]string, error) { return tx.MissingGroups(ctx, realmID, ids) }
}

// AddIdentities assigns identities of the realm to a config.
func (s *Service) AddIdentities(ctx context.Context, tenantID, realmID, id string, identityIDs []string) error {
	return s.changeAssignments(ctx, tenantID, realmID, id, "identity_ids", "Identity", "identities not found", identityIDs,
		s.missingIdentities(ctx, realmID), func(tx Tx, ids []string) error { return tx.AssignIdentities(ctx, id, ids) })
}

// DeleteIdentities takes direct assignments of identities away; those
// through groups stay.
func (s *Service) DeleteIdentities(ctx context.Context, tenantID, realmID, id string, identityIDs []string) error {
	return s.changeAssignments(ctx, tenantID, realmID, id, "identity_ids", "Identity", "identities not found", identityIDs,
		s.missingIdentities(ctx, realmID), func(tx Tx, ids []string) error { return tx.UnassignIdentities(ctx, id, ids) })
}

// AddGroups assigns groups of the realm (and so their members) to a config.
func (s *Service) AddGroups(ctx context.Context, tenantID, realmID, id string, groupIDs []string) error {
	return s.changeAssignments(ctx, tenantID, realmID, id, "group_ids", "Group", "groups not found", groupIDs,
		s.missingGroups(ctx, realmID), func(tx Tx, ids []string) error { return tx.AssignGroups(ctx, id, ids) })
}

// DeleteGroups takes assignments of groups away.
func (s *Service) DeleteGroups(ctx context.Context, tenantID, realmID, id string, groupIDs []string) error {
	return s.changeAssignments(ctx, tenantID, realmID, id, "group_ids", "Group", "groups not found", groupIDs,
		s.missingGroups(ctx, realmID), func(tx Tx, ids []string) error { return tx.UnassignGroups(ctx, id, ids) })
}

func (s *Service) config(ctx context.Context, tenantID, realmID, id string) error {
	_, err := s.store.GetSSOConfig(ctx, tenantID, realmID, id)
	return latchkey.IfNotFound(err, notFound, id)
}

// ListIdentityAssociations pages the identities assigned to a config,
// directly (no group) and through each group (with the group's id and name):
// an identity may be listed more than once, as the API says.
func (s *Service) ListIdentityAssociations(ctx context.Context, tenantID, realmID, id string, opts latchkey.ListOptions) ([]AssociatedIdentity, int, error) {
	if err := s.config(ctx, tenantID, realmID, id); err != nil {
		return nil, 0, err
	}
	return s.store.ListAssignedIdentities(ctx, id, opts)
}

// ListGroupAssociations pages the groups assigned to a config.
func (s *Service) ListGroupAssociations(ctx context.Context, tenantID, realmID, id string, opts latchkey.ListOptions) ([]AssociatedGroup, int, error) {
	if err := s.config(ctx, tenantID, realmID, id); err != nil {
		return nil, 0, err
	}
	return s.store.ListAssignedGroups(ctx, id, opts)
}

func (s *Service) identity(ctx context.Context, tenantID, realmID, id string) error {
	i, err := s.store.GetIdentity(ctx, realmID, id)
	if err == nil && i.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	return latchkey.IfNotFound(err, directory.IdentityNotFound, id)
}

// ListConfigsOfIdentity pages the configs assigned to an identity, directly
// or through its groups.
func (s *Service) ListConfigsOfIdentity(ctx context.Context, tenantID, realmID, identityID string, opts latchkey.ListOptions) ([]Config, int, error) {
	if err := s.identity(ctx, tenantID, realmID, identityID); err != nil {
		return nil, 0, err
	}
	cs, total, err := s.store.ListSSOConfigsOfIdentity(ctx, realmID, identityID, opts)
	return s.filled(ctx, cs, total, err)
}

// ListConfigsOfGroup pages the configs assigned to a group.
func (s *Service) ListConfigsOfGroup(ctx context.Context, tenantID, realmID, groupID string, opts latchkey.ListOptions) ([]Config, int, error) {
	g, err := s.store.GetGroup(ctx, realmID, groupID)
	if err == nil && g.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return nil, 0, latchkey.IfNotFound(err, directory.GroupNotFound, groupID)
	}
	cs, total, err := s.store.ListSSOConfigsOfGroup(ctx, realmID, groupID, opts)
	return s.filled(ctx, cs, total, err)
}

// IsIdentityAssigned reports whether an identity may use a config: it is
// assigned directly or through a group it belongs to.
func (s *Service) IsIdentityAssigned(ctx context.Context, tenantID, realmID, identityID, id string) (bool, error) {
	if err := s.identity(ctx, tenantID, realmID, identityID); err != nil {
		return false, err
	}
	if err := s.config(ctx, tenantID, realmID, id); err != nil {
		return false, err
	}
	return s.store.IdentityAssigned(ctx, id, identityID)
}

// IsGroupAssigned reports whether any of groupIDs is assigned to a config;
// ids that are no group of the realm are not.
func (s *Service) IsGroupAssigned(ctx context.Context, tenantID, realmID, id string, groupIDs []string) (bool, error) {
	groupIDs = slices.Compact(slices.Sorted(slices.Values(groupIDs)))
	if err := directory.CheckIDs("group_ids", groupIDs); err != nil {
		return false, err
	}
	if err := s.config(ctx, tenantID, realmID, id); err != nil {
		return false, err
	}
	assigned, err := s.store.GroupsAssigned(ctx, id, groupIDs)
	return len(assigned) > 0, err
}
