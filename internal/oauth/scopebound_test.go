package oauth_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// bounded is a bootstrapped database: the management application and
// resource server, the console's administrators' role, and an identity
// without roles.
type bounded struct {
	st      *sqlstore.Store
	box     *secretbox.Box
	svc     *oauth.Service
	creds   bootstrap.Credentials
	console bootstrap.Console
	roleID  string // the administrators' role: every management scope
	plainID string // an identity without roles
}

func newBounded(t *testing.T, open func(testing.TB) *sqlstore.Store) bounded {
	t.Helper()
	ctx := t.Context()
	st := open(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	svc := oauth.NewService(st.OAuth(), box, policy.NewService(st.Policy()), "http://localhost")
	creds, _, err := bootstrap.Run(ctx, st, box, nil, svc.Issuer, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, _, err := bootstrap.EnsureConsole(ctx, st, box, nil, creds, bootstrap.AdminOptions{}, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	roles, _, err := svc.ListRolesOfGroup(ctx, c.TenantID, c.RealmID, c.GroupID, c.ResourceServerID, latchkey.ListOptions{Limit: 10})
	if err != nil || len(roles) != 1 {
		t.Fatalf("the administrators' role: %v %v", roles, err)
	}
	plain, err := directory.NewService(st.Directory()).CreateIdentity(ctx, c.TenantID, c.RealmID, directory.Identity{DisplayName: "Mallory",
		Traits: directory.Traits{Type: directory.TraitsV0, Username: "mallory"}})
	if err != nil {
		t.Fatal(err)
	}
	return bounded{st: st, box: box, svc: svc, creds: creds, console: c, roleID: roles[0].ID, plainID: plain.ID}
}

// as is a context whose actor holds scopes.
func as(ctx context.Context, scopes ...string) context.Context {
	return latchkey.WithActor(ctx, latchkey.Actor{Type: "application", ID: "attacker", Scopes: scopes})
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if latchkey.ErrorCode(err) != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

// ccApp is a client-credentials application of the management API with scopes.
func (b bounded) ccApp(scopes ...string) oauth.Application {
	return oauth.Application{DisplayName: "CI", ResourceServerID: b.console.ResourceServerID, ProtocolConfig: oauth.ProtocolConfig{
		Type: "oauth2", GrantType: []string{"client_credentials"}, AllowedScopes: scopes,
		TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600}}}
}

func TestWritersGrantOnlyTheirScopes(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			b := newBounded(t, eng.Open)
			ctx := t.Context()
			tenant, realm := b.creds.TenantID, b.creds.RealmID

			// Applications: created and changed only within the writer's scopes.
			_, err := b.svc.CreateApplication(as(ctx, "applications:create"), tenant, realm, b.ccApp("identities:read"))
			wantCode(t, "create beyond", err, latchkey.CodeForbidden)
			weak, err := b.svc.CreateApplication(as(ctx, "applications:create"), tenant, realm, b.ccApp("applications:create"))
			if err != nil || weak.ProtocolConfig.ClientSecret == "" {
				t.Fatalf("create within: %+v %v", weak, err)
			}
			strong, err := b.svc.CreateApplication(ctx, tenant, realm, b.ccApp(oauth.ManagementScopes...)) // by the system
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.svc.UpdateApplication(as(ctx, "applications:update", "applications:create"), tenant, realm, weak.ID, func(a *oauth.Application) error {
				a.ProtocolConfig.AllowedScopes = append(a.ProtocolConfig.AllowedScopes, "roles:update")
				return nil
			})
			wantCode(t, "widen", err, latchkey.CodeForbidden)
			_, err = b.svc.UpdateApplication(as(ctx, "applications:update"), tenant, realm, strong.ID, func(a *oauth.Application) error {
				a.DisplayName = "mine now"
				return nil
			})
			wantCode(t, "change a stronger application", err, latchkey.CodeForbidden)
			_, err = b.svc.RegenerateSecret(as(ctx, "applications:update"), tenant, realm, strong.ID)
			wantCode(t, "rekey a stronger application", err, latchkey.CodeForbidden)
			_, err = b.svc.RegenerateSecret(as(ctx, oauth.ManagementScopes...), tenant, realm, b.creds.ApplicationID)
			wantCode(t, "rekey the managed application", err, latchkey.CodeConflict)
			renamed, err := b.svc.UpdateApplication(as(ctx, "applications:update", "applications:create"), tenant, realm, weak.ID, func(a *oauth.Application) error {
				a.DisplayName = "CI 2"
				return nil
			})
			if err != nil || renamed.ProtocolConfig.ClientSecret != "" {
				t.Errorf("an update by a writer without %s: %+v %v", oauth.SecretsScope, renamed, err)
			}

			// Secrets: only with applications:secrets:read and the application's
			// scopes; never the managed application's through the API's reads.
			secret := func(ctx context.Context, id string) string {
				t.Helper()
				a, err := b.svc.GetApplication(ctx, tenant, realm, id)
				if err != nil {
					t.Fatal(err)
				}
				apps, _, err := b.svc.ListApplications(ctx, tenant, realm, latchkey.ListOptions{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range apps {
					if l.ID == id && l.ProtocolConfig.ClientSecret != a.ProtocolConfig.ClientSecret {
						t.Errorf("the list and the application disagree on the secret of %s", id)
					}
				}
				return a.ProtocolConfig.ClientSecret
			}
			all := as(ctx, oauth.ManagementScopes...)
			if s := secret(all, b.creds.ApplicationID); s != "" {
				t.Error("the managed application's secret is returned")
			}
			if s := secret(as(ctx, "applications:read"), weak.ID); s != "" {
				t.Error("a secret is returned without " + oauth.SecretsScope)
			}
			if s := secret(as(ctx, "applications:read", oauth.SecretsScope), strong.ID); s != "" {
				t.Error("a stronger application's secret is returned")
			}
			if s := secret(as(ctx, "applications:read", oauth.SecretsScope, "applications:create"), weak.ID); s != weak.ProtocolConfig.ClientSecret {
				t.Errorf("the secret of an application within the reader's scopes: %q", s)
			}
			if a, err := b.svc.RevealSecret(all, tenant, realm, b.creds.ApplicationID); err != nil || a.ProtocolConfig.ClientSecret != b.creds.ClientSecret {
				t.Errorf("a full administrator reveals the managed secret: %v", err)
			}
			_, err = b.svc.RevealSecret(as(ctx, oauth.ManagementScopes[1:]...), tenant, realm, b.creds.ApplicationID)
			wantCode(t, "reveal without every scope", err, latchkey.CodeForbidden)

			// Only the system regenerates the managed secret.
			a, err := b.svc.RegenerateSecret(ctx, tenant, realm, b.creds.ApplicationID)
			if err != nil || a.ProtocolConfig.ClientSecret == "" || a.ProtocolConfig.ClientSecret == b.creds.ClientSecret || !a.IsManaged {
				t.Errorf("the system regenerates the managed secret: %+v %v", a, err)
			}

			// Roles: scopes and members only within the writer's scopes.
			rs, c := b.console.ResourceServerID, b.console
			role, err := b.svc.CreateRole(as(ctx, "roles:create"), tenant, realm, rs, oauth.Role{DisplayName: "Helpdesk"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.svc.AddRoleScopes(as(ctx, "roles:update"), tenant, realm, rs, role.ID, []string{"roles:update", "tenants:update"})
			wantCode(t, "add scopes beyond", err, latchkey.CodeForbidden)
			if _, err := b.svc.AddRoleScopes(as(ctx, "roles:update"), tenant, realm, rs, role.ID, []string{"roles:update"}); err != nil {
				t.Errorf("add scopes within: %v", err)
			}
			_, err = b.svc.AddRoleMembers(as(ctx, "roles:update"), tenant, realm, rs, b.roleID, nil, []string{b.plainID})
			wantCode(t, "join the administrators' role", err, latchkey.CodeForbidden)
			if _, err := b.svc.AddRoleMembers(as(ctx, "roles:update"), tenant, realm, rs, role.ID, nil, []string{b.plainID}); err != nil {
				t.Errorf("give a role within: %v", err)
			}
			if _, err := b.svc.AddRoleMembers(all, tenant, realm, rs, b.roleID, []string{c.GroupID}, nil); err != nil {
				t.Errorf("an administrator gives the administrators' role: %v", err)
			}

			// Tokens minted by hand: only the minter's scopes.
			req := oauth.TokenRequest{TenantID: tenant, RealmID: realm, ApplicationID: b.creds.ApplicationID, Scope: "tokens:read identities:read"}
			_, err = b.svc.IssueToken(as(ctx, "tokens:read"), req)
			if oe, ok := err.(*oauth.Error); !ok || oe.Code != "invalid_scope" || !strings.Contains(oe.Description, "identities:read") {
				t.Errorf("issue beyond: %v", err)
			}
			tok, err := b.svc.IssueToken(as(ctx, "tokens:read", "identities:read"), req)
			if err != nil {
				t.Fatal(err)
			}
			p, err := b.svc.Verify(ctx, tok.AccessToken)
			if err != nil || !slices.Equal(p.Scopes, []string{"tokens:read", "identities:read"}) {
				t.Errorf("issued within: %+v %v", p, err)
			}
		})
	}
}
