package provisioning_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkBulkSuspend runs bulk jobs over 10,000 identities, in process,
// on each engine: suspend all, then activate all, and so on (each
// operation is one job of 10,000 changes, from its creation to its end,
// with the worker's polling).
//
//	go test ./internal/provisioning -run '^$' -bench BulkSuspend -benchtime 4x
func BenchmarkBulkSuspend(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			st := eng.Open(b)
			tenant, realm := realmIn(b, st)
			svc := provisioning.NewService(st.Provisioning())
			ids, err := loadtest.SeedIdentities(b.Context(), st, tenant, realm, 10_000)
			if err != nil {
				b.Fatal(err)
			}
			actions := []string{provisioning.ActionSuspend, provisioning.ActionActivate}
			k := 0
			for b.Loop() {
				j, err := svc.CreateBulkJob(b.Context(), tenant, realm, provisioning.BulkAction{Action: actions[k%2]}, ids)
				if err != nil {
					b.Fatal(err)
				}
				if j = runJob(b, svc, tenant, realm, j); j.Updated != len(ids) {
					b.Fatalf("job %+v: not every identity changed", j)
				}
				k++
			}
		})
	}
}
