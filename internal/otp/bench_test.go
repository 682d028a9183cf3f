package otp_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/testenv"
)

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
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if err := c.request(b, fmt.Sprint("user", i%benchIdentities, "@example.com"), fmt.Sprint("10.0.", i/250%250, ".", i%250)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "codes/s")
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
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1) - 1
					if _, err := c.verify(b, fmt.Sprint("user", i, "@example.com"), "123456", false); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "codes/s")
		})
	}
}
