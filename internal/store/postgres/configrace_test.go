package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// pause holds a transaction open after its work is done until resume is
// closed, so that a test can run another transaction against its
// uncommitted rows and locks.
type pause struct{ done, resume chan struct{} }

func newPause() pause { return pause{done: make(chan struct{}), resume: make(chan struct{})} }

// hold is the end of a paused transaction whose work returned err.
func (p pause) hold(err error) error {
	if err != nil {
		return err
	}
	close(p.done)
	<-p.resume
	return nil
}

type pausedPasskeys struct {
	passkey.Store
	pause
}

func (s pausedPasskeys) Update(ctx context.Context, fn func(passkey.Tx) error) error {
	return s.Store.Update(ctx, func(tx passkey.Tx) error { return s.hold(fn(tx)) })
}

type pausedOAuth struct {
	oauth.Store
	pause
}

func (s pausedOAuth) Update(ctx context.Context, fn func(oauth.Tx) error) error {
	return s.Store.Update(ctx, func(tx oauth.Tx) error { return s.hold(fn(tx)) })
}

// TestDeleteConfigWaitsForReference deletes an authenticator config while
// a job or an application that references it is created but not yet
// committed: the delete must wait for it and then refuse, instead of seeing
// no reference and leaving one to a config that is gone.
func TestDeleteConfigWaitsForReference(t *testing.T) {
	box, err := secretbox.New(secretbox.NewKey())
	must(t, err)
	references := []struct {
		name   string
		create func(ctx context.Context, s *sqlstore.Store, p pause, ident directory.Identity, configID string) error
	}{
		{"job", func(ctx context.Context, s *sqlstore.Store, p pause, ident directory.Identity, configID string) error {
			_, _, err := passkey.NewService(pausedPasskeys{s.Passkey(), p}, "https://latchkey.test").CreateBindingJob(ctx,
				ident.TenantID, ident.RealmID, ident.ID, passkey.JobRequest{DeliveryMethod: passkey.Return, AuthenticatorConfigID: configID})
			return err
		}},
		{"application", func(ctx context.Context, s *sqlstore.Store, p pause, ident directory.Identity, configID string) error {
			_, err := oauth.NewService(pausedOAuth{s.OAuth(), p}, box, nil, "https://latchkey.test").CreateApplication(ctx,
				ident.TenantID, ident.RealmID, oauth.Application{DisplayName: "App", AuthenticatorConfigID: configID,
					ProtocolConfig: oauth.ProtocolConfig{Type: "oidc", GrantType: []string{"authorization_code"}, RedirectURIs: []string{"https://app.test/callback"},
						TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600}}})
			return err
		}},
	}
	for _, ref := range references {
		t.Run(ref.name, func(t *testing.T) {
			ctx := t.Context()
			dsn := testenv.PostgresDSN(t)
			s := open(t, dsn)
			must(t, s.Migrate(ctx))
			now := time.Now().UTC()
			tenant := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
			realm := directory.Realm{ID: latchkey.NewID(), TenantID: tenant.ID, DisplayName: "R",
				Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
			ident := directory.Identity{ID: latchkey.NewID(), RealmID: realm.ID, TenantID: tenant.ID, DisplayName: "Ada",
				Status: directory.StatusActive, EnrollmentStatus: directory.Unenrolled,
				Traits: directory.Traits{Type: directory.TraitsV0, Username: "ada"}, CreateTime: now, UpdateTime: now}
			must(t, s.CreateTenant(ctx, tenant))
			must(t, s.CreateRealm(ctx, realm))
			must(t, s.CreateIdentities(ctx, []directory.Identity{ident}))
			service := passkey.NewService(s.Passkey(), "https://latchkey.test")
			config, err := service.CreateAuthenticatorConfig(ctx, tenant.ID, realm.ID, passkey.AuthenticatorConfig{DisplayName: "Hosted",
				Config: passkey.Config{Type: passkey.HostedWeb, AuthenticationMethods: []passkey.Method{{Type: passkey.WebAuthnPasskey}}}})
			must(t, err)

			p := newPause()
			created := make(chan error, 1)
			go func() { created <- ref.create(ctx, s, p, ident, config.ID) }()
			select {
			case <-p.done:
			case err := <-created:
				t.Fatalf("creating the %s: %v", ref.name, err)
			}
			deleted := make(chan error, 1)
			go func() { deleted <- service.DeleteAuthenticatorConfig(ctx, tenant.ID, realm.ID, config.ID) }()
			select {
			case err := <-deleted:
				close(p.resume)
				t.Fatalf("the delete did not wait for the uncommitted %s: %v", ref.name, err)
			case <-lockWaiter(t, dsn):
			}
			close(p.resume)
			must(t, <-created)
			if err := <-deleted; latchkey.ErrorCode(err) != latchkey.CodeConflict {
				t.Errorf("delete after the %s committed: %v, want a conflict", ref.name, err)
			}
			if _, err := service.GetAuthenticatorConfig(ctx, tenant.ID, realm.ID, config.ID); err != nil {
				t.Errorf("the %s's config: %v", ref.name, err)
			}
		})
	}
}

// lockWaiter is closed once a session of the test's database waits for a
// row lock.
func lockWaiter(t *testing.T, dsn string) <-chan struct{} {
	db, err := sql.Open("pgx", dsn)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	waiting := make(chan struct{})
	go func() {
		for {
			var n int
			err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
			if err != nil || n > 0 {
				close(waiting)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return waiting
}
