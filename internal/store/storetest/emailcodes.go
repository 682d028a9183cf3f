package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/store"
)

// testEmailCodes: one live code per address of a realm, replaced by a new
// one with its tries reset; tries are counted up to the limit, also under
// concurrency; a code is spent once; expired codes and old counts are swept.
func testEmailCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	_, err := s.GetEmailCode(ctx, r.ID, "ada@example.com")
	wantErr(t, "no code", err, latchkey.ErrNotFound)

	c := otp.Code{TenantID: r.TenantID, RealmID: r.ID, Address: "ada@example.com", IdentityID: "ada", Hash: "h1",
		CreateTime: now, ExpireTime: now.Add(otp.CodeTTL)}
	must(t, s.PutEmailCode(ctx, c))
	got, err := s.GetEmailCode(ctx, r.ID, c.Address)
	must(t, err)
	equal(t, "code", got, c)
	must(t, s.TryEmailCode(ctx, r.ID, c.Address, "h1", 2))
	must(t, s.TryEmailCode(ctx, r.ID, c.Address, "h1", 2))
	wantErr(t, "a third try of two", s.TryEmailCode(ctx, r.ID, c.Address, "h1", 2), latchkey.ErrNotFound)
	got, _ = s.GetEmailCode(ctx, r.ID, c.Address)
	equal(t, "tries", got.Tries, 2)

	// A new code replaces the old one: the old hash no longer counts.
	c2 := c
	c2.Hash, c2.IdentityID, c2.CreateTime, c2.ExpireTime = "h2", "", now.Add(time.Minute), now.Add(otp.CodeTTL+time.Minute)
	must(t, s.PutEmailCode(ctx, c2))
	got, _ = s.GetEmailCode(ctx, r.ID, c.Address)
	equal(t, "replaced code", got, c2)
	wantErr(t, "a try of the replaced code", s.TryEmailCode(ctx, r.ID, c.Address, "h1", 5), latchkey.ErrNotFound)
	wantErr(t, "spending the replaced code", s.DeleteEmailCode(ctx, r.ID, c.Address, "h1"), latchkey.ErrNotFound)

	// Concurrent tries: exactly the limit is counted.
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for range 8 {
		wg.Go(func() {
			err := s.OTP().Update(ctx, func(tx otp.Tx) error { return tx.TryEmailCode(ctx, r.ID, c.Address, "h2", 3) })
			if err == nil {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "concurrent tries counted", counted, 3)

	must(t, s.DeleteEmailCode(ctx, r.ID, c.Address, "h2"))
	wantErr(t, "spending a code twice", s.DeleteEmailCode(ctx, r.ID, c.Address, "h2"), latchkey.ErrNotFound)

	// Request counts: per key, per fixed window.
	for i := 1; i <= 3; i++ {
		n, err := s.CountEmailCodeRequest(ctx, "ip:192.0.2.1", now, time.Hour)
		must(t, err)
		equal(t, "count", n, i)
	}
	n, _ := s.CountEmailCodeRequest(ctx, "ip:192.0.2.2", now, time.Hour)
	equal(t, "another key's count", n, 1)
	n, _ = s.CountEmailCodeRequest(ctx, "ip:192.0.2.1", now.Add(time.Hour), time.Hour)
	equal(t, "the next window's count", n, 1)

	// The sweep deletes expired codes and counts of past windows.
	must(t, s.PutEmailCode(ctx, c))
	must(t, s.PutEmailCode(ctx, otp.Code{TenantID: r.TenantID, RealmID: r.ID, Address: "bea@example.com", Hash: "h3",
		CreateTime: now, ExpireTime: now.Add(time.Hour)}))
	swept, err := s.DeleteExpiredEmailCodes(ctx, now.Add(otp.CodeTTL), now.Add(30*time.Minute))
	must(t, err)
	equal(t, "swept (one code, one count)", swept, 2)
	_, err = s.GetEmailCode(ctx, r.ID, c.Address)
	wantErr(t, "an expired code after the sweep", err, latchkey.ErrNotFound)
	_, err = s.GetEmailCode(ctx, r.ID, "bea@example.com")
	must(t, err)
	n, _ = s.CountEmailCodeRequest(ctx, "ip:192.0.2.1", now.Add(time.Hour), time.Hour)
	equal(t, "a count of the current window stays", n, 2)
}
