package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/upstream"
)

// testUpstreamAuthorizations: an authorization round-trips when taken, only
// within its realm, once, and never after it expired; expired ones are
// deleted; one of a realm that is not there is refused.
func testUpstreamAuthorizations(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := s.Upstream()
	r, other := newRealm(t, s), newRealm(t, s)
	auth := func(id string, expire time.Time) upstream.Authorization {
		return upstream.Authorization{ID: id, TenantID: r.TenantID, RealmID: r.ID, Kind: upstream.KindSSOConfig, ProviderID: "config-1",
			Nonce: "n", Verifier: "v", BrowserHash: "b", ApplicationID: "app", RequestID: "req", IdentityID: "i", JobID: "j",
			LinkTokenSealed: "sealed", CreateTime: now, ExpireTime: expire}
	}
	a, old := auth("a", now.Add(10*time.Minute)), auth("old", now.Add(time.Minute))
	must(t, u.CreateUpstreamAuthorization(ctx, a))
	must(t, u.CreateUpstreamAuthorization(ctx, old))
	wantErr(t, "the same state again", u.CreateUpstreamAuthorization(ctx, auth("a", now.Add(time.Hour))), latchkey.ErrDuplicate)
	bad := auth("c", now)
	bad.RealmID = "no-realm"
	wantErr(t, "an authorization of a realm that is not there", u.CreateUpstreamAuthorization(ctx, bad), latchkey.ErrNoParent)

	_, err := u.TakeUpstreamAuthorization(ctx, r.TenantID, other.ID, a.ID, now)
	wantErr(t, "taking it through another realm", err, latchkey.ErrNotFound)
	_, err = u.TakeUpstreamAuthorization(ctx, "other-tenant", r.ID, a.ID, now)
	wantErr(t, "taking it through another tenant", err, latchkey.ErrNotFound)
	got, err := u.TakeUpstreamAuthorization(ctx, r.TenantID, r.ID, a.ID, now)
	must(t, err)
	equal(t, "the taken authorization", got, a)
	_, err = u.TakeUpstreamAuthorization(ctx, r.TenantID, r.ID, a.ID, now)
	wantErr(t, "taking it twice", err, latchkey.ErrNotFound)
	_, err = u.TakeUpstreamAuthorization(ctx, r.TenantID, r.ID, old.ID, old.ExpireTime)
	wantErr(t, "taking it once expired", err, latchkey.ErrNotFound)

	must(t, u.CreateUpstreamAuthorization(ctx, auth("live", now.Add(time.Hour))))
	n, err := u.DeleteExpiredUpstreamAuthorizations(ctx, now.Add(2*time.Minute))
	must(t, err)
	equal(t, "expired authorizations deleted", n, 1)
	_, err = u.TakeUpstreamAuthorization(ctx, r.TenantID, r.ID, "live", now)
	must(t, err)
}
