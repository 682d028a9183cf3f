package directory

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/session"
)

// The functions of this file are the one write path for identities and
// groups, apart from the transaction around it: the Service runs them for
// one request at a time (the REST API, SCIM, the console), the CSV import
// (internal/provisioning) for thousands of rows in one transaction. A rule
// for creates or updates belongs here, so that every way in applies it.

// NewIdentity prepares and validates the identity that creating i in a
// realm at time at makes: a new id (from ids, when a batch of creates
// shares them, or else latchkey.NewID), the realm's tenant and realm, create
// and update times at, status active and traits type traits_v0 unless
// given, and enrollment status UNENROLLED (only passkeys change it).
func NewIdentity(tenantID, realmID string, i Identity, at time.Time, ids *latchkey.IDs) (Identity, error) {
	i.ID = latchkey.NewID()
	if ids != nil {
		i.ID = ids.Next()
	}
	i.TenantID, i.RealmID, i.CreateTime, i.UpdateTime = tenantID, realmID, at, at
	i.EnrollmentStatus = Unenrolled
	if i.Status == "" {
		i.Status = StatusActive
	}
	if i.Traits.Type == "" {
		i.Traits.Type = TraitsV0
	}
	if err := ValidateIdentity(i); err != nil {
		return Identity{}, err
	}
	return i, nil
}

// EditIdentity returns edited, an edit of old, as an update at time at
// stores it: what no edit may change (id, realm, tenant, create time,
// enrollment status) is old's, the result is valid, and its update time is at.
func EditIdentity(old, edited Identity, at time.Time) (Identity, error) {
	edited.ID, edited.RealmID, edited.TenantID = old.ID, old.RealmID, old.TenantID
	edited.CreateTime, edited.EnrollmentStatus = old.CreateTime, old.EnrollmentStatus
	if err := ValidateIdentity(edited); err != nil {
		return Identity{}, err
	}
	edited.UpdateTime = at
	return edited, nil
}

// NewGroup prepares and validates the group that creating g in a realm at
// time at makes: a new id, the realm's tenant and realm, times at.
func NewGroup(tenantID, realmID string, g Group, at time.Time) (Group, error) {
	g.ID, g.TenantID, g.RealmID, g.CreateTime, g.UpdateTime = latchkey.NewID(), tenantID, realmID, at, at
	if err := ValidateGroup(g); err != nil {
		return Group{}, err
	}
	return g, nil
}

// MayAddMembers refuses (a 403 *latchkey.Error) members for a group whose
// roles give management scopes that the actor of ctx does not hold.
func MayAddMembers(ctx context.Context, tx Tx, groupID string) error {
	scopes, err := tx.ManagementScopesOf(ctx, nil, []string{groupID})
	if err != nil {
		return err
	}
	return latchkey.MayGrant(ctx, scopes)
}

// Refused reports whether err is a rule's refusal (a *latchkey.Error)
// rather than a failure of the store.
func Refused(err error) bool {
	var e *latchkey.Error
	return errors.As(err, &e)
}

// Changes are creates and updates decided with the functions above, stored
// together by StoreChanges.
type Changes struct {
	Groups  []Group    // new groups, from NewGroup
	Creates []Identity // new identities, from NewIdentity
	Updates []Update
	// Members are identities of the realm to add to groups, by group id,
	// each group accepted by MayAddMembers.
	Members map[string][]string
	// Ready, when set, is called once the changes are written, before the
	// groups that gain members are marked changed, which locks their rows
	// to the end of the transaction: an import's batch waits there for the
	// batch stored before it, which marks the same groups.
	Ready func() error
}

// Gaining returns the groups of members that gain at least one.
func Gaining(members map[string][]string) []string {
	var groups []string
	for g, ids := range members {
		if len(ids) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// Update is an identity as stored and as EditIdentity made it.
type Update struct{ Old, New Identity }

// StoreChanges stores changes inside tx: the new groups with their audit
// events, the new identities, the updates, revoking the tokens of every
// identity that an update takes access from, and the memberships. The
// caller records the other audit events: a request one per change, an
// import one per batch.
func StoreChanges(ctx context.Context, tx Tx, c Changes) error {
	for _, g := range c.Groups {
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		if err := tx.RecordEvent(ctx, audit.NewAt(ctx, g.CreateTime, g.TenantID, g.RealmID, "group.create", "Group", g.ID)); err != nil {
			return err
		}
	}
	if err := tx.CreateIdentities(ctx, c.Creates); err != nil {
		return err
	}
	var lostAccess []string
	var at time.Time
	for _, u := range c.Updates {
		if err := tx.UpdateIdentity(ctx, u.New); err != nil {
			return err
		}
		if LosesAccess(u.Old, u.New) {
			lostAccess, at = append(lostAccess, u.New.ID), u.New.UpdateTime
		}
	}
	if len(lostAccess) > 0 {
		if err := revokeAccess(ctx, tx, lostAccess, session.ReasonIdentitySuspended, at); err != nil {
			return err
		}
	}
	if err := tx.InsertMemberships(ctx, c.Members); err != nil {
		return err
	}
	if c.Ready != nil {
		if err := c.Ready(); err != nil {
			return err
		}
	}
	return tx.TouchGroups(ctx, Gaining(c.Members))
}

// DeleteIdentities deletes identities of a realm inside tx, revokes every
// token issued to them and ends their sessions (at at), and returns how
// many existed. The caller records the audit events.
func DeleteIdentities(ctx context.Context, tx Tx, realmID string, ids []string, at time.Time) (int, error) {
	n, err := tx.DeleteIdentities(ctx, realmID, ids)
	if err != nil || n == 0 {
		return n, err
	}
	return n, revokeAccess(ctx, tx, ids, session.ReasonIdentityDeleted, at)
}

// revokeAccess revokes every token of the identities and ends their
// sign-in sessions, in tx, because of why (a session.Reason) at at.
func revokeAccess(ctx context.Context, tx Tx, ids []string, why string, at time.Time) error {
	if err := tx.RevokeTokensOfIdentities(ctx, ids); err != nil {
		return err
	}
	_, err := tx.EndSessions(ctx, session.End{At: at, Reason: why, IdentityIDs: ids})
	return err
}
