package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/store"
)

func addSSOConfig(t *testing.T, s store.Store, r directory.Realm, p sso.Payload, typ, appID string, migrated bool) sso.Config {
	t.Helper()
	c := sso.Config{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, DisplayName: "Config " + typ, Type: typ,
		IsMigrated: migrated, Payload: p, SecretSealed: "sealed", ApplicationID: appID, CreateTime: now, UpdateTime: now}
	must(t, s.CreateSSOConfig(t.Context(), c))
	return c
}

func configID(c sso.Config) string { return c.ID }

// testSSOConfigs: configs round-trip with their typed payloads within their
// realm; lists filter by type and is_migrated and page by id; a config is
// found by its application; a realm holding configs cannot be deleted.
func testSSOConfigs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	visible := true
	bookmark := addSSOConfig(t, s, r, &sso.Bookmark{Type: sso.TypeBookmark, Tile: sso.Tile{LoginLink: "https://a.example/", IsTileVisible: &visible}},
		sso.TypeBookmark, "", false)
	saml := addSSOConfig(t, s, r, &sso.SAML{Type: sso.TypeSAML, ACSURL: "https://sp.example/acs", AudienceURL: "urn:sp",
		SPSignatureCertificates: []sso.SPCertificate{}, AdditionalUserAttributes: []sso.SAMLAttribute{{Name: "mail", NameFormat: "unspecified", Value: "email"}}},
		sso.TypeSAML, "", true)
	oidc := addSSOConfig(t, s, r, &sso.GenericOIDC{Type: sso.TypeGenericOIDC, RedirectURIs: []string{"https://rp.example/cb"}, Scopes: []string{"openid"},
		Confidentiality: "confidential", PKCE: "s256"}, sso.TypeGenericOIDC, "app-1", false)
	addSSOConfig(t, s, other, &sso.Bookmark{Type: sso.TypeBookmark, Tile: sso.Tile{LoginLink: "https://b.example/"}}, sso.TypeBookmark, "app-1", false)

	got, err := s.GetSSOConfig(ctx, r.TenantID, r.ID, saml.ID)
	must(t, err)
	equal(t, "stored SAML config", got, saml)
	_, err = s.GetSSOConfig(ctx, other.TenantID, other.ID, saml.ID)
	wantErr(t, "a config of another realm", err, latchkey.ErrNotFound)
	byApp, err := s.GetSSOConfigOfApplication(ctx, r.TenantID, r.ID, "app-1")
	must(t, err)
	equal(t, "config of the application", byApp.ID, oidc.ID)
	_, err = s.GetSSOConfigOfApplication(ctx, r.TenantID, r.ID, "")
	wantErr(t, "config of no application", err, latchkey.ErrNotFound)

	list := func(f sso.ListFilter, opts latchkey.ListOptions) ([]string, int) {
		t.Helper()
		cs, total, err := s.ListSSOConfigs(ctx, r.TenantID, r.ID, f, opts)
		must(t, err)
		return ids(cs, configID), total
	}
	all, total := list(sso.ListFilter{}, latchkey.ListOptions{Limit: 10})
	sameIDs(t, "every config of the realm", all, ids(sortedBy([]sso.Config{bookmark, saml, oidc}, configID), configID))
	wantTotal(t, "every config", total, 3)
	got2, total := list(sso.ListFilter{Types: []string{sso.TypeBookmark, sso.TypeGenericOIDC}}, latchkey.ListOptions{Limit: 10})
	sameIDs(t, "bookmarks and OIDC", got2, ids(sortedBy([]sso.Config{bookmark, oidc}, configID), configID))
	wantTotal(t, "bookmarks and OIDC", total, 2)
	migrated := true
	got3, _ := list(sso.ListFilter{IsMigrated: &migrated}, latchkey.ListOptions{Limit: 10})
	sameIDs(t, "migrated", got3, []string{saml.ID})
	page, total := list(sso.ListFilter{}, latchkey.ListOptions{After: all[0], Limit: 1})
	sameIDs(t, "second page", page, all[1:2])
	wantTotal(t, "second page", total, 3)

	oidc.DisplayName, oidc.IsMigrated, oidc.SecretSealed, oidc.UpdateTime = "Renamed", true, "", now.Add(time.Second)
	oidc.Payload.(*sso.GenericOIDC).RedirectURIs = []string{"https://rp.example/2"}
	must(t, s.UpdateSSOConfig(ctx, oidc))
	got, err = s.GetSSOConfig(ctx, r.TenantID, r.ID, oidc.ID)
	must(t, err)
	equal(t, "updated config", got, oidc)

	wantErr(t, "delete a realm with configs", s.DeleteRealm(ctx, r.TenantID, r.ID), latchkey.ErrInUse)
	must(t, s.DeleteSSOConfig(ctx, r.TenantID, r.ID, bookmark.ID))
	wantErr(t, "delete again", s.DeleteSSOConfig(ctx, r.TenantID, r.ID, bookmark.ID), latchkey.ErrNotFound)
	wantErr(t, "update a deleted config", s.UpdateSSOConfig(ctx, bookmark), latchkey.ErrNotFound)
}

// testSSOAssignments: identities and groups are assigned once each; an
// identity is assigned directly or through a group it belongs to, and
// listed once per way; deleting an identity, a group or the config
// removes its assignments.
func testSSOAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	c := addSSOConfig(t, s, r, &sso.Bookmark{Type: sso.TypeBookmark, Tile: sso.Tile{LoginLink: "https://a.example/"}}, sso.TypeBookmark, "", false)
	unused := addSSOConfig(t, s, r, &sso.Bookmark{Type: sso.TypeBookmark, Tile: sso.Tile{LoginLink: "https://b.example/"}}, sso.TypeBookmark, "", false)
	alice, bob, carol := addIdentity(t, s, r, "alice"), addIdentity(t, s, r, "bob"), addIdentity(t, s, r, "carol")
	staff, empty := addGroup(t, s, r, "Staff"), addGroup(t, s, r, "Empty")
	must(t, s.AddMembers(ctx, staff.ID, []string{alice.ID, bob.ID}))

	must(t, s.AssignIdentities(ctx, c.ID, []string{alice.ID}))
	must(t, s.AssignIdentities(ctx, c.ID, []string{alice.ID})) // again: no change
	must(t, s.AssignGroups(ctx, c.ID, []string{staff.ID, empty.ID}))

	assigned := func(identity directory.Identity) bool {
		t.Helper()
		ok, err := s.IdentityAssigned(ctx, c.ID, identity.ID)
		must(t, err)
		return ok
	}
	if !assigned(alice) || !assigned(bob) || assigned(carol) {
		t.Errorf("assigned: alice %v (directly and through Staff), bob %v (through Staff), carol %v (not)", assigned(alice), assigned(bob), assigned(carol))
	}
	gs, err := s.GroupsAssigned(ctx, c.ID, []string{staff.ID, "nope"})
	must(t, err)
	sameIDs(t, "groups assigned", gs, []string{staff.ID})

	assoc, total, err := s.ListAssignedIdentities(ctx, c.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	wantTotal(t, "associations", total, 3)
	ways := map[string]bool{}
	for _, a := range assoc {
		ways[a.ID+"/"+a.GroupID+"/"+a.GroupDisplayName] = true
	}
	for _, want := range []string{alice.ID + "//", alice.ID + "/" + staff.ID + "/Staff", bob.ID + "/" + staff.ID + "/Staff"} {
		if !ways[want] {
			t.Errorf("associations %v lack %s", ways, want)
		}
	}
	first, _, err := s.ListAssignedIdentities(ctx, c.ID, latchkey.ListOptions{Limit: 2})
	must(t, err)
	rest, _, err := s.ListAssignedIdentities(ctx, c.ID, latchkey.ListOptions{Limit: 2, After: first[1].ID + "/" + first[1].GroupID})
	must(t, err)
	if len(first) != 2 || len(rest) != 1 {
		t.Errorf("associations paged by 2: %d then %d", len(first), len(rest))
	}

	groups, total, err := s.ListAssignedGroups(ctx, c.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	wantTotal(t, "assigned groups", total, 2)
	counts := map[string]int{}
	for _, g := range groups {
		counts[g.ID] = g.MemberCount
	}
	equal(t, "member counts", counts, map[string]int{staff.ID: 2, empty.ID: 0})

	of, _, err := s.ListSSOConfigsOfIdentity(ctx, r.ID, bob.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	sameIDs(t, "configs of bob (through Staff)", ids(of, configID), []string{c.ID})
	of, _, err = s.ListSSOConfigsOfIdentity(ctx, r.ID, carol.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	sameIDs(t, "configs of carol", ids(of, configID), nil)
	tiles, err := s.ListTileConfigsOfIdentity(ctx, r.ID, bob.ID, "", 10)
	must(t, err)
	if len(tiles) != 1 || tiles[0].ID != c.ID || tiles[0].TenantID != c.TenantID || tiles[0].DisplayName != c.DisplayName ||
		tiles[0].Type != c.Type || !json.Valid(tiles[0].Payload) {
		t.Errorf("tile configs of bob (through Staff): %+v", tiles)
	}
	if tiles, err := s.ListTileConfigsOfIdentity(ctx, r.ID, bob.ID, c.ID, 10); err != nil || len(tiles) != 0 {
		t.Errorf("tile configs of bob after the last: %+v, %v", tiles, err)
	}
	if tiles, err := s.ListTileConfigsOfIdentity(ctx, r.ID, carol.ID, "", 10); err != nil || len(tiles) != 0 {
		t.Errorf("tile configs of carol: %+v, %v", tiles, err)
	}
	of, _, err = s.ListSSOConfigsOfGroup(ctx, r.ID, empty.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	sameIDs(t, "configs of Empty", ids(of, configID), []string{c.ID})

	must(t, s.UnassignIdentities(ctx, c.ID, []string{alice.ID}))
	if !assigned(alice) {
		t.Error("alice lost her assignment through Staff with her direct one")
	}
	_, err = s.DeleteIdentities(ctx, r.ID, []string{bob.ID})
	must(t, err)
	must(t, s.RemoveMembers(ctx, staff.ID, []string{alice.ID}))
	if assigned(alice) {
		t.Error("alice is still assigned after leaving Staff")
	}
	must(t, s.UnassignGroups(ctx, c.ID, []string{staff.ID}))
	must(t, s.DeleteGroup(ctx, r.ID, empty.ID))
	groups, _, err = s.ListAssignedGroups(ctx, c.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	if len(groups) != 0 {
		t.Errorf("groups left after unassigning and deleting: %+v", groups)
	}
	must(t, s.AssignIdentities(ctx, unused.ID, []string{carol.ID}))
	must(t, s.DeleteSSOConfig(ctx, r.TenantID, r.ID, unused.ID))
	_, err = s.DeleteIdentities(ctx, r.ID, []string{carol.ID}) // nothing of the config holds it
	must(t, err)
}

// testIdentityProviders: identity providers round-trip within their realm and page by id.
func testIdentityProviders(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	p := sso.IdentityProvider{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, DisplayName: "Okta",
		ProtocolConfig: sso.IdPProtocolConfig{Type: "oidc_idp", ClientID: "c", TokenScopes: []string{"openid"}, IdentityAttribute: "email",
			PKCE: "s256", JWKSURL: "https://idp.example/keys", TokenURL: "https://idp.example/token", AuthorizeURL: "https://idp.example/authorize",
			IdentifyingClaimName: "email"},
		ClientSecretSealed: "sealed", CreateTime: now, UpdateTime: now}
	must(t, s.CreateIdentityProvider(ctx, p))
	got, err := s.GetIdentityProvider(ctx, r.TenantID, r.ID, p.ID)
	must(t, err)
	equal(t, "stored identity provider", got, p)
	_, err = s.GetIdentityProvider(ctx, other.TenantID, other.ID, p.ID)
	wantErr(t, "another realm's", err, latchkey.ErrNotFound)
	p.DisplayName, p.ClientSecretSealed, p.UpdateTime = "Entra", "", now.Add(time.Second)
	must(t, s.UpdateIdentityProvider(ctx, p))
	list, total, err := s.ListIdentityProviders(ctx, r.TenantID, r.ID, latchkey.ListOptions{Limit: 10})
	must(t, err)
	wantTotal(t, "identity providers", total, 1)
	equal(t, "listed", list, []sso.IdentityProvider{p})
	must(t, s.DeleteIdentityProvider(ctx, r.TenantID, r.ID, p.ID))
	wantErr(t, "delete again", s.DeleteIdentityProvider(ctx, r.TenantID, r.ID, p.ID), latchkey.ErrNotFound)
}

// testFlowTypeConfigs: a realm has none until one is put; putting again replaces it.
func testFlowTypeConfigs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	_, err := s.GetFlowTypeConfig(ctx, r.TenantID, r.ID)
	wantErr(t, "before the first", err, latchkey.ErrNotFound)
	c := sso.FlowTypeConfig{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, CreateTime: now, UpdateTime: now,
		PlatformConfig: map[string]map[string]sso.FlowType{"web": {"embedded": {Enabled: true, Valid: true}}}}
	must(t, s.PutFlowTypeConfig(ctx, c))
	c.PlatformConfig["web"]["embedded"] = sso.FlowType{Enabled: false, Valid: true}
	c.UpdateTime = now.Add(time.Second)
	must(t, s.PutFlowTypeConfig(ctx, c))
	got, err := s.GetFlowTypeConfig(ctx, r.TenantID, r.ID)
	must(t, err)
	equal(t, "stored flow types", got, c)
	_, err = s.GetFlowTypeConfig(ctx, "0001000000000000", r.ID)
	wantErr(t, "another tenant's", err, latchkey.ErrNotFound)
}
