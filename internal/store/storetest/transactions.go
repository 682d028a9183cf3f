package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "greeting")
	wantErr(t, "get missing", err, latchkey.ErrNotFound)
	must(t, s.CreateSetting(ctx, "greeting", "hello"))
	must(t, s.CreateSetting(ctx, "other", "x"))
	wantErr(t, "create a taken name", s.CreateSetting(ctx, "greeting", "changed"), latchkey.ErrDuplicate)
	got, err := s.GetSetting(ctx, "greeting")
	must(t, err)
	equal(t, "setting", got, "hello")
}

// writeAll writes one row of every kind in tx and returns how to read each back.
func writeAll(t *testing.T, tx store.Tx) (checks map[string]func(store.Tx) error, err error) {
	ctx := t.Context()
	tenant := newTenant()
	r := newRealmIn(tenant.ID, "Realm")
	alice := newIdentity(r, "alice")
	g := newGroup(r, "Admins")
	app := newApplication(r, "client-"+latchkey.NewID())
	token := newToken(app, "identity", alice.ID, now.Add(time.Hour).Unix())
	event := newEvent(tenant.ID, r.ID, 1, "identity.create")
	setting := "setting-" + latchkey.NewID()
	key := oauth.SigningKey{ID: latchkey.NewID(), Algorithm: "RS256", PrivateKeySealed: "sealed", CreateTime: now}
	err = errors.Join(
		tx.CreateTenant(ctx, tenant), tx.CreateRealm(ctx, r), tx.CreateIdentities(ctx, []directory.Identity{alice}),
		tx.CreateGroup(ctx, g), tx.AddMembers(ctx, g.ID, []string{alice.ID}), tx.CreateApplication(ctx, app, ""),
		tx.SaveGrant(ctx, tokenGrant(token)), tx.RecordEvent(ctx, event), tx.CreateSetting(ctx, setting, "v"),
		tx.CreateSigningKey(ctx, key),
	)
	one := func(n int, err error) error {
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows: %w", n, latchkey.ErrNotFound)
		}
		return err
	}
	checks = map[string]func(store.Tx) error{
		"tenant":   func(tx store.Tx) error { _, err := tx.GetTenant(ctx, tenant.ID); return err },
		"realm":    func(tx store.Tx) error { _, err := tx.GetRealm(ctx, tenant.ID, r.ID); return err },
		"identity": func(tx store.Tx) error { _, err := tx.GetIdentity(ctx, r.ID, alice.ID); return err },
		"identity count": func(tx store.Tx) error {
			_, n, err := tx.ListIdentities(ctx, r.ID, latchkey.ListOptions{Limit: 1})
			return one(n, err)
		},
		"group": func(tx store.Tx) error { _, err := tx.GetGroup(ctx, r.ID, g.ID); return err },
		"membership": func(tx store.Tx) error {
			_, n, err := tx.ListMembers(ctx, g.ID, latchkey.ListOptions{Limit: 1})
			return one(n, err)
		},
		"application": func(tx store.Tx) error { _, _, err := tx.GetApplication(ctx, r.ID, app.ID); return err },
		"token":       func(tx store.Tx) error { _, err := tx.GetToken(ctx, token.ID); return err },
		"setting":     func(tx store.Tx) error { _, err := tx.GetSetting(ctx, setting); return err },
		"signing key": func(tx store.Tx) error {
			keys, err := tx.ListSigningKeys(ctx)
			return one(len(keys), err)
		},
	}
	return checks, err
}

func testUpdateCommits(t *testing.T, s store.Store) {
	var checks map[string]func(store.Tx) error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		var err error
		if checks, err = writeAll(t, tx); err != nil {
			return err
		}
		for _, what := range slices.Sorted(maps.Keys(checks)) {
			if err := checks[what](tx); err != nil {
				return fmt.Errorf("%s inside the transaction: %w", what, err)
			}
		}
		return nil
	})
	must(t, err)
	for _, what := range slices.Sorted(maps.Keys(checks)) {
		if err := checks[what](s); err != nil {
			t.Errorf("%s after commit: %v", what, err)
		}
	}
}

func testUpdateRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	var checks map[string]func(store.Tx) error
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		if checks, err = writeAll(t, tx); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Update", err, boom)
	for _, what := range slices.Sorted(maps.Keys(checks)) {
		wantErr(t, what+" after rollback", checks[what](s), latchkey.ErrNotFound)
	}

	// A failed statement rolls back the statements before it.
	r := newRealm(t, s)
	addIdentity(t, s, r, "alice")
	bob, g := newIdentity(r, "bob"), newGroup(r, "Admins")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentities(ctx, []directory.Identity{bob}); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		return tx.CreateIdentities(ctx, []directory.Identity{newIdentity(r, "ALICE")})
	})
	wantErr(t, "Update with a taken username", err, latchkey.ErrDuplicate)
	_, err = s.GetIdentity(ctx, r.ID, bob.ID)
	wantErr(t, "identity before the failure", err, latchkey.ErrNotFound)
	_, err = s.GetGroup(ctx, r.ID, g.ID)
	wantErr(t, "group before the failure", err, latchkey.ErrNotFound)

	// The directory's and oauth's views of Update behave alike.
	carol := newIdentity(r, "carol")
	err = s.Directory().Update(ctx, func(tx directory.Tx) error {
		return errors.Join(tx.CreateIdentities(ctx, []directory.Identity{carol}), boom)
	})
	wantErr(t, "directory Update", err, boom)
	_, err = s.GetIdentity(ctx, r.ID, carol.ID)
	wantErr(t, "directory write after rollback", err, latchkey.ErrNotFound)
	must(t, s.Directory().Update(ctx, func(tx directory.Tx) error {
		return tx.CreateIdentities(ctx, []directory.Identity{carol})
	}))
	_, err = s.GetIdentity(ctx, r.ID, carol.ID)
	must(t, err)

	app := newApplication(r, "client-1")
	err = s.OAuth().Update(ctx, func(tx oauth.Tx) error { return errors.Join(tx.CreateApplication(ctx, app, ""), boom) })
	wantErr(t, "oauth Update", err, boom)
	_, _, err = s.GetApplication(ctx, r.ID, app.ID)
	wantErr(t, "oauth write after rollback", err, latchkey.ErrNotFound)
	must(t, s.OAuth().Update(ctx, func(tx oauth.Tx) error { return tx.CreateApplication(ctx, app, "") }))
	_, _, err = s.GetApplication(ctx, r.ID, app.ID)
	must(t, err)
}

// testTimestamps checks that times come back in UTC, truncated to the
// microsecond, whatever zone and precision they were written in.
func testTimestamps(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800))
	updated := time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.FixedZone("EDT", -4*3600))
	check := func(what string, got, sent time.Time) {
		t.Helper()
		want := sent.Truncate(time.Microsecond)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: got %v, want %v", what, got, want.UTC())
		}
	}

	tenant := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: created, UpdateTime: created}
	must(t, s.CreateTenant(ctx, tenant))
	tenant.UpdateTime = updated
	must(t, s.UpdateTenant(ctx, tenant))
	gotTenant, err := s.GetTenant(ctx, tenant.ID)
	must(t, err)
	check("tenant create_time", gotTenant.CreateTime, created)
	check("tenant update_time", gotTenant.UpdateTime, updated)

	r := newRealmIn(tenant.ID, "R")
	r.CreateTime, r.UpdateTime = created, created
	must(t, s.CreateRealm(ctx, r))
	r.UpdateTime = updated
	must(t, s.UpdateRealm(ctx, r))
	gotRealm, err := s.GetRealm(ctx, tenant.ID, r.ID)
	must(t, err)
	check("realm create_time", gotRealm.CreateTime, created)
	check("realm update_time", gotRealm.UpdateTime, updated)

	i := newIdentity(r, "alice")
	i.CreateTime, i.UpdateTime = created, created
	must(t, s.CreateIdentities(ctx, []directory.Identity{i}))
	i.UpdateTime = updated
	must(t, s.UpdateIdentity(ctx, i))
	gotIdentity, err := s.GetIdentity(ctx, r.ID, i.ID)
	must(t, err)
	check("identity create_time", gotIdentity.CreateTime, created)
	check("identity update_time", gotIdentity.UpdateTime, updated)

	g := newGroup(r, "G")
	g.CreateTime, g.UpdateTime = created, created
	must(t, s.CreateGroup(ctx, g))
	g.UpdateTime = updated
	must(t, s.UpdateGroup(ctx, g))
	gotGroup, err := s.GetGroup(ctx, r.ID, g.ID)
	must(t, err)
	check("group create_time", gotGroup.CreateTime, created)
	check("group update_time", gotGroup.UpdateTime, updated)

	rs := newResourceServer(r, "https://api.example")
	rs.CreateTime, rs.UpdateTime = created, updated
	must(t, s.CreateResourceServer(ctx, rs))
	gotRS, err := s.GetResourceServer(ctx, r.ID, rs.ID)
	must(t, err)
	check("resource server create_time", gotRS.CreateTime, created)
	check("resource server update_time", gotRS.UpdateTime, updated)

	app := newApplication(r, "client-1")
	app.CreateTime, app.UpdateTime = created, updated
	must(t, s.CreateApplication(ctx, app, ""))
	gotApp, _, err := s.GetApplication(ctx, r.ID, app.ID)
	must(t, err)
	check("application create_time", gotApp.CreateTime, created)
	check("application update_time", gotApp.UpdateTime, updated)

	must(t, s.CreateSigningKey(ctx, oauth.SigningKey{ID: "k", Algorithm: "RS256", PrivateKeySealed: "x", CreateTime: created}))
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("%d signing keys, want 1", len(keys))
	}
	check("signing key create_time", keys[0].CreateTime, created)

	e := newEvent(tenant.ID, r.ID, 1, "identity.create")
	e.CreateTime = created
	must(t, s.RecordEvent(ctx, e))
	events, _, err := s.Audit().ListEvents(ctx, tenant.ID, r.ID, all(nil))
	must(t, err)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	check("event create_time", events[0].CreateTime, created)
}
