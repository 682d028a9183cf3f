package sso_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a realm with the directory, oauth and sso services on one store.
type fixture struct {
	st    *sqlstore.Store
	realm directory.Realm
	dir   *directory.Service
	oauth *oauth.Service
	svc   *sso.Service
	box   *secretbox.Box
	clock *testenv.Clock
}

func forEachEngine(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			st := eng.Open(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			tn := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
			r := directory.Realm{ID: latchkey.NewID(), TenantID: tn.ID, DisplayName: "Acme",
				Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
			must(t, st.CreateTenant(t.Context(), tn))
			must(t, st.CreateRealm(t.Context(), r))
			box, err := secretbox.New(secretbox.NewKey())
			must(t, err)
			clock := testenv.NewClock()
			o := oauth.NewService(st.OAuth(), box, policy.NewService(st.Policy()), "https://id.example")
			o.Clock = clock.Now
			s := sso.NewService(st.SSO(), box, o, "https://id.example")
			s.Clock = clock.Now
			d := directory.NewService(st.Directory())
			d.Clock = clock.Now
			test(t, &fixture{st: st, realm: r, dir: d, oauth: o, svc: s, box: box, clock: clock})
		})
	}
}

func (f *fixture) create(t *testing.T, name string, payload any) sso.Config {
	t.Helper()
	raw, err := json.Marshal(payload)
	must(t, err)
	c, err := f.svc.Create(t.Context(), f.realm.TenantID, f.realm.ID, sso.In{DisplayName: &name, Payload: raw})
	must(t, err)
	return c
}

func (f *fixture) identity(t *testing.T, username string) string {
	t.Helper()
	i, err := f.dir.CreateIdentity(t.Context(), f.realm.TenantID, f.realm.ID, directory.Identity{DisplayName: username,
		Traits: directory.Traits{Type: directory.TraitsV0, Username: username}})
	must(t, err)
	return i.ID
}

func (f *fixture) group(t *testing.T, name string, members ...string) string {
	t.Helper()
	g, err := f.dir.CreateGroup(t.Context(), f.realm.TenantID, f.realm.ID, directory.Group{DisplayName: name}, nil)
	must(t, err)
	if len(members) > 0 {
		_, err = f.dir.AddGroupMembers(t.Context(), f.realm.TenantID, f.realm.ID, g.ID, members)
		must(t, err)
	}
	return g.ID
}

// TestAssignmentRules: an identity may use a config it is assigned to
// directly or through any group it belongs to, for as long as it belongs;
// taking a direct assignment away leaves the group's; assignments are all
// or nothing, of the config's realm only.
func TestAssignmentRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c := f.create(t, "Wiki", map[string]any{"type": "bookmark", "login_link": "https://wiki.example/"})
		ann, ben, cat := f.identity(t, "ann"), f.identity(t, "ben"), f.identity(t, "cat")
		staff := f.group(t, "Staff", ben)
		assigned := func(id string) bool {
			t.Helper()
			ok, err := f.svc.IsIdentityAssigned(ctx, tn, r, id, c.ID)
			must(t, err)
			return ok
		}
		must(t, f.svc.AddIdentities(ctx, tn, r, c.ID, []string{ann, ann}))
		must(t, f.svc.AddGroups(ctx, tn, r, c.ID, []string{staff}))
		if !assigned(ann) || !assigned(ben) || assigned(cat) {
			t.Fatalf("ann (directly) %v, ben (through Staff) %v, cat (not) %v", assigned(ann), assigned(ben), assigned(cat))
		}
		_, err := f.dir.AddGroupMembers(ctx, tn, r, staff, []string{ann, cat})
		must(t, err)
		must(t, f.svc.DeleteIdentities(ctx, tn, r, c.ID, []string{ann}))
		if !assigned(ann) || !assigned(cat) {
			t.Error("joining Staff does not assign, or taking ann's direct assignment away took Staff's too")
		}
		_, err = f.dir.DeleteGroupMembers(ctx, tn, r, staff, []string{cat})
		must(t, err)
		if assigned(cat) {
			t.Error("cat is assigned after leaving Staff")
		}
		if ok, err := f.svc.IsGroupAssigned(ctx, tn, r, c.ID, []string{"0000000000000000", staff}); err != nil || !ok {
			t.Errorf("is Staff (or an unknown group) assigned: %v %v", ok, err)
		}

		err = f.svc.AddIdentities(ctx, tn, r, c.ID, []string{cat, "ffffffffffffffff"})
		if latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("an unknown identity among others: %v", err)
		}
		if assigned(cat) {
			t.Error("a batch with an unknown identity assigned the known one")
		}
		other := directory.Realm{ID: latchkey.NewID(), TenantID: tn, DisplayName: "Other", Classification: directory.SecureWorkforce,
			CreateTime: f.realm.CreateTime, UpdateTime: f.realm.CreateTime}
		must(t, f.st.CreateRealm(ctx, other))
		if err := f.svc.AddIdentities(ctx, tn, other.ID, c.ID, []string{ann}); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("the config through another realm: %v", err)
		}
		if _, err := f.svc.IsIdentityAssigned(ctx, "0001ffffffffffff", r, ann, c.ID); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("through another tenant: %v", err)
		}
		configs, _, err := f.svc.ListConfigsOfIdentity(ctx, tn, r, ben, latchkey.ListOptions{Limit: 10})
		must(t, err)
		if len(configs) != 1 || configs[0].ID != c.ID {
			t.Errorf("configs of ben: %+v", configs)
		}
	})
}

// TestBackedConfigs: a generic_oidc config is an oauth application that
// follows it (redirect URIs, confidentiality, PKCE, name) and goes with it;
// upstream secrets are sealed, never answered, and Secret opens them.
func TestBackedConfigs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c := f.create(t, "Chat", map[string]any{"type": "generic_oidc", "redirect_uris": []string{"https://chat.example/cb"},
			"scopes": []string{"openid"}, "confidentiality": "confidential", "pkce": "s256"})
		p := c.Payload.(*sso.GenericOIDC)
		if p.ApplicationID == "" || p.ClientSecret == "" || p.OIDCConfiguration.Issuer != f.oauth.Issuer(tn, r, p.ApplicationID) {
			t.Fatalf("the created config's application: %+v", p.Backing)
		}
		name := "Chat 2"
		_, err := f.svc.Update(ctx, tn, r, c.ID, sso.In{DisplayName: &name,
			Payload: json.RawMessage(`{"type":"generic_oidc","redirect_uris":["https://chat.example/v2"],"pkce":"plain"}`)})
		must(t, err)
		app, err := f.oauth.GetApplication(ctx, tn, r, p.ApplicationID)
		must(t, err)
		if app.DisplayName != name || app.ProtocolConfig.RedirectURIs[0] != "https://chat.example/v2" || app.ProtocolConfig.PKCE != "plain" {
			t.Errorf("the application did not follow the config: %+v", app)
		}
		if id, err := f.svc.ConfigOfApplication(ctx, tn, r, app.ID); err != nil || id != c.ID {
			t.Errorf("config of the application: %q %v", id, err)
		}
		must(t, f.svc.Delete(ctx, tn, r, c.ID))
		if _, err := f.oauth.GetApplication(ctx, tn, r, app.ID); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("the application outlived its config: %v", err)
		}

		okta := f.create(t, "Okta", map[string]any{"type": "okta_sso_bi_idp", "pkce": "s256",
			"okta_registration": map[string]any{"domain": "acme.okta.com", "okta_token": "00secret"}})
		stored, err := f.svc.Config(ctx, tn, r, okta.ID)
		must(t, err)
		if tok := stored.Payload.(*sso.OktaSSOBIIdP).OktaRegistration.OktaToken; tok != "" {
			t.Errorf("the Okta token is answered: %q", tok)
		}
		if secret, err := f.svc.Secret(stored); err != nil || secret != "00secret" {
			t.Errorf("the sealed Okta token opens to %q (%v)", secret, err)
		}
		// An update without the token keeps it; one with a new token seals that.
		_, err = f.svc.Update(ctx, tn, r, okta.ID, sso.In{Payload: json.RawMessage(`{"type":"okta_sso_bi_idp","okta_registration":{"is_enabled":true}}`)})
		must(t, err)
		stored, _ = f.svc.Config(ctx, tn, r, okta.ID)
		if secret, _ := f.svc.Secret(stored); secret != "00secret" || stored.Payload.(*sso.OktaSSOBIIdP).OktaRegistration.Domain != "acme.okta.com" {
			t.Errorf("after a partial update: secret %q, payload %+v", secret, stored.Payload)
		}
	})
}

// TestFlowTypes: a realm's launch mechanisms start with every flow that
// exists on a platform enabled and the others neither valid nor enabled;
// a flow that does not exist on a platform cannot be enabled there.
func TestFlowTypes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c, err := f.svc.FlowTypes(ctx, tn, r)
		must(t, err)
		for _, p := range sso.Platforms {
			for _, fl := range sso.Flows {
				if got := c.PlatformConfig[p][fl]; got.Enabled != sso.Valid(p, fl) || got.Valid != sso.Valid(p, fl) {
					t.Errorf("%s on %s: %+v", fl, p, got)
				}
			}
		}
		if sso.Valid("web", "android_autofill") || !sso.Valid("android", "android_autofill") || !sso.Valid("ios", "safari_extension") {
			t.Error("validity of platform-bound flows")
		}
		off, on := false, true
		c, err = f.svc.UpdateFlowTypes(ctx, tn, r, sso.FlowTypePatch{"ios": {"copy": {Enabled: &off}}})
		must(t, err)
		if c.Enabled("ios", "copy") || !c.Enabled("android", "copy") {
			t.Error("disabling copy on iOS")
		}
		_, err = f.svc.UpdateFlowTypes(ctx, tn, r, sso.FlowTypePatch{"web": {"pipe": {Enabled: &on}}})
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Code != latchkey.CodeBadRequest {
			t.Errorf("enabling pipe on the web: %v", err)
		}
		if _, err := f.svc.FlowTypes(ctx, tn, latchkey.NewID()); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			t.Errorf("flow types of no realm: %v", err)
		}
	})
}

// TestWSFedRelyingParties: a ws_fed config is the SAML engine's
// WS-Federation relying party (its realm the entity ID, its reply URL the
// ACS URL, tokens signed and valid for expiration_time_seconds, claims
// namespaced), its assignments its allow list; its read-only fields say
// where its endpoints and metadata are.
func TestWSFedRelyingParties(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c := f.create(t, "Intranet", map[string]any{"type": "ws_fed", "acs_url": "https://intranet.example/_trust/", "audience_url": "urn:intranet",
			"expiration_time_seconds": 600, "subject_user_name_attribute": "email", "token_type": "saml11",
			"additional_user_attributes": []map[string]any{{"name": "upn", "name_format": "unspecified", "value": "email", "namespace": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"}}})
		sp, err := f.svc.ServiceProvider(ctx, tn, r, c.ID)
		must(t, err)
		if !sp.WSFed || !sp.SAML11 || sp.DisplayName != "Intranet" || sp.EntityID != "urn:intranet" || sp.ACSURL != "https://intranet.example/_trust/" || !sp.SignAssertions ||
			sp.AssertionValidity != 10*time.Minute || sp.SubjectUserNameAttribute != "email" || len(sp.Attributes) != 1 ||
			sp.Attributes[0] != (saml.Attribute{Name: "upn", NameFormat: "unspecified", Value: "email", Namespace: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"}) {
			t.Errorf("the relying party of the config: %+v", sp)
		}
		got, err := f.svc.Config(ctx, tn, r, c.ID)
		must(t, err)
		endpoint := f.svc.PublicURL + saml.WSFedPath(tn, r, c.ID)
		if p := got.Payload.(*sso.WSFed); p.IdPSSOURL != endpoint || p.MetadataURL != endpoint+"/metadata" || p.IdPIssuerURL != endpoint+"/metadata" {
			t.Errorf("the config's endpoints: %+v", p)
		}
		ann := f.identity(t, "ann")
		must(t, f.svc.AddIdentities(ctx, tn, r, c.ID, []string{ann}))
		for id, want := range map[string]bool{ann: true, f.identity(t, "ben"): false} {
			if ok, err := f.svc.Allowed(ctx, tn, r, c.ID, directory.Identity{ID: id, TenantID: tn, RealmID: r}); err != nil || ok != want {
				t.Errorf("Allowed(%s) = %v, %v; want %v", id, ok, err, want)
			}
		}
	})
}

// TestSAMLServiceProviders: a generic_saml config is the SAML engine's
// service provider with the payload's settings, its assignments its allow
// list; any other config, or none, is not found.
func TestSAMLServiceProviders(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c := f.create(t, "Payroll", map[string]any{"type": "saml", "acs_url": "https://sp.example/acs", "audience_url": "urn:example:sp",
			"sign_assertions": true, "assertion_validity_duration_seconds": 120, "validate_signed_requests": false,
			"additional_user_attributes": []map[string]any{{"name": "mail", "name_format": "unspecified", "value": "email"}}})
		sp, err := f.svc.ServiceProvider(ctx, tn, r, c.ID)
		must(t, err)
		if sp.DisplayName != "Payroll" || sp.EntityID != "urn:example:sp" || sp.ACSURL != "https://sp.example/acs" || !sp.SignAssertions ||
			sp.AssertionValidity != 2*time.Minute || len(sp.Attributes) != 1 || sp.Attributes[0] != (saml.Attribute{Name: "mail", NameFormat: "unspecified", Value: "email"}) {
			t.Errorf("the service provider of the config: %+v", sp)
		}
		bookmark := f.create(t, "Wiki", map[string]any{"type": "bookmark", "login_link": "https://wiki.example/"})
		for _, id := range []string{bookmark.ID, "ffffffffffffffff"} {
			if _, err := f.svc.ServiceProvider(ctx, tn, r, id); !errors.Is(err, latchkey.ErrNotFound) {
				t.Errorf("the service provider of %s: %v", id, err)
			}
		}
		if _, err := f.svc.ServiceProvider(ctx, tn, latchkey.NewID(), c.ID); !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("the config from another realm: %v", err)
		}
		ann, ben := f.identity(t, "ann"), f.identity(t, "ben")
		must(t, f.svc.AddGroups(ctx, tn, r, c.ID, []string{f.group(t, "Payroll users", ann)}))
		for id, want := range map[string]bool{ann: true, ben: false} {
			if ok, err := f.svc.Allowed(ctx, tn, r, c.ID, directory.Identity{ID: id, TenantID: tn, RealmID: r}); err != nil || ok != want {
				t.Errorf("Allowed(%s) = %v, %v; want %v", id, ok, err, want)
			}
		}
		// An identity that says it is of another realm or tenant is not asked about.
		for _, i := range []directory.Identity{{ID: ann, TenantID: tn, RealmID: latchkey.NewID()}, {ID: ann, TenantID: latchkey.NewID(), RealmID: r}} {
			if ok, err := f.svc.Allowed(ctx, tn, r, c.ID, i); err != nil || ok {
				t.Errorf("Allowed(%+v) = %v, %v; want false", i, ok, err)
			}
		}
	})
}

// failingWrites is a store whose transactions fail (a full disk, a lost
// connection), for what a service does when its own write fails.
type failingWrites struct{ sso.Store }

func (failingWrites) Update(context.Context, func(sso.Tx) error) error {
	return errors.New("the disk is full")
}

// TestUpdateKeepsTheApplicationWhenTheConfigFails: the application of a
// backed config follows an update only if the config's own write succeeds.
func TestUpdateKeepsTheApplicationWhenTheConfigFails(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		c := f.create(t, "Chat", map[string]any{"type": "generic_oidc", "redirect_uris": []string{"https://chat.example/cb"},
			"scopes": []string{"openid"}, "confidentiality": "confidential", "pkce": "s256"})
		appID := c.Payload.(*sso.GenericOIDC).ApplicationID
		failing := sso.NewService(failingWrites{f.st.SSO()}, f.box, f.oauth, "https://id.example")
		name := "Chat 2"
		_, err := failing.Update(ctx, tn, r, c.ID, sso.In{DisplayName: &name,
			Payload: json.RawMessage(`{"type":"generic_oidc","redirect_uris":["https://chat.example/v2"],"pkce":"plain"}`)})
		if err == nil {
			t.Fatal("the update succeeded without its write")
		}
		app, err := f.oauth.GetApplication(ctx, tn, r, appID)
		must(t, err)
		if app.DisplayName != "Chat" || app.ProtocolConfig.RedirectURIs[0] != "https://chat.example/cb" || app.ProtocolConfig.PKCE != "s256" {
			t.Errorf("the application changed with a failed update: %+v", app)
		}
	})
}

// TestSignInProviders: the hosted sign-in page's upstream providers are
// the realm's generic_oidc_idp configs (not its other configs), trusted for
// nodecache.TTL: a change made on this node counts at once, one made on
// another node after the TTL.
func TestSignInProviders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		ctx, tn, r := t.Context(), f.realm.TenantID, f.realm.ID
		names := func(svc *sso.Service) []string {
			t.Helper()
			cs, err := svc.SignInProviders(ctx, tn, r)
			must(t, err)
			var out []string
			for _, c := range cs {
				out = append(out, c.DisplayName)
			}
			return out
		}
		idp := func(svc *sso.Service, name string) sso.Config {
			raw, err := json.Marshal(map[string]any{"type": "generic_oidc_idp", "client_id": "c", "client_secret": "s", "pkce": "s256",
				"identifying_claim_name": "email", "identity_attribute": "email", "authorization_endpoint": "https://idp.example/a",
				"token_endpoint": "https://idp.example/t", "jwks_endpoint": "https://idp.example/k"})
			must(t, err)
			c, err := svc.Create(ctx, tn, r, sso.In{DisplayName: &name, Payload: raw})
			must(t, err)
			return c
		}
		f.create(t, "Wiki", map[string]any{"type": "bookmark", "login_link": "https://wiki.example/"})
		okta := idp(f.svc, "Okta")
		if got := names(f.svc); !slices.Equal(got, []string{"Okta"}) {
			t.Fatalf("providers %q, want the one generic_oidc_idp", got)
		}
		other := sso.NewService(f.st.SSO(), f.box, f.oauth, "https://id.example")
		other.Clock = f.clock.Now
		idp(other, "Entra")
		if got := names(f.svc); !slices.Equal(got, []string{"Okta"}) {
			t.Fatalf("within the TTL of its read, this node offers %q", got)
		}
		f.clock.Advance(nodecache.TTL + time.Millisecond)
		if got := names(f.svc); len(got) != 2 {
			t.Fatalf("after the TTL this node offers %q, want both", got)
		}
		must(t, f.svc.Delete(ctx, tn, r, okta.ID))
		if got := names(f.svc); !slices.Equal(got, []string{"Entra"}) {
			t.Fatalf("after this node deleted Okta it offers %q", got)
		}
	})
}
