package sso_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/sso"
)

// TestTiles: the portal shows the configs assigned to an identity directly
// or through a group, once each, by name; not those of others, nor those
// with is_tile_visible false, nor configs that are no application; each
// launches as its type does (SAML IdP-initiated, the bookmark's link, the
// OIDC app's login link or else its site, the Okta org).
func TestTiles(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		ann, ben := f.identity(t, "ann"), f.identity(t, "ben")
		staff := f.group(t, "Staff", ann)
		wiki := f.create(t, "wiki", map[string]any{"type": "bookmark", "login_link": "https://wiki.example/", "icon": "https://wiki.example/i.png"})
		hidden := f.create(t, "Hidden", map[string]any{"type": "bookmark", "login_link": "https://h.example/", "is_tile_visible": false})
		shown := f.create(t, "Shown", map[string]any{"type": "bookmark", "login_link": "https://s.example/", "is_tile_visible": true})
		hr := f.create(t, "HR", map[string]any{"type": "saml", "acs_url": "https://hr.example/acs", "audience_url": "https://hr.example"})
		intranet := f.create(t, "Intranet", map[string]any{"type": "ws_fed", "acs_url": "https://intranet.example/_trust/", "audience_url": "urn:intranet"})
		crm := f.create(t, "CRM", map[string]any{"type": "generic_oidc", "redirect_uris": []string{"com.example.crm:/cb", "https://crm.example/cb"},
			"scopes": []string{"openid"}, "confidentiality": "confidential", "pkce": "s256"})
		mail := f.create(t, "Mail", map[string]any{"type": "generic_oidc", "redirect_uris": []string{"https://mail.example/cb"},
			"scopes": []string{"openid"}, "confidentiality": "confidential", "pkce": "s256", "login_link": "https://mail.example/login"})
		okta := f.create(t, "Okta", map[string]any{"type": "okta_sso_bi_idp", "pkce": "s256", "okta_registration": map[string]any{"domain": "acme.okta.com"}})
		idp := f.create(t, "Upstream", map[string]any{"type": "generic_oidc_idp", "client_id": "c", "client_secret": "s", "pkce": "s256",
			"identifying_claim_name": "email", "identity_attribute": "email", "authorization_endpoint": "https://idp.example/a",
			"token_endpoint": "https://idp.example/t", "jwks_endpoint": "https://idp.example/k"})
		other := f.create(t, "Ben's", map[string]any{"type": "bookmark", "login_link": "https://ben.example/"})
		for _, c := range []sso.Config{wiki, hidden, hr, intranet, okta, idp} {
			must(t, f.svc.AddIdentities(ctx, tn, r, c.ID, []string{ann}))
		}
		for _, c := range []sso.Config{wiki, shown, crm, mail} { // wiki both ways: one tile
			must(t, f.svc.AddGroups(ctx, tn, r, c.ID, []string{staff}))
		}
		must(t, f.svc.AddIdentities(ctx, tn, r, other.ID, []string{ben}))

		tiles, err := f.svc.Tiles(ctx, tn, r, ann)
		must(t, err)
		want := []sso.AppTile{
			{ConfigID: crm.ID, Type: "generic_oidc", Name: "CRM", URL: "https://crm.example/"},
			{ConfigID: hr.ID, Type: "generic_saml", Name: "HR", URL: "/v1/tenants/" + tn + "/realms/" + r + "/sso-configs/" + hr.ID + "/saml/idp-initiated"},
			{ConfigID: intranet.ID, Type: "ws_fed", Name: "Intranet", URL: "/v1/tenants/" + tn + "/realms/" + r + "/sso-configs/" + intranet.ID +
				"/wsfed?wa=wsignin1.0&wreply=https%3A%2F%2Fintranet.example%2F_trust%2F&wtrealm=urn%3Aintranet"},
			{ConfigID: mail.ID, Type: "generic_oidc", Name: "Mail", URL: "https://mail.example/login"},
			{ConfigID: okta.ID, Type: "okta_sso_bi_idp", Name: "Okta", URL: "https://acme.okta.com/"},
			{ConfigID: shown.ID, Type: "bookmark", Name: "Shown", URL: "https://s.example/"},
			{ConfigID: wiki.ID, Type: "bookmark", Name: "wiki", URL: "https://wiki.example/", Icon: "https://wiki.example/i.png"},
		}
		if !reflect.DeepEqual(tiles, want) {
			t.Errorf("ann's tiles:\n%+v\nwant\n%+v", tiles, want)
		}
		if tiles, err := f.svc.Tiles(ctx, tn, r, ben); err != nil || len(tiles) != 1 || tiles[0].ConfigID != other.ID {
			t.Errorf("ben's tiles: %+v, %v", tiles, err)
		}
		if tiles, err := f.svc.Tiles(ctx, "0001ffffffffffff", r, ann); err != nil || len(tiles) != 0 {
			t.Errorf("ann's tiles asked through another tenant: %+v, %v", tiles, err)
		}
	})
}

// TestTilesPage: more configs than one read holds are all shown.
func TestTilesPage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		ann := f.identity(t, "ann")
		staff := f.group(t, "Staff", ann)
		for i := range 1001 {
			c := f.create(t, fmt.Sprintf("App %04d", i), map[string]any{"type": "bookmark", "login_link": "https://app.example/"})
			must(t, f.svc.AddGroups(ctx, tn, r, c.ID, []string{staff}))
		}
		tiles, err := f.svc.Tiles(ctx, tn, r, ann)
		if err != nil || len(tiles) != 1001 || tiles[0].Name != "App 0000" || tiles[1000].Name != "App 1000" {
			t.Errorf("%d tiles, %v", len(tiles), err)
		}
	})
}

// TestCheckLaunch: a realm's launch mechanisms allow every valid flow
// until changed; a disabled one is refused with a *LaunchDisabled, unless
// another launch asked for is enabled.
func TestCheckLaunch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
		here, phone := sso.HostedLaunch(chrome, "platform"), sso.HostedLaunch(chrome, "cross-platform")
		sdk := sso.SDKLaunch("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8)")
		if here != (sso.Launch{Platform: "web", Flow: "embedded"}) || phone.Flow != "roaming_auth" || sdk != (sso.Launch{Platform: "android", Flow: "embedded"}) {
			t.Fatalf("launches %+v %+v %+v", here, phone, sdk)
		}
		for ua, want := range map[string]string{
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)": "ios", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)": "macos",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64)": "windows", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)": "chromeos", "curl/8.0": "web",
		} {
			if got := sso.SDKLaunch(ua).Platform; got != want {
				t.Errorf("the platform of %q: %s, want %s", ua, got, want)
			}
		}
		if sso.HostedLaunch("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", "").Platform != "chromeosweb" {
			t.Error("a ChromeOS browser is not chromeosweb")
		}
		for _, l := range []sso.Launch{here, phone, sdk} {
			must(t, f.svc.CheckLaunch(ctx, tn, r, l))
		}
		no := false
		_, err := f.svc.UpdateFlowTypes(ctx, tn, r, sso.FlowTypePatch{"web": {"embedded": {Enabled: &no}}, "android": {"embedded": {Enabled: &no}}})
		must(t, err)
		var disabled *sso.LaunchDisabled
		if err := f.svc.CheckLaunch(ctx, tn, r, here); !errors.As(err, &disabled) || !reflect.DeepEqual(disabled.Launches, []sso.Launch{here}) {
			t.Errorf("web embedded disabled: %v", err)
		}
		if err := f.svc.CheckLaunch(ctx, tn, r, sdk); !errors.As(err, &disabled) || !reflect.DeepEqual(disabled.Launches, []sso.Launch{sdk}) {
			t.Errorf("android embedded disabled: %v", err)
		}
		must(t, f.svc.CheckLaunch(ctx, tn, r, here, phone))
		_, err = f.svc.UpdateFlowTypes(ctx, tn, r, sso.FlowTypePatch{"web": {"roaming_auth": {Enabled: &no}}})
		must(t, err)
		if err := f.svc.CheckLaunch(ctx, tn, r, here, phone); !errors.As(err, &disabled) || len(disabled.Launches) != 2 {
			t.Errorf("web embedded and roaming_auth disabled: %v", err)
		}
		must(t, f.svc.CheckLaunch(ctx, tn, r, sso.SDKLaunch("Mozilla/5.0 (Windows NT 10.0)")))

		// Another node's change (straight to the store) counts here once
		// what this node read is older than nodecache.TTL.
		c, err := f.svc.FlowTypes(ctx, tn, r)
		must(t, err)
		c.PlatformConfig["web"]["embedded"] = sso.FlowType{Enabled: true, Valid: true}
		must(t, f.st.SSO().Update(ctx, func(tx sso.Tx) error { return tx.PutFlowTypeConfig(ctx, c) }))
		if err := f.svc.CheckLaunch(ctx, tn, r, here); !errors.As(err, &disabled) {
			t.Errorf("within the TTL of its read, this node allowed a launch it read as disabled: %v", err)
		}
		f.clock.Advance(nodecache.TTL + time.Millisecond)
		must(t, f.svc.CheckLaunch(ctx, tn, r, here))
	})
}
