package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/webhook"
)

// BenchmarkFanOut measures webhook deliveries per second to a local
// receiver: b.N events of one realm, recorded in transactions of 100, fan
// out to one subscribed webhook; then one node's worker, with its default
// concurrency and webhook.PerTarget, signs and sends them all. Only the
// sending is timed. It reports this process's CPU per delivery too (the
// worker and the receiver; PostgreSQL's backends are not in it).
//
//	go test ./internal/webhook -run '^$' -bench FanOut -benchtime 3000x
func BenchmarkFanOut(b *testing.B) {
	for _, e := range testenv.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			f := newFixture(b, e.Open)
			// Deliveries received, each once: an attempt that timed out
			// may have reached the receiver before it is sent again.
			var got atomic.Int64
			var seen sync.Map
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, again := seen.LoadOrStore(r.Header.Get("webhook-id"), true); !again {
					got.Add(1)
				}
			}))
			b.Cleanup(rc.Close)
			f.create(b, rc.URL, "identity.*")
			for i := 0; i < b.N; i += 100 {
				must(b, f.st.Webhook().Update(b.Context(), func(tx webhook.Tx) error {
					for j := i; j < min(i+100, b.N); j++ {
						e := audit.NewAt(b.Context(), f.clock.Now(), f.realm.TenantID, f.realm.ID, "identity.update", "Identity", fmt.Sprint(j))
						if err := tx.RecordEvent(b.Context(), e); err != nil {
							return err
						}
					}
					return nil
				}))
			}
			b.ResetTimer()
			start, startCPU := time.Now(), cpu()
			// A node's poll, not the tests' quick one: between polls, a worker
			// whose lanes are full looks only in those that have room. An
			// attempt that times out under load (the fixture's 2 s) is due
			// again at once: the test clock never reaches a backoff.
			w := f.worker(b, "node-a", webhook.Client(true), func(w *delivery.Worker) {
				w.PollInterval, w.Backoff = time.Second, func(int) time.Duration { return 0 }
			})
			w.Wake()
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
			b.ReportMetric(float64(cpu()-startCPU)/float64(b.N)/1e3, "cpu-µs/delivery")
		})
	}
}

// cpu is the user and system CPU time this process has used.
func cpu() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
