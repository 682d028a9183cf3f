package bootstrap_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

const base = "http://localhost:8080"

// fresh returns a store of the engine bootstrapped as a first start does,
// before the console.
func fresh(t *testing.T, open func(testing.TB) *sqlstore.Store) (*sqlstore.Store, *secretbox.Box, bootstrap.Credentials) {
	st := open(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	issuer := oauth.NewService(st.OAuth(), box, nil, base).Issuer
	creds, _, err := bootstrap.Run(t.Context(), st, box, nil, issuer, base)
	if err != nil {
		t.Fatal(err)
	}
	return st, box, creds
}

func byUsername(t *testing.T, st *sqlstore.Store, realm, username string) []directory.Identity {
	found, _, err := st.ListIdentities(t.Context(), realm, latchkey.ListOptions{Limit: 10,
		Filter: &filter.Compare{Attr: "traits.username", Op: filter.Eq, Value: username}})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestEnsureConsole(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			ctx := t.Context()
			st, box, creds := fresh(t, engine.Open)
			opts := bootstrap.AdminOptions{Username: "root", Email: "root@example.com"}
			c, created, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, opts, base)
			if err != nil || !created {
				t.Fatalf("first: created %v, %v", created, err)
			}
			// The administrator, in the group, with every management scope by its role.
			admins := byUsername(t, st, creds.RealmID, "root")
			if len(admins) != 1 || admins[0].ID != c.AdminIdentityID || admins[0].Traits.PrimaryEmailAddress != "root@example.com" {
				t.Fatalf("administrator: %+v", admins)
			}
			groups, err := st.GroupsOfIdentities(ctx, []string{c.AdminIdentityID})
			if err != nil || len(groups[c.AdminIdentityID]) != 1 || groups[c.AdminIdentityID][0].DisplayName != bootstrap.AdminGroupName {
				t.Fatalf("groups: %v %v", groups, err)
			}
			scopes, err := st.ScopesOfIdentity(ctx, c.AdminIdentityID, c.ResourceServerID)
			if err != nil || !sameSet(scopes, oauth.ManagementScopes) {
				t.Fatalf("the administrator's scopes: %v %v", scopes, err)
			}
			// The console application: OIDC, PKCE, its callback, its config.
			app, _, err := st.GetApplication(ctx, c.RealmID, c.ApplicationID)
			if err != nil {
				t.Fatal(err)
			}
			pc := app.ProtocolConfig
			if !app.IsManaged || pc.Type != "oidc" || pc.PKCE != "s256" || !slices.Equal(pc.RedirectURIs, []string{base + "/console/callback"}) ||
				app.AuthenticatorConfigID != c.AuthenticatorConfigID || pc.ClientID != c.ClientID || c.ClientSecret == "" {
				t.Fatalf("console application: %+v (console %+v)", app, c)
			}
			// Only the group gets in: the seed documents' example rule.
			policies := policy.NewService(st.Policy())
			d, err := policies.Evaluate(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, c.ApplicationID)
			if err != nil || !d.Allowed || d.RuleIndex == nil {
				t.Fatalf("administrator: %+v %v", d, err)
			}
			other := directory.Identity{ID: latchkey.NewID(), TenantID: c.TenantID, RealmID: c.RealmID, DisplayName: "Eve", Status: directory.StatusActive,
				Traits: directory.Traits{Type: directory.TraitsV0, Username: "eve"}}
			if err := st.CreateIdentities(ctx, []directory.Identity{other}); err != nil {
				t.Fatal(err)
			}
			if d, err := policies.Evaluate(ctx, c.TenantID, c.RealmID, other.ID, c.ApplicationID); err != nil || d.Allowed {
				t.Fatalf("non-administrator: %+v %v", d, err)
			}

			// Later starts make nothing, and find the same console.
			again, created, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{Username: "someone-else"}, base)
			if err != nil || created || again != c {
				t.Fatalf("second: created %v, %v, %+v", created, err, again)
			}
			if n := len(byUsername(t, st, creds.RealmID, "someone-else")); n != 0 {
				t.Fatalf("a second start made %d administrators", n)
			}

			// A new public URL adds its callback and origin and keeps the old.
			if _, _, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, opts, "https://id.example.com"); err != nil {
				t.Fatal(err)
			}
			app, _, _ = st.GetApplication(ctx, c.RealmID, c.ApplicationID)
			cfg, err := st.GetAuthenticatorConfig(ctx, c.RealmID, c.AuthenticatorConfigID)
			if err != nil || !slices.Equal(app.ProtocolConfig.RedirectURIs, []string{base + "/console/callback", "https://id.example.com/console/callback"}) ||
				!slices.Equal(cfg.Config.TrustedOrigins, []string{base, "https://id.example.com"}) {
				t.Fatalf("after the URL changed: %v, %v %v", app.ProtocolConfig.RedirectURIs, cfg.Config.TrustedOrigins, err)
			}

			// Enrollment links: fresh each time; a stranger is told apart.
			passkeys := passkey.NewService(st.Passkey(), base)
			first, isAdmin, err := bootstrap.EnrollAdmin(ctx, st, passkeys, c, "")
			if err != nil || !isAdmin || !strings.HasPrefix(first, base+"/v1/tenants/"+c.TenantID+"/realms/"+c.RealmID+"/identities/"+c.AdminIdentityID+"/") {
				t.Fatalf("enroll: %q %v %v", first, isAdmin, err)
			}
			second, _, _ := bootstrap.EnrollAdmin(ctx, st, passkeys, c, "ROOT")
			if token(t, second) == token(t, first) {
				t.Fatal("two enrollments gave the same link")
			}
			if _, isAdmin, err := bootstrap.EnrollAdmin(ctx, st, passkeys, c, "eve"); err != nil || isAdmin {
				t.Fatalf("eve: %v %v", isAdmin, err)
			}
			if _, _, err := bootstrap.EnrollAdmin(ctx, st, passkeys, c, "nobody"); err == nil || !strings.Contains(err.Error(), `"nobody"`) {
				t.Fatalf("unknown username: %v", err)
			}
		})
	}
}

func token(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// TestEnsureConsoleRefusesBadAdmin: an invalid username or e-mail is an
// error at start, and nothing is made, so a corrected start succeeds.
func TestEnsureConsoleRefusesBadAdmin(t *testing.T) {
	st, box, creds := fresh(t, testenv.OpenSQLite)
	for _, o := range []bootstrap.AdminOptions{{Username: strings.Repeat("x", 65)}, {Username: "root", Email: "not-an-address"}} {
		if _, _, err := bootstrap.EnsureConsole(t.Context(), st, box, nil, creds, o, base); err == nil || !strings.Contains(err.Error(), "--admin-") {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	if _, created, err := bootstrap.EnsureConsole(t.Context(), st, box, nil, creds, bootstrap.AdminOptions{Username: "root"}, base); err != nil || !created {
		t.Fatalf("corrected: %v %v", created, err)
	}
}

// TestEnsureConsoleConcurrently: nodes starting together on one empty
// PostgreSQL database make one console.
func TestEnsureConsoleConcurrently(t *testing.T) {
	st, box, creds := fresh(t, testenv.OpenPostgres)
	var wg sync.WaitGroup
	results := make([]bootstrap.Console, 4)
	made := make([]bool, 4)
	for i := range results {
		wg.Go(func() {
			c, created, err := bootstrap.EnsureConsole(context.Background(), st, box, nil, creds, bootstrap.AdminOptions{}, base)
			if err != nil {
				t.Error(err)
			}
			results[i], made[i] = c, created
		})
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(slices.Clone(made), func(b bool) bool { return !b })); n != 1 {
		t.Fatalf("%d nodes made the console", n)
	}
	for _, c := range results[1:] {
		if c != results[0] {
			t.Fatalf("nodes disagree: %+v %+v", c, results[0])
		}
	}
	if n := len(byUsername(t, st, creds.RealmID, bootstrap.DefaultAdminUsername)); n != 1 {
		t.Fatalf("%d administrators", n)
	}
}

// TestEnsureConsoleOnOlderDatabase: a database bootstrapped before the
// console keeps its admin realm's policy after the console's rule (and an
// allow-by-default realm still keeps everyone else out of the console),
// and a username already taken there is a clear error, not a retry.
func TestEnsureConsoleOnOlderDatabase(t *testing.T) {
	ctx := t.Context()
	st, box, creds := fresh(t, testenv.OpenSQLite)
	taken := directory.Identity{ID: latchkey.NewID(), TenantID: creds.TenantID, RealmID: creds.RealmID, DisplayName: "Admin", Status: directory.StatusActive,
		Traits: directory.Traits{Type: directory.TraitsV0, Username: "admin"}}
	if err := st.CreateIdentities(ctx, []directory.Identity{taken}); err != nil {
		t.Fatal(err)
	}
	earlier := policy.Rule{Effect: policy.Deny, Applications: []string{creds.ApplicationID}, Identities: []string{taken.ID}, Groups: []string{}, Description: "earlier"}
	if err := st.PutPolicy(ctx, policy.Policy{TenantID: creds.TenantID, RealmID: creds.RealmID, DefaultEffect: policy.Allow, Rules: []policy.Rule{earlier}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{}, base); err == nil || !strings.Contains(err.Error(), "choose another --admin-username") {
		t.Fatalf("taken username: %v", err)
	}
	c, created, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{Username: "root"}, base)
	if err != nil || !created {
		t.Fatalf("another username: %v %v", created, err)
	}
	p, err := st.GetPolicy(ctx, c.RealmID)
	if err != nil || len(p.Rules) != 3 || p.Rules[2].Description != "earlier" || p.DefaultEffect != policy.Allow {
		t.Fatalf("policy: %+v %v", p, err)
	}
	policies := policy.NewService(st.Policy())
	for id, want := range map[string]bool{c.AdminIdentityID: true, taken.ID: false} {
		if d, err := policies.Evaluate(ctx, c.TenantID, c.RealmID, id, c.ApplicationID); err != nil || d.Allowed != want {
			t.Errorf("console for %s: %+v %v, want allowed %v", id, d, err, want)
		}
	}
}

// TestNewScopesReachAdministrators: a database made before a management
// scope existed (applications:secrets:read) gets it on the next start, where
// every scope was meant: the managed resource server, the management and
// console applications, the administrators' role.
func TestNewScopesReachAdministrators(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			ctx := t.Context()
			st, box, creds := fresh(t, engine.Open)
			c, _, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{}, base)
			if err != nil {
				t.Fatal(err)
			}
			// As an older version made it: without the scope.
			err = st.Update(ctx, func(tx store.Tx) error {
				rs, err := tx.GetResourceServer(ctx, c.RealmID, c.ResourceServerID)
				if err != nil {
					return err
				}
				rs.Scopes = slices.DeleteFunc(rs.Scopes, func(s string) bool { return s == oauth.SecretsScope })
				if err := tx.UpdateResourceServer(ctx, rs); err != nil {
					return err
				}
				return tx.RemoveScopesFromRoles(ctx, rs.ID, []string{oauth.SecretsScope})
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.RemoveScopesFromApplications(ctx, c.ResourceServerID, []string{oauth.SecretsScope}); err != nil {
				t.Fatal(err)
			}
			if scopes, _ := st.ScopesOfIdentity(ctx, c.AdminIdentityID, c.ResourceServerID); slices.Contains(scopes, oauth.SecretsScope) {
				t.Fatal("the scope was not taken away")
			}
			if _, _, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{}, base); err != nil {
				t.Fatal(err)
			}
			rs, err := st.GetResourceServer(ctx, c.RealmID, c.ResourceServerID)
			if err != nil || !sameSet(rs.Scopes, oauth.ManagementScopes) {
				t.Errorf("resource server: %v %v", rs.Scopes, err)
			}
			for _, id := range []string{creds.ApplicationID, c.ApplicationID} {
				app, _, err := st.GetApplication(ctx, c.RealmID, id)
				if err != nil || !sameSet(app.ProtocolConfig.AllowedScopes, oauth.ManagementScopes) {
					t.Errorf("application %s: %v %v", id, app.ProtocolConfig.AllowedScopes, err)
				}
			}
			if scopes, err := st.ScopesOfIdentity(ctx, c.AdminIdentityID, c.ResourceServerID); err != nil || !sameSet(scopes, oauth.ManagementScopes) {
				t.Errorf("the administrator: %v %v", scopes, err)
			}
		})
	}
}
