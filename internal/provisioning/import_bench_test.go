package provisioning_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
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
			importFile(b, svc, tenant, realm, file)
		})
	}
}

func BenchmarkExport(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			svc, tenant, realm := setup(b, eng.Open(b))
			importFile(b, svc, tenant, realm, csvOf(b.N))
			b.ResetTimer()
			if err := svc.Export(b.Context(), tenant, realm, nil, io.Discard); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func csvOf(n int) []byte {
	var file bytes.Buffer
	file.WriteString("username,email,display_name,given_name,family_name,department\n")
	for i := range n {
		fmt.Fprintf(&file, "user%07d,user%07d@example.com,User %d,Given%d,Family%d,Dept %d\n", i, i, i, i, i, i%50)
	}
	return file.Bytes()
}

func setup(b *testing.B, st *sqlstore.Store) (*provisioning.Service, string, string) {
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
	return provisioning.NewService(st.Provisioning()), tenant.ID, r.ID
}

// importFile runs one job to its end with a worker of its own.
func importFile(b *testing.B, svc *provisioning.Service, tenant, realm string, file []byte) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	w := &provisioning.Worker{Service: svc, Logger: slog.New(slog.DiscardHandler), Owner: "bench", PollInterval: 10 * time.Millisecond}
	go w.Run(ctx)
	j, err := svc.CreateJob(ctx, tenant, realm, bytes.NewReader(file), provisioning.Options{})
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
