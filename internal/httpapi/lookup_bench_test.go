package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkLookupByUsername lists identities with filter=traits.username eq
// "…" (an exact lookup, total_size included) over HTTP from one client, in
// a realm of 100,000 identities seeded through the store, on each engine.
// It reports the p99 latency and the CPU of this process (server and
// client; PostgreSQL's backend is not in it) per lookup.
//
//	go test ./internal/httpapi/ -run '^$' -bench LookupByUsername -benchtime 3000x -cpu 2
func BenchmarkLookupByUsername(b *testing.B) {
	const seeded = 100_000
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, _, n := benchNode(b, eng.Name, 0)
			now := time.Now()
			for start := 0; start < seeded; start += 5000 {
				batch := make([]directory.Identity, 5000)
				for i := range batch {
					name := fmt.Sprintf("user%06d", start+i)
					batch[i] = directory.Identity{ID: latchkey.NewID(), RealmID: realm, TenantID: n.Creds().TenantID, DisplayName: name,
						Status: directory.StatusActive, Traits: directory.Traits{Type: directory.TraitsV0, Username: name},
						EnrollmentStatus: directory.Unenrolled, CreateTime: now, UpdateTime: now}
				}
				if err := n.Store.CreateIdentities(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			timed(b, func() {
				name := fmt.Sprintf("user%06d", rand.IntN(seeded))
				q := url.Values{"filter": {`traits.username eq "` + name + `"`}}
				resp := c.do(b, "GET", "/realms/"+realm+"/identities?"+q.Encode(), nil)
				if resp.Status != http.StatusOK || resp.JSON(b)["total_size"] != 1.0 {
					b.Fatalf("lookup %s: %d %s", name, resp.Status, resp.Body)
				}
			})
		})
	}
}

// timed runs op b.N times, one after another, and reports the p99 of its
// latency and the CPU of this process (server and client; PostgreSQL's
// backend is not in it) per op.
func timed(b *testing.B, op func()) {
	latencies := make([]time.Duration, 0, b.N)
	startCPU := processCPU()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		op()
		latencies = append(latencies, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64((processCPU()-startCPU).Microseconds())/float64(len(latencies))/1000, "cpu-ms/op")
}

// processCPU is the CPU time this process used so far.
func processCPU() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
