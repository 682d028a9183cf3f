package provisioning_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkImport imports b.N new identities in one job, in process, on
// each engine (ns/op is per row); BenchmarkExport exports them.
func BenchmarkImport(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			svc, tenant, realm := setup(b, eng.Open(b))
			file := csvOf(b.N)
			b.ResetTimer()
			importFile(b, svc, tenant, realm, file, provisioning.Options{})
		})
	}
}

// BenchmarkImportGroups is BenchmarkImport with two group memberships a
// row, as exports from Okta and Entra have them: "staff;teamN", N in 0..99,
// the groups created by the import.
func BenchmarkImportGroups(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			svc, tenant, realm := setup(b, eng.Open(b))
			file := csvWithGroups(b.N)
			b.ResetTimer()
			importFile(b, svc, tenant, realm, file, provisioning.Options{CreateGroups: true})
		})
	}
}

func BenchmarkExport(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			svc, tenant, realm := setup(b, eng.Open(b))
			importFile(b, svc, tenant, realm, csvOf(b.N), provisioning.Options{})
			b.ResetTimer()
			if err := svc.Export(b.Context(), tenant, realm, nil, io.Discard); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func csvOf(n int) []byte { return csvRows(0, n) }

// csvRows is a file of n new identities, numbered from first.
func csvRows(first, n int) []byte {
	var file bytes.Buffer
	file.WriteString("username,email,display_name,given_name,family_name,department\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&file, "user%07d,user%07d@example.com,User %d,Given%d,Family%d,Dept %d\n", i, i, i, i, i, i%50)
	}
	return file.Bytes()
}

// csvWithGroups is csvOf(n) with a groups column: staff and one of 100 teams.
func csvWithGroups(n int) []byte {
	var file bytes.Buffer
	file.WriteString("username,email,display_name,given_name,family_name,department,groups\n")
	for i := range n {
		fmt.Fprintf(&file, "user%07d,user%07d@example.com,User %d,Given%d,Family%d,Dept %d,staff;team%d\n", i, i, i, i, i, i%50, i%100)
	}
	return file.Bytes()
}

func setup(b testing.TB, st *sqlstore.Store) (*provisioning.Service, string, string) {
	tenant, realm := realmIn(b, st)
	return provisioning.NewService(st.Provisioning()), tenant, realm
}

// realmIn makes a tenant and a realm in st and returns their ids.
func realmIn(b testing.TB, st *sqlstore.Store) (string, string) {
	ctx := b.Context()
	dir := directory.NewService(st.Directory())
	t := time.Now().UTC()
	tenant := directory.Tenant{ID: "0001000000000001", DisplayName: "T", CreateTime: t, UpdateTime: t}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		b.Fatal(err)
	}
	r, err := dir.CreateRealm(ctx, tenant.ID, directory.Realm{DisplayName: "R"})
	if err != nil {
		b.Fatal(err)
	}
	return tenant.ID, r.ID
}

// importFile runs one job to its end with a worker of its own.
func importFile(b testing.TB, svc *provisioning.Service, tenant, realm string, file []byte, opts provisioning.Options) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	w := &provisioning.Worker{Service: svc, Logger: slog.New(slog.DiscardHandler), Owner: "bench", PollInterval: 10 * time.Millisecond}
	go w.Run(ctx)
	j, err := svc.CreateJob(ctx, tenant, realm, bytes.NewReader(file), opts)
	if err != nil {
		b.Fatal(err)
	}
	for !j.Done() {
		time.Sleep(20 * time.Millisecond)
		if j, err = svc.GetJob(ctx, tenant, realm, j.ID); err != nil {
			b.Fatal(err)
		}
	}
	if j.Created != j.RowsTotal {
		b.Fatalf("job %+v: not every row created", j)
	}
}

// settleCounter counts the store's settles.
type settleCounter struct {
	provisioning.Store
	settles atomic.Int32
}

func (s *settleCounter) Settle(ctx context.Context) error {
	s.settles.Add(1)
	return s.Store.Settle(ctx)
}

// TestSettleAfterBigImport: an import that writes 10,000 identities asks
// the store to settle; a smaller one and a dry run do not.
func TestSettleAfterBigImport(t *testing.T) {
	st := testenv.OpenSQLite(t)
	counter := &settleCounter{Store: st.Provisioning()}
	svc := provisioning.NewService(counter)
	tenant, realm := realmIn(t, st)
	for _, c := range []struct {
		what string
		file []byte
		opts provisioning.Options
		want int32
	}{
		{"a dry run of 10,000 rows", csvOf(10_000), provisioning.Options{DryRun: true}, 0},
		{"an import of 100 rows", csvOf(100), provisioning.Options{}, 0},
		{"an import of 10,000 rows", csvRows(100, 10_000), provisioning.Options{}, 1},
	} {
		importFile(t, svc, tenant, realm, c.file, c.opts)
		// The job is done before its store settles: wait for a settle that is due.
		for deadline := time.Now().Add(10 * time.Second); counter.settles.Load() < c.want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if got := counter.settles.Load(); got != c.want {
			t.Fatalf("after %s: %d settles, want %d", c.what, got, c.want)
		}
	}
}
