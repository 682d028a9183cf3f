package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/store"
)

// familyGrant is what redeeming the code of sign-in family (or, with
// Redeems cleared, a refresh of it) stores: an access and an ID token and
// a refresh token of the family, for identity signed in with credential.
func familyGrant(app oauth.Application, family, identity, credential string, exp time.Time) oauth.Grant {
	rt := oauth.RefreshToken{Hash: latchkey.RandomString(64), FamilyID: family, TenantID: app.TenantID, RealmID: app.RealmID,
		ApplicationID: app.ID, IdentityID: identity, Scope: "openid", AuthTime: now, CreateTime: now, ExpireTime: exp}
	g := oauth.Grant{Redeems: family, Refresh: &rt, Family: &oauth.Family{ID: family, TenantID: app.TenantID, RealmID: app.RealmID,
		ApplicationID: app.ID, IdentityID: identity, CredentialID: credential, CreateTime: now, ExpireTime: exp}}
	for range 2 {
		tok := newToken(app, "identity", identity, exp.Unix())
		tok.FamilyID = family
		g.Tokens = append(g.Tokens, tok)
	}
	return g
}

// addSigner adds an identity of the realm with an active passkey, and
// returns their ids.
func addSigner(t *testing.T, s store.Store, r directory.Realm, username string) (identity, credential string) {
	t.Helper()
	i := addIdentity(t, s, r, username)
	c := newCredential(i, username+"-"+latchkey.RandomString(8))
	must(t, s.CreateCredential(t.Context(), c))
	return i.ID, c.ID
}

// addPasskey adds another active passkey to an identity, and returns its id.
func addPasskey(t *testing.T, s store.Store, r directory.Realm, identity string) string {
	t.Helper()
	c := newCredential(directory.Identity{ID: identity, RealmID: r.ID, TenantID: r.TenantID}, latchkey.RandomString(12))
	must(t, s.CreateCredential(t.Context(), c))
	return c.ID
}

// refreshGrant is a refresh that continues family.
func refreshGrant(app oauth.Application, family, identity string, exp time.Time) oauth.Grant {
	g := familyGrant(app, family, identity, "", exp)
	g.Redeems = ""
	return g
}

// liveTokens counts the token records and refresh tokens of g still stored.
func liveTokens(t *testing.T, s store.Store, g oauth.Grant) int {
	t.Helper()
	n := 0
	for _, tok := range g.Tokens {
		switch _, err := s.GetToken(t.Context(), tok.ID); {
		case err == nil:
			n++
		case !errors.Is(err, latchkey.ErrNotFound):
			t.Fatal(err)
		}
	}
	if g.Refresh != nil {
		switch _, err := s.GetRefreshToken(t.Context(), g.Refresh.Hash); {
		case err == nil:
			n++
		case !errors.Is(err, latchkey.ErrNotFound):
			t.Fatal(err)
		}
	}
	return n
}

// testGrantFamilies: a redeemed code starts a family and refreshes continue
// it; revoking the family (by its id, its passkey or its identity) deletes
// every token of it and nothing else, and a refresh of a revoked or
// expired family stores nothing.
func testGrantFamilies(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	exp := now.Add(time.Hour)
	redeemed := func(identity, credential string) oauth.Grant {
		ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Challenge: "c", CreateTime: now, ExpireTime: exp}
		must(t, s.SaveAuthRequest(ctx, ar, nil))
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = identity, credential, now, latchkey.RandomString(64)
		must(t, s.FinishAuthRequest(ctx, ar, now))
		g := familyGrant(app, ar.ID, identity, credential, exp)
		must(t, s.SaveGrant(ctx, g))
		return g
	}
	wantLive := func(what string, g oauth.Grant, want int) {
		t.Helper()
		if got := liveTokens(t, s, g); got != want {
			t.Errorf("%s: %d of its tokens live, want %d", what, got, want)
		}
	}

	alice, aliceLaptop := addSigner(t, s, r, "alice")
	alicePhone := addPasskey(t, s, r, alice)
	bob, bobLaptop := addSigner(t, s, r, "bob")

	// A family and its refresh die together; others live on.
	first := redeemed(alice, aliceLaptop)
	refreshed := refreshGrant(app, first.Family.ID, alice, exp)
	must(t, s.SaveGrant(ctx, refreshed))
	other := redeemed(alice, aliceLaptop)
	must(t, s.RevokeFamily(ctx, first.Family.ID))
	wantLive("the revoked family's code", first, 0)
	wantLive("the revoked family's refresh", refreshed, 0)
	wantLive("another family", other, 3)
	wantErr(t, "a refresh of a revoked family", s.SaveGrant(ctx, refreshGrant(app, first.Family.ID, alice, exp)), latchkey.ErrNotFound)

	// A refresh token keeps its family's deadline, or none, and how its
	// sign-in happened, or nothing.
	bounded := refreshGrant(app, other.Family.ID, alice, exp)
	bounded.Refresh.Deadline = exp.Add(time.Minute)
	bounded.Refresh.SessionID, bounded.Refresh.AMR, bounded.Refresh.ACR = "session-1", []string{"pop", "mfa"}, "phr"
	must(t, s.SaveGrant(ctx, bounded))
	for _, g := range []oauth.Grant{bounded, other} {
		rt, err := s.GetRefreshToken(ctx, g.Refresh.Hash)
		must(t, err)
		equal(t, "a refresh token's deadline", rt.Deadline, g.Refresh.Deadline)
		equal(t, "a refresh token's sid", rt.SessionID, g.Refresh.SessionID)
		equal(t, "a refresh token's amr", strings.Join(rt.AMR, " "), strings.Join(g.Refresh.AMR, " "))
		equal(t, "a refresh token's acr", rt.ACR, g.Refresh.ACR)
	}
	must(t, s.RevokeFamily(ctx, first.Family.ID)) // again: nothing to do

	// A passkey's families.
	phone := redeemed(alice, alicePhone)
	bobs := redeemed(bob, bobLaptop)
	must(t, s.RevokeFamiliesOfCredential(ctx, aliceLaptop))
	wantLive("a family of the revoked passkey", other, 0)
	wantLive("a family of another passkey", phone, 3)

	// An identity's families.
	clientToken := newToken(app, "application", app.ID, exp.Unix())
	must(t, s.SaveGrant(ctx, tokenGrant(clientToken)))
	must(t, s.Update(ctx, func(tx store.Tx) error { return tx.RevokeTokensOfIdentities(ctx, []string{alice}) }))
	wantLive("a family of the identity", phone, 0)
	wantLive("an application's token", tokenGrant(clientToken), 1)
	wantLive("another identity's family", bobs, 3)

	// An expired family is deleted with the expired tokens.
	old := redeemed(bob, bobLaptop)
	_, err := s.DeleteExpiredTokens(ctx, exp.Add(time.Second))
	must(t, err)
	wantErr(t, "a refresh of an expired family", s.SaveGrant(ctx, refreshGrant(app, old.Family.ID, bob, exp.Add(time.Hour))), latchkey.ErrNotFound)
}

// testFamilyRevokedDuringRefresh: a refresh and a revocation of its family
// that race end with no token of the family alive, whichever wins.
func testFamilyRevokedDuringRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	exp := now.Add(time.Hour)
	alice, laptop := addSigner(t, s, r, "alice")
	for range 20 {
		family := latchkey.RandomString(32)
		ar := oauth.AuthRequest{ID: family, TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID, Challenge: "c",
			CreateTime: now, ExpireTime: exp}
		must(t, s.SaveAuthRequest(ctx, ar, nil))
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = alice, laptop, now, latchkey.RandomString(64)
		must(t, s.FinishAuthRequest(ctx, ar, now))
		must(t, s.SaveGrant(ctx, familyGrant(app, family, alice, laptop, exp)))
		refreshes := make([]oauth.Grant, 4)
		var wg sync.WaitGroup
		for i := range refreshes {
			refreshes[i] = refreshGrant(app, family, alice, exp)
			wg.Go(func() {
				if err := s.SaveGrant(ctx, refreshes[i]); err != nil && !errors.Is(err, latchkey.ErrNotFound) {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if err := s.RevokeFamily(ctx, family); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		for _, g := range refreshes {
			if n := liveTokens(t, s, g); n != 0 {
				t.Fatalf("a refresh that raced its family's revocation left %d tokens alive", n)
			}
		}
	}
}

// testRedemptionOfRevokedSigner: a code's grant stores nothing once its
// passkey was revoked or its identity suspended after the code was read,
// and a redemption that races a passkey's revocation (as the passkey
// service revokes: the credential and its families in one transaction)
// ends with no token alive, whichever wins.
func testRedemptionOfRevokedSigner(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	app := addApplication(t, s, r)
	exp := now.Add(time.Hour)
	code := func(identity, credential string) string {
		ar := oauth.AuthRequest{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, ApplicationID: app.ID,
			Challenge: "c", CreateTime: now, ExpireTime: exp}
		must(t, s.SaveAuthRequest(ctx, ar, nil))
		ar.IdentityID, ar.CredentialID, ar.AuthTime, ar.CodeHash = identity, credential, now, latchkey.RandomString(64)
		must(t, s.FinishAuthRequest(ctx, ar, now))
		return ar.ID
	}
	revoke := func(identity, credential string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			c, err := tx.GetCredential(ctx, r.ID, identity, credential)
			if err != nil {
				return err
			}
			c.State = passkey.RevokedState
			if err := tx.UpdateCredential(ctx, c); err != nil {
				return err
			}
			return tx.RevokeFamiliesOfCredential(ctx, credential)
		})
	}

	alice, laptop := addSigner(t, s, r, "alice")
	pending := code(alice, laptop)
	must(t, revoke(alice, laptop))
	g := familyGrant(app, pending, alice, laptop, exp)
	wantErr(t, "the redemption of a revoked passkey's code", s.SaveGrant(ctx, g), latchkey.ErrNotFound)
	if n := liveTokens(t, s, g); n != 0 {
		t.Errorf("the redemption of a revoked passkey's code stored %d tokens", n)
	}

	bob, bobKey := addSigner(t, s, r, "bob")
	pending = code(bob, bobKey)
	suspended, err := s.GetIdentity(ctx, r.ID, bob)
	must(t, err)
	suspended.Status = directory.StatusSuspended
	must(t, s.UpdateIdentity(ctx, suspended))
	g = familyGrant(app, pending, bob, bobKey, exp)
	wantErr(t, "the redemption of a suspended identity's code", s.SaveGrant(ctx, g), latchkey.ErrNotFound)

	for range 20 {
		carol, key := addSigner(t, s, r, "carol"+latchkey.RandomString(6))
		g := familyGrant(app, code(carol, key), carol, key, exp)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.SaveGrant(ctx, g); err != nil && !errors.Is(err, latchkey.ErrNotFound) {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := revoke(carol, key); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if n := liveTokens(t, s, g); n != 0 {
			t.Fatalf("a redemption that raced its passkey's revocation left %d tokens alive", n)
		}
	}
}
