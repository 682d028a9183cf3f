package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store"
)

// Console is what the admin console needs to sign administrators in: its
// OIDC application in the admin realm, and what bootstrap made around it.
type Console struct {
	TenantID              string `json:"tenant_id"`
	RealmID               string `json:"realm_id"`
	ApplicationID         string `json:"application_id"`
	ClientID              string `json:"-"`
	ClientSecret          string `json:"-"`
	GroupID               string `json:"group_id"`
	AdminIdentityID       string `json:"admin_identity_id"`
	AuthenticatorConfigID string `json:"authenticator_config_id"`
	ResourceServerID      string `json:"resource_server_id"`
}

// AdminOptions name the first administrator.
type AdminOptions struct{ Username, Email string }

// DefaultAdminUsername is the first administrator's username when none is given.
const DefaultAdminUsername = "admin"

// Names of what the console bootstrap makes; the policy rule is the seed
// documents' own example.
const (
	AdminGroupName  = "Latchkey Administrators"
	ConsoleAppName  = "Latchkey Admin Console"
	adminRoleName   = "Latchkey Administrator"
	settingConsole  = "console"
	consoleLifetime = 8 * time.Hour
	consoleCallback = "/console/callback"
)

// EnsureConsole makes the admin console's sign-in on a database that lacks
// it (a new one, or one bootstrapped before the console existed), exactly
// once however many nodes start together: the first administrator in the
// group "Latchkey Administrators", a role of that group holding every
// management scope, a hosted authenticator config, the console's OIDC
// application and the admin realm's policy that lets only the group in,
// dated by clock.
// On every start it adds the public URL's callback and origin, should the
// URL have changed. created reports whether this call made the console.
func EnsureConsole(ctx context.Context, st store.Store, box *secretbox.Box, clock latchkey.Clock, creds Credentials, o AdminOptions, publicURL string) (c Console, created bool, err error) {
	if o.Username == "" {
		o.Username = DefaultAdminUsername
	}
	admin := directory.Identity{ID: latchkey.NewID(), TenantID: creds.TenantID, RealmID: creds.RealmID, DisplayName: o.Username,
		Status: directory.StatusActive, EnrollmentStatus: directory.Unenrolled,
		Traits: directory.Traits{Type: directory.TraitsV0, Username: o.Username, PrimaryEmailAddress: o.Email}}
	if err := directory.ValidateIdentity(admin); err != nil {
		return Console{}, false, fmt.Errorf("--admin-username/--admin-email: %w", err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		raw, err := tx.GetSetting(ctx, settingConsole)
		if err == nil {
			if err := json.Unmarshal([]byte(raw), &c); err != nil {
				return err
			}
			return grantNewScopes(ctx, tx, creds, c, clock.Now())
		}
		if !errors.Is(err, latchkey.ErrNotFound) {
			return err
		}
		rs, err := managementServer(ctx, tx, creds)
		if err != nil {
			return err
		}
		c = Console{TenantID: creds.TenantID, RealmID: creds.RealmID, ApplicationID: latchkey.NewUUID(), GroupID: latchkey.NewID(),
			AdminIdentityID: admin.ID, AuthenticatorConfigID: latchkey.NewUUID(), ResourceServerID: rs}
		b, _ := json.Marshal(c)
		// Written first, as in Run: a concurrent node waits here, then fails
		// and rolls back what it made.
		if err := tx.CreateSetting(ctx, settingConsole, string(b)); errors.Is(err, latchkey.ErrDuplicate) {
			return errConsoleRace
		} else if err != nil {
			return err
		}
		created = true
		return createConsole(ctx, tx, box, c, admin, publicURL, clock.Now())
	})
	if errors.Is(err, errConsoleRace) {
		return EnsureConsole(ctx, st, box, clock, creds, o, publicURL)
	}
	if err != nil {
		return Console{}, false, err
	}
	if err := followPublicURL(ctx, st, c, publicURL, clock); err != nil {
		return Console{}, false, err
	}
	c, err = ReadConsole(ctx, st, box)
	return c, created, err
}

// ReadConsole returns the console that EnsureConsole made, with its
// client secret; latchkey.ErrNotFound before any did.
func ReadConsole(ctx context.Context, st store.Store, box *secretbox.Box) (Console, error) {
	var c Console
	raw, err := st.GetSetting(ctx, settingConsole)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, err
	}
	app, sealed, err := st.GetApplication(ctx, c.RealmID, c.ApplicationID)
	if err != nil {
		return c, fmt.Errorf("console application: %w", err)
	}
	secret, err := box.Open(sealed)
	if err != nil {
		return c, err
	}
	c.ClientID, c.ClientSecret = app.ProtocolConfig.ClientID, string(secret)
	return c, nil
}

// errConsoleRace is another node making the console at the same time.
var errConsoleRace = errors.New("the console is being made by another node")

// managementServer is the id of the admin realm's management API resource server.
func managementServer(ctx context.Context, tx store.Tx, creds Credentials) (string, error) {
	app, _, err := tx.GetApplication(ctx, creds.RealmID, creds.ApplicationID)
	if err != nil {
		return "", fmt.Errorf("management application: %w", err)
	}
	return app.ResourceServerID, nil
}

// grantNewScopes gives the management scopes added since the database was
// made (applications:secrets:read, sessions:*, webhooks:*) to what holds every one of them: the
// managed resource server, the management and console applications and the
// administrators' role (if it kept its name). A current database is left
// as it is.
func grantNewScopes(ctx context.Context, tx store.Tx, creds Credentials, c Console, now time.Time) error {
	rs, err := tx.GetResourceServer(ctx, c.RealmID, c.ResourceServerID)
	if err != nil {
		return err
	}
	missing := slices.DeleteFunc(slices.Clone(oauth.ManagementScopes), func(s string) bool { return slices.Contains(rs.Scopes, s) })
	if len(missing) == 0 {
		return nil
	}
	rs.Scopes = append(rs.Scopes, missing...)
	if err := tx.UpdateResourceServer(ctx, rs); err != nil {
		return err
	}
	events := []audit.Event{audit.NewAt(ctx, now, c.TenantID, c.RealmID, "resource_server.update", "ResourceServer", rs.ID)}
	for _, id := range []string{creds.ApplicationID, c.ApplicationID} {
		app, sealed, err := tx.GetApplication(ctx, c.RealmID, id)
		if err != nil {
			return err
		}
		pc := &app.ProtocolConfig
		pc.AllowedScopes = append(pc.AllowedScopes, slices.DeleteFunc(slices.Clone(missing), func(s string) bool { return slices.Contains(pc.AllowedScopes, s) })...)
		if err := tx.UpdateApplication(ctx, app, sealed); err != nil {
			return err
		}
		events = append(events, audit.NewAt(ctx, now, c.TenantID, c.RealmID, "application.update", "Application", id))
	}
	roles, _, err := tx.ListRolesOfGroup(ctx, c.GroupID, c.ResourceServerID, latchkey.ListOptions{Limit: 100, SkipTotal: true})
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.DisplayName == adminRoleName {
			if err := tx.AddRoleScopes(ctx, r.ID, missing); err != nil {
				return err
			}
			events = append(events, audit.NewAt(ctx, now, c.TenantID, c.RealmID, "role.add_scopes", "Role", r.ID))
		}
	}
	for _, e := range events {
		if err := tx.RecordEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func createConsole(ctx context.Context, tx store.Tx, box *secretbox.Box, c Console, admin directory.Identity, publicURL string, now time.Time) error {
	admin.CreateTime, admin.UpdateTime = now, now
	base := strings.TrimRight(publicURL, "/")
	roleID := latchkey.NewID()
	steps := []struct {
		run              func() error
		action, kind, id string
	}{
		{func() error {
			return taken(tx.CreateIdentities(ctx, []directory.Identity{admin}), "an identity with username "+admin.Traits.Username+": choose another --admin-username")
		}, "identity.create", "Identity", admin.ID},
		{func() error {
			g := directory.Group{ID: c.GroupID, TenantID: c.TenantID, RealmID: c.RealmID, DisplayName: AdminGroupName,
				Description: "May sign in to the Latchkey admin console and use every management scope.", CreateTime: now, UpdateTime: now}
			if err := tx.CreateGroup(ctx, g); err != nil {
				return taken(err, "a group named "+AdminGroupName+": rename it")
			}
			return tx.AddMembers(ctx, g.ID, []string{admin.ID})
		}, "group.create", "Group", c.GroupID},
		{func() error {
			r := oauth.Role{ID: roleID, ResourceServerID: c.ResourceServerID, TenantID: c.TenantID, RealmID: c.RealmID,
				DisplayName: adminRoleName, Description: "Every scope of the management API.", CreateTime: now, UpdateTime: now}
			if err := tx.CreateRole(ctx, r); err != nil {
				return err
			}
			if err := tx.AddRoleScopes(ctx, r.ID, oauth.ManagementScopes); err != nil {
				return err
			}
			return tx.AddRoleMembers(ctx, r.ID, []string{c.GroupID}, nil)
		}, "role.create", "Role", roleID},
		{func() error {
			return tx.CreateAuthenticatorConfig(ctx, passkey.AuthenticatorConfig{ID: c.AuthenticatorConfigID, TenantID: c.TenantID, RealmID: c.RealmID,
				DisplayName: ConsoleAppName, CreateTime: now, UpdateTime: now, Config: passkey.Config{Type: passkey.HostedWeb,
					TrustedOrigins: []string{originOf(base)}, AuthenticationMethods: []passkey.Method{{Type: passkey.WebAuthnPasskey}}}})
		}, "authenticator_config.create", "AuthenticatorConfig", c.AuthenticatorConfigID},
		{func() error {
			return tx.CreateApplication(ctx, oauth.Application{
				ID: c.ApplicationID, RealmID: c.RealmID, TenantID: c.TenantID, ResourceServerID: c.ResourceServerID,
				AuthenticatorConfigID: c.AuthenticatorConfigID, DisplayName: ConsoleAppName, IsManaged: true, Classification: "admin_console",
				ProtocolConfig: oauth.ProtocolConfig{
					Type: "oidc", AllowedScopes: oauth.ManagementScopes, ClientID: latchkey.RandomString(24),
					Confidentiality: "confidential", TokenEndpointAuthMethod: "client_secret_basic",
					GrantType: []string{"authorization_code"}, RedirectURIs: []string{base + consoleCallback},
					TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: int(consoleLifetime.Seconds()),
						TokenSigningAlgorithm: "RS256", SubjectField: "id"},
					PKCE: "s256", TokenFormat: "self_contained",
				},
				CreateTime: now, UpdateTime: now,
			}, box.Seal([]byte(latchkey.RandomString(48))))
		}, "application.create", "Application", c.ApplicationID},
		{func() error {
			p, err := consolePolicy(ctx, tx, c, now)
			if err != nil {
				return err
			}
			return tx.PutPolicy(ctx, p)
		}, "policy.update", "Policy", c.RealmID},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return err
		}
		if err := tx.RecordEvent(ctx, audit.NewAt(ctx, now, c.TenantID, c.RealmID, s.action, s.kind, s.id)); err != nil {
			return err
		}
	}
	return nil
}

// consolePolicy is the admin realm's policy with the console's rule first:
// a new realm's has it alone, with default deny; an older realm keeps its
// rules after it, and, should its default be allow, a rule that denies the
// console to everyone else.
func consolePolicy(ctx context.Context, tx store.Tx, c Console, now time.Time) (policy.Policy, error) {
	p, err := tx.GetPolicy(ctx, c.RealmID)
	if errors.Is(err, latchkey.ErrNotFound) {
		p, err = policy.Policy{TenantID: c.TenantID, RealmID: c.RealmID, DefaultEffect: policy.Deny}, nil
	}
	if err != nil {
		return p, err
	}
	rules := []policy.Rule{{Effect: policy.Allow, Applications: []string{c.ApplicationID}, Groups: []string{c.GroupID},
		Identities: []string{}, Description: "allow group " + AdminGroupName + " to access " + ConsoleAppName}}
	if p.DefaultEffect == policy.Allow {
		rules = append(rules, policy.Rule{Effect: policy.Deny, Applications: []string{c.ApplicationID}, Groups: []string{},
			Identities: []string{}, Description: "only " + AdminGroupName + " may access " + ConsoleAppName})
	}
	p.Rules, p.UpdateTime = append(rules, p.Rules...), now
	return p, nil
}

// taken turns a unique name that an older admin realm already uses into
// an error that says what to do (and that no retry can cure).
func taken(err error, what string) error {
	if errors.Is(err, latchkey.ErrDuplicate) {
		return fmt.Errorf("the admin realm already has %s", what)
	}
	return err
}

// followPublicURL adds the public URL's callback to the console
// application and its origin to the console's authenticator config when
// they lack them, keeping the old ones (other nodes may still use them).
func followPublicURL(ctx context.Context, st store.Store, c Console, publicURL string, clock latchkey.Clock) error {
	base := strings.TrimRight(publicURL, "/")
	return st.Update(ctx, func(tx store.Tx) error {
		app, sealed, err := tx.GetApplication(ctx, c.RealmID, c.ApplicationID)
		if err != nil {
			return fmt.Errorf("console application: %w", err)
		}
		if cb := base + consoleCallback; !slices.Contains(app.ProtocolConfig.RedirectURIs, cb) {
			app.ProtocolConfig.RedirectURIs = append(app.ProtocolConfig.RedirectURIs, cb)
			app.UpdateTime = clock.Now()
			if err := tx.UpdateApplication(ctx, app, sealed); err != nil {
				return err
			}
		}
		cfg, err := tx.GetAuthenticatorConfig(ctx, c.RealmID, c.AuthenticatorConfigID)
		if errors.Is(err, latchkey.ErrNotFound) {
			return nil // an administrator deleted it; the console then signs in on the hosted page without one
		}
		if err != nil {
			return err
		}
		if o := originOf(base); !slices.Contains(cfg.Config.TrustedOrigins, o) {
			cfg.Config.TrustedOrigins = append(cfg.Config.TrustedOrigins, o)
			cfg.UpdateTime = clock.Now()
			return tx.UpdateAuthenticatorConfig(ctx, cfg)
		}
		return nil
	})
}

func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}

// EnrollAdmin returns a fresh one-time link with which an identity of the
// admin realm (the first administrator when username is empty) binds a
// passkey for the console, and whether the identity is an administrator:
// anyone else binds, but policy keeps them out of the console.
func EnrollAdmin(ctx context.Context, st store.Store, passkeys *passkey.Service, c Console, username string) (link string, isAdmin bool, err error) {
	id := c.AdminIdentityID
	if username != "" {
		found, _, err := st.ListIdentities(ctx, c.RealmID, latchkey.ListOptions{Limit: 1, SkipTotal: true,
			Filter: &filter.Compare{Attr: "traits.username", Op: filter.Eq, Value: username}})
		if err != nil {
			return "", false, err
		}
		if len(found) == 0 {
			return "", false, fmt.Errorf("the admin realm has no identity with username %q", username)
		}
		id = found[0].ID
	}
	_, link, err = passkeys.CreateBindingJob(ctx, c.TenantID, c.RealmID, id, passkey.JobRequest{
		DeliveryMethod: passkey.Return, AuthenticatorConfigID: c.AuthenticatorConfigID})
	if err != nil {
		return "", false, err
	}
	groups, err := st.GroupsOfIdentities(ctx, []string{id})
	if err != nil {
		return "", false, err
	}
	isAdmin = slices.ContainsFunc(groups[id], func(g directory.Group) bool { return g.ID == c.GroupID })
	return link, isAdmin, nil
}
