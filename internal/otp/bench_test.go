package otp_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/testenv"
)

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// report adds the throughput, and the process's CPU time per code since
// cpu (cpuTime before the loop) with the rate two cores would reach at
// that cost: on a shared machine the wall clock says little, the CPU time
// more (it leaves out PostgreSQL's own).
func report(b *testing.B, cpu time.Duration) {
	perOp := (cpuTime() - cpu) / time.Duration(b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "codes/s")
	b.ReportMetric(float64(perOp.Microseconds()), "cpu-µs/code")
	b.ReportMetric(2*float64(time.Second)/float64(perOp), "codes/s-on-2-cores")
}

// benchIdentities is how many identities the benchmarks ask codes for, in
// turn, so that requests do not all wait for one row.
const benchIdentities = 200

// BenchmarkRequestCode asks for codes for known addresses, each from its
// own IP, 8 × GOMAXPROCS at a time, on each engine: the limits counted,
// the identity looked up, the code hashed (HMAC) and stored, and the
// e-mail rendered in the realm's theme and queued in the outbox.
func BenchmarkRequestCode(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c := newCodes(b, eng.Open)
			c.svc.AddressLimit, c.svc.IPLimit = 1<<30, 1<<30 // counted, never reached
			dir := directory.NewService(c.st.Directory())
			for i := range benchIdentities {
				if _, err := dir.CreateIdentity(b.Context(), c.console.TenantID, c.console.RealmID, directory.Identity{DisplayName: "User",
					Traits: directory.Traits{Type: "traits_v0", Username: fmt.Sprint("user", i), PrimaryEmailAddress: fmt.Sprint("user", i, "@example.com")}}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if err := c.request(b, fmt.Sprint("user", i%benchIdentities, "@example.com"), fmt.Sprint("10.0.", i/250%250, ".", i%250)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b, cpu)
		})
	}
}

// BenchmarkVerifyCode signs in with right codes, 8 × GOMAXPROCS at a
// time, on each engine: each code read, its try counted, its HMAC
// compared in constant time, spent, and its identity read.
func BenchmarkVerifyCode(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c := newCodes(b, eng.Open)
			now := c.clock.Now()
			for i := range b.N {
				addr := fmt.Sprint("user", i, "@example.com")
				if err := c.st.PutEmailCode(b.Context(), otp.Code{TenantID: c.console.TenantID, RealmID: c.console.RealmID, Address: addr,
					IdentityID: c.ada.ID, Hash: c.svc.Hash(c.console.RealmID, addr, "123456"), CreateTime: now, ExpireTime: now.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1) - 1
					if _, err := c.verify(b, fmt.Sprint("user", i, "@example.com"), "123456", false); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b, cpu)
		})
	}
}
