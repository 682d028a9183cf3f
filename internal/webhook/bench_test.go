package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/webhook"
)

// BenchmarkFanOut measures webhook deliveries per second to a local
// receiver: b.N events of one realm, recorded in transactions of 100, fan
// out to one subscribed webhook; then one node's worker, with its default
// concurrency, signs and sends them all. Only the sending is timed.
func BenchmarkFanOut(b *testing.B) {
	for _, e := range testenv.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			f := newFixture(b, e.Open)
			var got atomic.Int64
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
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
			start := time.Now()
			w := f.worker(b, "node-a", webhook.Client(true))
			w.Wake()
			for got.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
