package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, testenv.OpenPostgres)
}

// TestConcurrentUsername races writers that each have their own connection
// pool, as separate nodes would, to create one username in different
// cases: exactly one may win.
func TestConcurrentUsername(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	setup := open(t, dsn)
	now := time.Now().UTC()
	tenant, realm := newRealm(t, setup, now)

	const writers = 50
	nodes := make([]*sqlstore.Store, writers)
	for i := range nodes {
		nodes[i] = open(t, dsn)
	}
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Go(func() {
			v := directory.Identity{ID: latchkey.NewID(), RealmID: realm.ID, TenantID: tenant.ID,
				DisplayName: "Racer", Status: directory.StatusActive, EnrollmentStatus: directory.Unenrolled,
				Traits:     directory.Traits{Type: directory.TraitsV0, Username: mixedCase("racer.one", i)},
				CreateTime: now, UpdateTime: now}
			<-start
			errs[i] = node.Directory().Update(ctx, func(tx directory.Tx) error {
				if err := tx.CreateIdentities(ctx, []directory.Identity{v}); err != nil {
					return err
				}
				return tx.RecordEvent(ctx, audit.NewAt(ctx, now, tenant.ID, realm.ID, "identity.create", "Identity", v.ID))
			})
		})
	}
	close(start)
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, latchkey.ErrDuplicate):
			t.Errorf("writer %d: %v, want latchkey.ErrDuplicate", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers created the username, want exactly 1", won)
	}
	_, total, err := setup.ListIdentities(ctx, realm.ID, latchkey.ListOptions{Limit: 1})
	must(t, err)
	if total != 1 {
		t.Errorf("the realm counts %d identities, want 1", total)
	}
	_, total, err = setup.Audit().ListEvents(ctx, tenant.ID, realm.ID, latchkey.ListOptions{Limit: 1})
	must(t, err)
	if total != 1 {
		t.Errorf("%d events recorded, want 1", total)
	}
}

// newRealm migrates s and creates a tenant with a realm in it.
func newRealm(t *testing.T, s *sqlstore.Store, now time.Time) (directory.Tenant, directory.Realm) {
	t.Helper()
	ctx := t.Context()
	must(t, s.Migrate(ctx))
	tenant := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	realm := directory.Realm{ID: latchkey.NewID(), TenantID: tenant.ID, DisplayName: "R",
		Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
	must(t, s.CreateTenant(ctx, tenant))
	must(t, s.CreateRealm(ctx, realm))
	return tenant, realm
}

func open(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(dsn)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// mixedCase returns s with its letters upper-cased where the bits of n are set.
func mixedCase(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) {
			if n&1 == 1 {
				r = unicode.ToUpper(r)
			}
			n >>= 1
		}
		b.WriteRune(r)
	}
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSettleAnalyses: settling after an import gives the planner
// statistics of the tables the import filled.
func TestSettleAnalyses(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	s := open(t, dsn)
	must(t, s.Migrate(ctx))
	db, err := sql.Open("pgx", dsn)
	must(t, err)
	defer db.Close()
	analysed := func() bool {
		var n int
		must(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_user_tables
			WHERE relname = 'identities' AND last_analyze IS NOT NULL`).Scan(&n))
		return n == 1
	}
	if analysed() {
		t.Fatal("identities analysed before Settle")
	}
	must(t, s.Provisioning().Settle(ctx))
	// The statistics collector reports within moments.
	for deadline := time.Now().Add(5 * time.Second); !analysed(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("identities not analysed after Settle")
		}
	}
}

// TestPoolMaxConns: pool_max_conns caps the connections a store opens, and
// does not reach the server, which would refuse it as an unknown setting.
// With a pool of n, n transactions open leave nothing for a ping.
func TestPoolMaxConns(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, n := range []int{1, 2} {
		s := open(t, dsn+sep+"pool_max_conns="+strconv.Itoa(n))
		held := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.Directory().Update(t.Context(), func(directory.Tx) error {
				held <- struct{}{}
				<-release
				return nil
			})
		}()
		<-held
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := s.Ping(ctx)
		cancel()
		close(release)
		must(t, <-done)
		if n == 1 && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("pool of 1 with a transaction open: ping %v, want it to wait for a connection", err)
		}
		if n == 2 && err != nil {
			t.Errorf("pool of 2 with a transaction open: ping %v", err)
		}
	}
	if _, err := postgres.Open(dsn + sep + "pool_max_conns=0"); err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Errorf("pool_max_conns=0: %v, want an error naming it", err)
	}
}

// TestPipelinedTransactionEnds: a pipelined transaction (a group commit's)
// that fails after its statements ran (an approval that stored its
// sign-in, then found its session ended: the statements succeed, a count
// refuses) is rolled back: with one connection, the next transaction gets
// the same one, and must not commit the refused sign-in with its own write.
// The connection is rolled back, not thrown away (pgx's driver would
// close one it found in a transaction): one backend serves them all.
func TestPipelinedTransactionEnds(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := open(t, dsn+sep+"pool_max_conns=1")
	now := time.Now().UTC()
	tenant, realm := newRealm(t, s, now)
	admin, err := sql.Open("pgx", dsn)
	must(t, err)
	defer admin.Close()
	backends := func() []int {
		rows, err := admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid`)
		must(t, err)
		defer rows.Close()
		var pids []int
		for rows.Next() {
			var pid int
			must(t, rows.Scan(&pid))
			pids = append(pids, pid)
		}
		must(t, rows.Err())
		return pids
	}
	before := backends()
	if len(before) != 1 {
		t.Fatalf("backends of a store with one connection: %v", before)
	}

	for range 3 { // the same connection each time
		refused := oauth.Approval{Request: oauth.AuthRequest{ID: latchkey.NewID(), TenantID: tenant.ID, RealmID: realm.ID,
			ApplicationID: "app", Challenge: "c", IdentityID: "i", SessionID: "ended", CreateTime: now,
			ExpireTime: now.Add(time.Minute)}, New: true, At: now}
		if _, err := s.Approve(ctx, refused); !errors.Is(err, oauth.ErrSessionEnded) {
			t.Fatalf("approval in a session that ended: %v, want the session ended", err)
		}
		must(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.RecordEvent(ctx, audit.NewAt(ctx, now, tenant.ID, realm.ID, "realm.update", "Realm", realm.ID))
		}))
		if _, err := s.OAuth().GetAuthRequest(ctx, refused.Request.ID); !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("the refused approval's sign-in was committed by the next transaction (%v)", err)
		}
		if after := backends(); !slices.Equal(after, before) {
			t.Errorf("backends %v, then %v: the connection was replaced, not rolled back", before, after)
		}
	}
	if _, total, err := s.ListEvents(ctx, tenant.ID, realm.ID, latchkey.ListOptions{Limit: 10}); err != nil || total != 3 {
		t.Errorf("%d events (%v), want the 3 of the transactions that committed", total, err)
	}
}
