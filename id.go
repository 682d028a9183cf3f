package latchkey

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
)

// NewID returns a resource id: 16 lowercase hex digits (64 random bits).
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// IDs hands out ids of NewID's form that sort together: each starts with a
// random byte, as NewID's do, so that a realm's identity buckets (the ids'
// first two digits) stay even; the other 56 bits count up from a random
// start. Ids taken from one IDs land in 256 runs of an index keyed by them,
// not all over it: an import of 1,000,000 identities, whose every id is
// written into four such indexes, otherwise dirtied nearly every leaf page
// of each in every batch. Two IDs repeat an id only when their ranges of
// 56-bit tails overlap (odds of about n/2^56 for n ids taken) and the first
// bytes match. The zero value is ready; an IDs is not safe for concurrent use.
type IDs struct {
	next    uint64
	started bool
}

// Next returns the next id.
func (g *IDs) Next() string {
	var b [8]byte
	rand.Read(b[:])
	if !g.started {
		g.next, g.started = binary.BigEndian.Uint64(b[:]), true
	}
	binary.BigEndian.PutUint64(b[:], g.next&(1<<56-1)|uint64(b[0])<<56)
	g.next++
	return hex.EncodeToString(b[:])
}

// NewTenantID returns a tenant id: 16 hex digits starting 0001, as Beyond Identity's do.
func NewTenantID() string { return "0001" + NewID()[4:] }

// NewUUID returns a random (version 4) UUID, the id form of applications,
// resource servers and authenticator configs.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomString returns n characters from [A-Za-z0-9], uniformly: client ids,
// client secrets, token ids and link tokens.
func RandomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	for i := 0; i < n; {
		rand.Read(buf)
		for _, c := range buf {
			// Rejection sampling keeps the choice uniform: 248 = 62*4.
			if c < 248 && i < n {
				out[i] = tokenAlphabet[int(c)%len(tokenAlphabet)]
				i++
			}
		}
	}
	return string(out)
}
