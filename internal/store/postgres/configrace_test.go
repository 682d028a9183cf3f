package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/testenv"
)

// pausedStore holds every transaction open after its work is done until
// resume is closed, so that a test can run another transaction against its
// uncommitted rows and locks.
type pausedStore struct {
	passkey.Store
	done, resume chan struct{}
}

func (s pausedStore) Update(ctx context.Context, fn func(passkey.Tx) error) error {
	return s.Store.Update(ctx, func(tx passkey.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		close(s.done)
		<-s.resume
		return nil
	})
}

// TestDeleteConfigWaitsForJobCreate deletes an authenticator config while
// a job that references it is created but not yet committed: the delete
// must wait for the job and then refuse, instead of seeing no job and
// leaving the job with a config that is gone.
func TestDeleteConfigWaitsForJobCreate(t *testing.T) {
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

	paused := pausedStore{Store: s.Passkey(), done: make(chan struct{}), resume: make(chan struct{})}
	created := make(chan error, 1)
	go func() {
		_, _, err := passkey.NewService(paused, service.BaseURL).CreateBindingJob(ctx, tenant.ID, realm.ID, ident.ID,
			passkey.JobRequest{DeliveryMethod: passkey.Return, AuthenticatorConfigID: config.ID})
		created <- err
	}()
	select {
	case <-paused.done:
	case err := <-created:
		t.Fatalf("creating the job: %v", err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- service.DeleteAuthenticatorConfig(ctx, tenant.ID, realm.ID, config.ID) }()

	select {
	case err := <-deleted:
		close(paused.resume)
		t.Fatalf("the delete did not wait for the uncommitted job: %v", err)
	case <-lockWaiter(t, dsn):
	}
	close(paused.resume)
	must(t, <-created)
	if err := <-deleted; latchkey.ErrorCode(err) != latchkey.CodeConflict {
		t.Errorf("delete after the job committed: %v, want a conflict", err)
	}
	if _, err := service.GetAuthenticatorConfig(ctx, tenant.ID, realm.ID, config.ID); err != nil {
		t.Errorf("the job's config: %v", err)
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
