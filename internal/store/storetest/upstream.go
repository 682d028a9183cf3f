package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/sso"
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

// testBindingJobVerification: a job's verification details round-trip,
// and the time its identity provider vouched; an identity provider's name
// is found only in its realm.
func testBindingJobVerification(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	p := sso.IdentityProvider{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, DisplayName: "Okta",
		ProtocolConfig: sso.IdPProtocolConfig{Type: "oidc_idp", ClientID: "c", TokenScopes: []string{}, IdentityAttribute: "email",
			PKCE: "s256", JWKSURL: "https://idp.example/keys", TokenURL: "https://idp.example/token", AuthorizeURL: "https://idp.example/authorize",
			IdentifyingClaimName: "email"}, CreateTime: now, UpdateTime: now}
	must(t, s.CreateIdentityProvider(ctx, p))
	name, err := s.IdentityProviderName(ctx, r.TenantID, r.ID, p.ID)
	must(t, err)
	equal(t, "the identity provider's name", name, "Okta")
	_, err = s.IdentityProviderName(ctx, other.TenantID, other.ID, p.ID)
	wantErr(t, "the name through another realm", err, latchkey.ErrNotFound)

	j := newJob(addIdentity(t, s, r, "ada"), passkey.LinkSent, now.Add(time.Hour))
	j.VerificationDetails = &passkey.VerificationDetails{IdPAuthorization: &passkey.IdPAuthorization{IdentityProviderID: p.ID, IdentityProviderDisplayName: "Okta"}}
	must(t, s.CreateBindingJob(ctx, j))
	got, err := s.GetBindingJob(ctx, r.ID, passkey.AnyIdentity, j.ID)
	must(t, err)
	equal(t, "the job before its provider vouched", got, j)
	at := now.Add(time.Minute)
	must(t, s.SetBindingJobVerified(ctx, j.ID, at))
	got, err = s.GetBindingJob(ctx, r.ID, passkey.AnyIdentity, j.ID)
	must(t, err)
	j.VerifyTime, j.UpdateTime = &at, at
	equal(t, "the job once its provider vouched", got, j)
	wantErr(t, "verifying a job that is not there", s.SetBindingJobVerified(ctx, "no-job", at), latchkey.ErrNotFound)
}
