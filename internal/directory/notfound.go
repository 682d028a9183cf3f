package directory

import (
	"context"

	"github.com/latchkey/latchkey"
)

// The 404s of the directory's resources: other services name realms,
// identities and groups too.

func tenantNotFound(id string) error { return latchkey.NotFound("Tenant", id, "tenant not found") }

// RealmNotFound is the 404 of a realm.
func RealmNotFound(id string) error { return latchkey.NotFound("Realm", id, "realm not found") }

// IdentityNotFound is the 404 of an identity.
func IdentityNotFound(id string) error {
	return latchkey.NotFound("Identity", id, "identity not found")
}

// GroupNotFound is the 404 of a group.
func GroupNotFound(id string) error { return latchkey.NotFound("Group", id, "group not found") }

// LookupRealm returns a realm of the tenant, or its 404: every service whose
// resources live in a realm checks the realm so, in tx or on its store.
func LookupRealm(ctx context.Context, tx interface {
	GetRealm(ctx context.Context, tenantID, id string) (Realm, error)
}, tenantID, realmID string) (Realm, error) {
	r, err := tx.GetRealm(ctx, tenantID, realmID)
	return r, latchkey.IfNotFound(err, RealmNotFound, realmID)
}
