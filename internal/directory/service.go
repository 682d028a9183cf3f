package directory

import (
	"context"
	"errors"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
)

// MaxBatch is the most ids one batch request may name.
const MaxBatch = 1000

// Service applies the directory's rules on top of its Store. Every mutation
// records an audit event in the same transaction.
type Service struct {
	store Store
	Clock latchkey.Clock // dates changes and their events
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Patches: a nil field is left unchanged.
type (
	TenantPatch struct{ DisplayName *string }
	RealmPatch  struct {
		DisplayName, Classification         *string
		SessionIdleTimeout, SessionLifetime *int
	}
	GroupPatch struct{ DisplayName, Description *string }
	// IdentityPatch merges Traits into the identity's traits by name.
	IdentityPatch struct {
		DisplayName, Status *string
		Traits              TraitsPatch
	}
)

var (
	errUsernameTaken  = latchkey.Errorf(latchkey.CodeConflict, "username already exists")
	errGroupNameTaken = latchkey.Errorf(latchkey.CodeConflict, "group display name already exists")
	errRealmNameTaken = latchkey.Errorf(latchkey.CodeConflict, "realm display name already exists")
	errRealmChildren  = latchkey.Errorf(latchkey.CodeConflict, "realm has children")
	errGroupChildren  = latchkey.Errorf(latchkey.CodeConflict, "group has children")
)

func (s *Service) record(ctx context.Context, tx Tx, tenantID, realmID, action, resourceType, id string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, action, resourceType, id))
}

// GetTenant returns a tenant.
func (s *Service) GetTenant(ctx context.Context, id string) (Tenant, error) {
	t, err := s.store.GetTenant(ctx, id)
	return t, latchkey.IfNotFound(err, tenantNotFound, id)
}

// UpdateTenant renames a tenant.
func (s *Service) UpdateTenant(ctx context.Context, id string, p TenantPatch) (t Tenant, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if t, err = tx.GetTenant(ctx, id); err != nil {
			return latchkey.IfNotFound(err, tenantNotFound, id)
		}
		old := t
		setIf(&t.DisplayName, p.DisplayName)
		if err := ValidateTenant(t); err != nil {
			return err
		}
		t.UpdateTime = s.Clock.Now()
		if err := tx.UpdateTenant(ctx, t); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, t.UpdateTime, id, "", "tenant.update", "Tenant", id).Changed(t.DisplayName, old, t))
	})
	return t, err
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// CreateRealm creates a realm in a tenant; the classification defaults to SECURE_CUSTOMER.
func (s *Service) CreateRealm(ctx context.Context, tenantID string, r Realm) (Realm, error) {
	t := s.Clock.Now()
	r.ID, r.TenantID, r.CreateTime, r.UpdateTime = latchkey.NewID(), tenantID, t, t
	if r.Classification == "" {
		r.Classification = SecureCustomer
	}
	if err := ValidateRealm(r); err != nil {
		return Realm{}, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.GetTenant(ctx, tenantID); err != nil {
			return latchkey.IfNotFound(err, tenantNotFound, tenantID)
		}
		if err := tx.CreateRealm(ctx, r); err != nil {
			return conflict(err, errRealmNameTaken)
		}
		return s.record(ctx, tx, tenantID, r.ID, "realm.create", "Realm", r.ID)
	})
	return r, err
}

// conflict turns a store's ErrDuplicate or ErrInUse into the given 409.
func conflict(err, c error) error {
	if errors.Is(err, latchkey.ErrDuplicate) || errors.Is(err, latchkey.ErrInUse) {
		return c
	}
	return err
}

// GetRealm returns a realm of a tenant.
func (s *Service) GetRealm(ctx context.Context, tenantID, id string) (Realm, error) {
	return LookupRealm(ctx, s.store, tenantID, id)
}

// ListRealms lists the realms of a tenant.
func (s *Service) ListRealms(ctx context.Context, tenantID string, opts latchkey.ListOptions) ([]Realm, int, error) {
	return s.store.ListRealms(ctx, tenantID, opts)
}

// UpdateRealm renames or reclassifies a realm.
func (s *Service) UpdateRealm(ctx context.Context, tenantID, id string, p RealmPatch) (r Realm, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if r, err = tx.GetRealm(ctx, tenantID, id); err != nil {
			return latchkey.IfNotFound(err, RealmNotFound, id)
		}
		old := r
		setIf(&r.DisplayName, p.DisplayName)
		setIf(&r.Classification, p.Classification)
		setIf(&r.SessionIdleTimeout, p.SessionIdleTimeout)
		setIf(&r.SessionLifetime, p.SessionLifetime)
		if err := ValidateRealm(r); err != nil {
			return err
		}
		r.UpdateTime = s.Clock.Now()
		if err := tx.UpdateRealm(ctx, r); err != nil {
			return conflict(err, errRealmNameTaken)
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, r.UpdateTime, tenantID, id, "realm.update", "Realm", id).Changed(r.DisplayName, old, r))
	})
	return r, err
}

// DeleteRealm deletes an empty realm; one that still holds anything is a 409.
func (s *Service) DeleteRealm(ctx context.Context, tenantID, id string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteRealm(ctx, tenantID, id); err != nil {
			return conflict(latchkey.IfNotFound(err, RealmNotFound, id), errRealmChildren)
		}
		return s.record(ctx, tx, tenantID, id, "realm.delete", "Realm", id)
	})
}

// CreateIdentity creates an identity. Status defaults to active and the
// traits type to traits_v0; a username taken in the realm, in any case, is a 409.
func (s *Service) CreateIdentity(ctx context.Context, tenantID, realmID string, i Identity) (Identity, error) {
	i, err := NewIdentity(tenantID, realmID, i, s.Clock.Now(), nil)
	if err != nil {
		return Identity{}, err
	}
	e := audit.NewAt(ctx, i.CreateTime, tenantID, realmID, "identity.create", "Identity", i.ID)
	e.ResourceDisplayName = i.DisplayName
	err = s.store.CreateIdentity(ctx, i, e)
	return i, conflict(latchkey.IfNotFound(err, RealmNotFound, realmID), errUsernameTaken)
}

// GetIdentity returns an identity of a realm.
func (s *Service) GetIdentity(ctx context.Context, tenantID, realmID, id string) (Identity, error) {
	i, err := s.store.GetIdentity(ctx, realmID, id)
	var found []Identity
	if err == nil {
		found = []Identity{i}
	}
	if err := s.checkRealm(ctx, tenantID, realmID, found); err != nil {
		return Identity{}, err
	}
	return i, latchkey.IfNotFound(err, IdentityNotFound, id)
}

// ListIdentities lists the identities of a realm.
func (s *Service) ListIdentities(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]Identity, int, error) {
	ids, total, err := s.store.ListIdentities(ctx, realmID, opts)
	if err := s.checkRealm(ctx, tenantID, realmID, ids); err != nil {
		return nil, 0, err
	}
	return ids, total, err
}

// checkRealm returns the realm's 404 unless it is the tenant's, after a
// read of identities in it: when that found one of the tenant, the realm is
// the tenant's (identities keep their realm from being deleted), and a
// lookup of its own, a second statement in every exact lookup, is not
// needed. A read that found nothing, or failed, asks the store, so that a
// realm not the tenant's is a 404 before anything else.
func (s *Service) checkRealm(ctx context.Context, tenantID, realmID string, found []Identity) error {
	if len(found) > 0 && found[0].TenantID == tenantID && found[0].RealmID == realmID {
		return nil
	}
	_, err := LookupRealm(ctx, s.store, tenantID, realmID)
	return err
}

// UpdateIdentity merges a patch into an identity.
func (s *Service) UpdateIdentity(ctx context.Context, tenantID, realmID, id string, p IdentityPatch) (Identity, error) {
	if err := ValidateTraitsPatch(p.Traits); err != nil {
		return Identity{}, err
	}
	return s.UpdateIdentityWith(ctx, tenantID, realmID, id, func(i *Identity, _ Memberships) error {
		setIf(&i.DisplayName, p.DisplayName)
		setIf(&i.Status, p.Status)
		i.Traits = p.Traits.Apply(i.Traits)
		return nil
	})
}

// Memberships reads the groups of the identity that an edit or a
// precondition sees, in the same transaction, and only when called.
type Memberships func() ([]Group, error)

func memberships(ctx context.Context, tx Tx, id string) Memberships {
	return func() ([]Group, error) {
		of, err := tx.GroupsOfIdentities(ctx, []string{id})
		return of[id], err
	}
}

// UpdateIdentityWith changes an identity with edit, inside one transaction:
// edit sees the stored identity (and may read its groups), may refuse (a
// failed precondition), and its result is validated and stored, or nothing is.
func (s *Service) UpdateIdentityWith(ctx context.Context, tenantID, realmID, id string, edit func(*Identity, Memberships) error) (i Identity, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if i, err = tx.GetIdentity(ctx, realmID, id); err != nil {
			return latchkey.IfNotFound(err, IdentityNotFound, id)
		}
		old := i
		if err := edit(&i, memberships(ctx, tx, id)); err != nil {
			return err
		}
		if i, err = EditIdentity(old, i, s.Clock.Now()); err != nil {
			return err
		}
		if err := StoreChanges(ctx, tx, Changes{Updates: []Update{{Old: old, New: i}}}); err != nil {
			return conflict(err, errUsernameTaken)
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, "identity.update", "Identity", id).Changed(i.DisplayName, old, i))
	})
	return i, err
}

// DeleteIdentity deletes an identity and its group memberships.
func (s *Service) DeleteIdentity(ctx context.Context, tenantID, realmID, id string) error {
	return s.DeleteIdentityIf(ctx, tenantID, realmID, id, nil)
}

// DeleteIdentityIf is DeleteIdentity when precondition, if not nil, accepts
// the stored identity (and may read its groups) in the same transaction (a
// SCIM If-Match).
func (s *Service) DeleteIdentityIf(ctx context.Context, tenantID, realmID, id string, precondition func(Identity, Memberships) error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if precondition != nil {
			i, err := tx.GetIdentity(ctx, realmID, id)
			if err != nil {
				return latchkey.IfNotFound(err, IdentityNotFound, id)
			}
			if err := precondition(i, memberships(ctx, tx, id)); err != nil {
				return err
			}
		}
		n, err := s.deleteIdentities(ctx, tx, realmID, []string{id})
		if err != nil {
			return err
		}
		if n == 0 {
			return IdentityNotFound(id)
		}
		return s.record(ctx, tx, tenantID, realmID, "identity.delete", "Identity", id)
	})
}

func (s *Service) deleteIdentities(ctx context.Context, tx Tx, realmID string, ids []string) (int, error) {
	return DeleteIdentities(ctx, tx, realmID, ids, s.Clock.Now())
}

// CheckIDs applies the batch rules: 1 to MaxBatch ids, no repeats.
func CheckIDs(field string, ids []string) error {
	switch {
	case len(ids) == 0:
		return latchkey.InvalidField(field, "missing")
	case len(ids) > MaxBatch:
		return latchkey.InvalidField(field, "array exceeds 1000 elements")
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" {
			return latchkey.InvalidField(field, "empty string")
		}
		if seen[id] {
			return latchkey.InvalidField(field, "duplicate id "+id)
		}
		seen[id] = true
	}
	return nil
}

// BatchDeleteIdentities deletes all the identities or, when any is missing, none.
func (s *Service) BatchDeleteIdentities(ctx context.Context, tenantID, realmID string, ids []string) error {
	if err := CheckIDs("ids", ids); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if err := existingIdentities(ctx, tx, tenantID, realmID, ids); err != nil {
			return err
		}
		if _, err := s.deleteIdentities(ctx, tx, realmID, ids); err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.record(ctx, tx, tenantID, realmID, "identity.delete", "Identity", id); err != nil {
				return err
			}
		}
		return nil
	})
}

// existingIdentities checks, inside tx, that the realm exists and holds every one of ids.
func existingIdentities(ctx context.Context, tx Tx, tenantID, realmID string, ids []string) error {
	if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
		return err
	}
	missing, err := tx.MissingIdentities(ctx, realmID, ids)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return latchkey.BatchNotFound("Identity", "identities not found", missing)
	}
	return nil
}

// ListGroupsOfIdentity lists the groups an identity belongs to.
func (s *Service) ListGroupsOfIdentity(ctx context.Context, tenantID, realmID, id string, opts latchkey.ListOptions) ([]Group, int, error) {
	if _, err := s.GetIdentity(ctx, tenantID, realmID, id); err != nil {
		return nil, 0, err
	}
	return s.store.ListGroupsOfIdentity(ctx, id, opts)
}

// CreateGroup creates a group with its first members (none is fine); its
// display name is unique in the realm, in any case.
func (s *Service) CreateGroup(ctx context.Context, tenantID, realmID string, g Group, members []string) (Group, error) {
	g, err := NewGroup(tenantID, realmID, g, s.Clock.Now())
	if err != nil {
		return Group{}, err
	}
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := StoreChanges(ctx, tx, Changes{Groups: []Group{g}}); err != nil {
			return conflict(err, errGroupNameTaken)
		}
		return s.addMembers(ctx, tx, g, members)
	})
	return g, err
}

// GetGroup returns a group of a realm.
func (s *Service) GetGroup(ctx context.Context, tenantID, realmID, id string) (Group, error) {
	return group(ctx, s.store, tenantID, realmID, id)
}

func group(ctx context.Context, tx Tx, tenantID, realmID, id string) (Group, error) {
	if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
		return Group{}, err
	}
	g, err := tx.GetGroup(ctx, realmID, id)
	return g, latchkey.IfNotFound(err, GroupNotFound, id)
}

// ListGroups lists the groups of a realm.
func (s *Service) ListGroups(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]Group, int, error) {
	if _, err := LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	return s.store.ListGroups(ctx, realmID, opts)
}

// UpdateGroup renames a group or changes its description.
func (s *Service) UpdateGroup(ctx context.Context, tenantID, realmID, id string, p GroupPatch) (Group, error) {
	return s.ChangeGroup(ctx, tenantID, realmID, id, GroupChange{Edit: func(g *Group) error {
		setIf(&g.DisplayName, p.DisplayName)
		setIf(&g.Description, p.Description)
		return nil
	}})
}

// GroupChange is what ChangeGroup applies to a group, all at once.
type GroupChange struct {
	// Edit changes the group's own fields, or refuses (a failed precondition).
	Edit func(*Group) error
	// SetMembers, when not nil, replaces the members; Add and Remove then apply.
	SetMembers *[]string
	Add        []string
	Remove     []string
	// RemoveUnknown lets Remove name ids that are no identities of the realm
	// (a SCIM client removing an identity deleted meanwhile) instead of failing.
	RemoveUnknown bool
}

// ChangeGroup applies a change to a group in one transaction: its fields,
// then its members. Unknown identities fail the whole change.
func (s *Service) ChangeGroup(ctx context.Context, tenantID, realmID, id string, c GroupChange) (Group, error) {
	return s.ChangeGroupWith(ctx, tenantID, realmID, id, func(context.Context, Group, GroupMembers) (GroupChange, error) {
		return c, nil
	})
}

// GroupMembers reads the members of a group inside the transaction of a
// change (see ChangeGroupWith).
type GroupMembers struct {
	tx      Tx
	groupID string
}

// All returns every member.
func (m GroupMembers) All(ctx context.Context) ([]Identity, error) {
	return allMembers(ctx, m.tx, m.groupID)
}

// Among returns those of ids that are members, in the order of their ids.
func (m GroupMembers) Among(ctx context.Context, ids []string) ([]string, error) {
	return m.tx.MembersAmong(ctx, m.groupID, ids)
}

// ChangeGroupWith is ChangeGroup with a change that plan decides from the
// group and its members as they stand (a SCIM PATCH), in the same
// transaction. The group is locked first, so that concurrent changes of it
// apply one after the other and none is decided from members another is
// changing.
func (s *Service) ChangeGroupWith(ctx context.Context, tenantID, realmID, id string,
	plan func(context.Context, Group, GroupMembers) (GroupChange, error)) (g Group, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if g, err = tx.LockGroup(ctx, realmID, id); err != nil {
			return latchkey.IfNotFound(err, GroupNotFound, id)
		}
		c, err := plan(ctx, g, GroupMembers{tx, id})
		if err != nil {
			return err
		}
		if c.Edit != nil {
			keep := g
			if err := c.Edit(&g); err != nil {
				return err
			}
			g.ID, g.RealmID, g.TenantID, g.CreateTime = keep.ID, keep.RealmID, keep.TenantID, keep.CreateTime
			if err := ValidateGroup(g); err != nil {
				return err
			}
			e := audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, "group.update", "Group", id).Changed(g.DisplayName, keep, g)
			if err := tx.RecordEvent(ctx, e); err != nil {
				return err
			}
		}
		if c.SetMembers != nil {
			if err := tx.RemoveAllMembers(ctx, id); err != nil {
				return err
			}
			if err := s.addMembers(ctx, tx, g, *c.SetMembers); err != nil {
				return err
			}
		}
		if err := s.addMembers(ctx, tx, g, c.Add); err != nil {
			return err
		}
		if len(c.Remove) > 0 {
			if !c.RemoveUnknown {
				if err := existingIdentities(ctx, tx, tenantID, realmID, c.Remove); err != nil {
					return err
				}
			}
			if err := tx.RemoveMembers(ctx, id, c.Remove); err != nil {
				return err
			}
			if err := s.record(ctx, tx, tenantID, realmID, "group.delete_members", "Group", id); err != nil {
				return err
			}
		}
		g.UpdateTime = s.Clock.Now()
		if err := tx.UpdateGroup(ctx, g); err != nil {
			return conflict(err, errGroupNameTaken)
		}
		return nil
	})
	return g, err
}

// addMembers adds identities of the group's realm to it, all or none. The
// actor of ctx must hold the management scopes that the group's roles give.
func (s *Service) addMembers(ctx context.Context, tx Tx, g Group, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := existingIdentities(ctx, tx, g.TenantID, g.RealmID, ids); err != nil {
		return err
	}
	if err := MayAddMembers(ctx, tx, g.ID); err != nil {
		return err
	}
	if err := StoreChanges(ctx, tx, Changes{Members: map[string][]string{g.ID: ids}}); err != nil {
		return err
	}
	return s.record(ctx, tx, g.TenantID, g.RealmID, "group.add_members", "Group", g.ID)
}

// DeleteGroup deletes a group without members; one with members is a 409.
func (s *Service) DeleteGroup(ctx context.Context, tenantID, realmID, id string) error {
	return s.deleteGroup(ctx, tenantID, realmID, id, false, nil)
}

// DeleteGroupWithMembers deletes a group and its memberships in one
// transaction, as SCIM's DELETE does; check, when not nil, may refuse the
// group as it stands (a failed precondition).
func (s *Service) DeleteGroupWithMembers(ctx context.Context, tenantID, realmID, id string, check func(Group) error) error {
	return s.deleteGroup(ctx, tenantID, realmID, id, true, check)
}

func (s *Service) deleteGroup(ctx context.Context, tenantID, realmID, id string, withMembers bool, check func(Group) error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		g, err := group(ctx, tx, tenantID, realmID, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(g); err != nil {
				return err
			}
		}
		if withMembers {
			if err := tx.RemoveAllMembers(ctx, id); err != nil {
				return err
			}
		}
		if err := tx.DeleteGroup(ctx, realmID, id); err != nil {
			return conflict(latchkey.IfNotFound(err, GroupNotFound, id), errGroupChildren)
		}
		return s.record(ctx, tx, tenantID, realmID, "group.delete", "Group", id)
	})
}

// AddGroupMembers adds identities to a group: all of them, or none when any
// is not an identity of the realm.
func (s *Service) AddGroupMembers(ctx context.Context, tenantID, realmID, groupID string, ids []string) (Group, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids))) // repeats are harmless here
	if err := CheckIDs("identity_ids", ids); err != nil {
		return Group{}, err
	}
	return s.ChangeGroup(ctx, tenantID, realmID, groupID, GroupChange{Add: ids})
}

// DeleteGroupMembers removes identities from a group, all or none like AddGroupMembers.
func (s *Service) DeleteGroupMembers(ctx context.Context, tenantID, realmID, groupID string, ids []string) (Group, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if err := CheckIDs("identity_ids", ids); err != nil {
		return Group{}, err
	}
	return s.ChangeGroup(ctx, tenantID, realmID, groupID, GroupChange{Remove: ids})
}

// memberPage is the page size in which allMembers reads.
const memberPage = 1000

func allMembers(ctx context.Context, tx Tx, groupID string) ([]Identity, error) {
	var out []Identity
	for {
		page, total, err := tx.ListMembers(ctx, groupID, latchkey.ListOptions{Skip: len(out), Limit: memberPage})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

// AllGroupMembers returns every identity of a group.
func (s *Service) AllGroupMembers(ctx context.Context, tenantID, realmID, groupID string) ([]Identity, error) {
	if _, err := group(ctx, s.store, tenantID, realmID, groupID); err != nil {
		return nil, err
	}
	return allMembers(ctx, s.store, groupID)
}

// ListGroupMembers lists the identities of a group.
func (s *Service) ListGroupMembers(ctx context.Context, tenantID, realmID, groupID string, opts latchkey.ListOptions) ([]Identity, int, error) {
	if _, err := group(ctx, s.store, tenantID, realmID, groupID); err != nil {
		return nil, 0, err
	}
	return s.store.ListMembers(ctx, groupID, opts)
}

// GroupsOfIdentities returns the groups of each of the identities, in one
// query (for rendering SCIM Users with their groups).
func (s *Service) GroupsOfIdentities(ctx context.Context, identityIDs []string) (map[string][]Group, error) {
	if len(identityIDs) == 0 {
		return map[string][]Group{}, nil
	}
	return s.store.GroupsOfIdentities(ctx, identityIDs)
}

// SearchIdentities searches a realm's identities by name, username and
// e-mail address prefix (the package's SearchIdentities).
func (s *Service) SearchIdentities(ctx context.Context, tenantID, realmID string, q Search) (SearchPage, error) {
	if _, err := LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return SearchPage{}, err
	}
	return SearchIdentities(ctx, s.store, realmID, q)
}

// CountIdentities counts a realm's identities: all of them when text is
// empty (a sum of counters, exact), else those a search for text finds, up
// to max (exact reports whether n is the count or only a lower bound).
func (s *Service) CountIdentities(ctx context.Context, tenantID, realmID, text string, max int) (n int, exact bool, err error) {
	if text == "" {
		_, n, err = s.ListIdentities(ctx, tenantID, realmID, latchkey.ListOptions{Limit: 0})
		return n, true, err
	}
	if _, err := LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return 0, false, err
	}
	return CountMatches(ctx, s.store, realmID, text, max)
}

// MatchingIdentityIDs returns the ids of up to max identities of a realm
// that a search for text finds (the package's MatchingIDs).
func (s *Service) MatchingIdentityIDs(ctx context.Context, tenantID, realmID, text string, max int) ([]string, error) {
	if _, err := LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, err
	}
	return MatchingIDs(ctx, s.store, realmID, text, max)
}

// MemberCounts counts the members of each of groups, up to max: a count
// of max+1 means more than max (a group of a million members is not
// counted to its end for a page).
func (s *Service) MemberCounts(ctx context.Context, groups []Group, max int) (map[string]int, error) {
	out := make(map[string]int, len(groups))
	for _, g := range groups {
		n, err := s.store.CountMembers(ctx, g.ID, max)
		if err != nil {
			return nil, err
		}
		out[g.ID] = n
	}
	return out, nil
}

// AddNewGroupMembers adds to a group those of ids that are not members
// yet, all or none like AddGroupMembers, and returns the ones that already
// were, so that adding a member again says so rather than "added".
func (s *Service) AddNewGroupMembers(ctx context.Context, tenantID, realmID, groupID string, ids []string) (g Group, already []string, err error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if err := CheckIDs("identity_ids", ids); err != nil {
		return Group{}, nil, err
	}
	g, err = s.ChangeGroupWith(ctx, tenantID, realmID, groupID, func(ctx context.Context, _ Group, m GroupMembers) (GroupChange, error) {
		in, err := m.Among(ctx, ids)
		if err != nil {
			return GroupChange{}, err
		}
		already = in
		return GroupChange{Add: slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(in, id) })}, nil
	})
	return g, already, err
}
