package passkey_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// enrolling is a bootstrapped database whose first administrator (with an
// e-mail address) may be sent binding links, and a passkey service on a
// clock the test moves.
type enrolling struct {
	st      *sqlstore.Store
	svc     *passkey.Service
	clock   *testenv.Clock
	console bootstrap.Console
}

func newEnrolling(t *testing.T, open func(testing.TB) *sqlstore.Store) enrolling {
	t.Helper()
	ctx := t.Context()
	e := enrolling{st: open(t), clock: testenv.NewClock()}
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	issuer := func(tenantID, realmID, appID string) string { return "http://localhost" }
	creds, _, err := bootstrap.Run(ctx, e.st, box, e.clock.Now, issuer, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	if e.console, _, err = bootstrap.EnsureConsole(ctx, e.st, box, e.clock.Now, creds,
		bootstrap.AdminOptions{Email: "admin@example.com"}, "http://localhost"); err != nil {
		t.Fatal(err)
	}
	e.svc = passkey.NewService(e.st.Passkey(), "http://localhost")
	e.svc.Clock = e.clock.Now
	return e
}

// TestBindingLinkExpiry moves the clock to a link's last instant, when it
// still opens, and to its expiry, when it no longer does and the sweep
// records it expired.
func TestBindingLinkExpiry(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnrolling(t, eng.Open)
			ctx, c := t.Context(), e.console
			j, link, err := e.svc.CreateBindingJob(ctx, c.TenantID, c.RealmID, c.AdminIdentityID,
				passkey.JobRequest{DeliveryMethod: passkey.Return, AuthenticatorConfigID: c.AuthenticatorConfigID})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(link)
			if err != nil {
				t.Fatal(err)
			}
			openLink := func() error {
				_, err := e.svc.Advance(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, j.ID, u.Query().Get("token"), passkey.LinkOpened)
				return err
			}
			e.clock.Advance(passkey.DefaultLinkTTL - time.Microsecond)
			if err := openLink(); err != nil {
				t.Errorf("a link at its last instant: %v", err)
			}
			e.clock.Advance(time.Microsecond)
			if err := openLink(); latchkey.ErrorCode(err) != latchkey.CodeGone {
				t.Errorf("an expired link: %v, want gone", err)
			}
			if got, err := e.svc.GetBindingJob(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, j.ID); err != nil || got.State != passkey.Expired {
				t.Errorf("the job of an expired link: %s, %v", got.State, err)
			}
			if _, err := e.svc.RevokeBindingJob(ctx, c.TenantID, c.RealmID, c.AdminIdentityID, j.ID); latchkey.ErrorCode(err) != latchkey.CodeConflict {
				t.Errorf("revoking an expired job: %v", err)
			}
			if n, err := e.svc.ExpireBindingJobs(ctx); err != nil || n != 1 {
				t.Errorf("the sweep expired %d jobs (%v), want 1", n, err)
			}
		})
	}
}

// TestBatchLease: a batch claimed by a node that died is taken over only
// once its lease has run out.
func TestBatchLease(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnrolling(t, eng.Open)
			ctx, c := t.Context(), e.console
			b, err := e.svc.CreateBatch(ctx, c.TenantID, c.RealmID, []string{c.AdminIdentityID},
				passkey.JobTemplate{AuthenticatorConfigID: c.AuthenticatorConfigID})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.st.ClaimBatch(ctx, "dead-node", e.clock.Now(), passkey.BatchLease); err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				advance  time.Duration
				finished int
			}{{passkey.BatchLease, 0}, {time.Microsecond, 1}} {
				e.clock.Advance(step.advance)
				if n, err := e.svc.ProcessBatches(ctx, "live-node"); err != nil || n != step.finished {
					t.Errorf("%v later: finished %d batches (%v), want %d", step.advance, n, err, step.finished)
				}
			}
			if got, err := e.svc.GetBatch(ctx, c.TenantID, c.RealmID, b.ID); err != nil || got.State != passkey.BatchSuccess {
				t.Errorf("the batch taken over: %s, %v", got.State, err)
			}
		})
	}
}
