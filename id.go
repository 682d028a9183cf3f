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

// IDs hands out ids of NewID's form that sort together: they come in runs
// of idRun that share a first byte, successive runs taking successive
// first bytes from a random one, so that a realm's identity buckets (the
// ids' first two digits) fill evenly; the other 56 bits count up from a
// random start. A run lands in one place of each index keyed by the ids,
// and so do the run's members of a group in the memberships' key (group,
// identity). When every id took a random first byte, an import of
// 1,000,000 identities with two groups each dirtied about a page per row
// in 256 places of those indexes and took 69 s on SQLite; in runs, 32 s.
// Two IDs repeat an id only when their ranges of 56-bit tails overlap
// (odds of about n/2^56 for n ids taken) and the first bytes match. The
// zero value is ready; an IDs is not safe for concurrent use.
type IDs struct {
	next    uint64 // the 56-bit tail of the next id
	first   byte   // the first byte of the first run
	taken   int
	started bool
}

// idRun is how many ids in a row IDs gives one first byte: most of an
// import's batch of rows (5,000), while the 245 runs of 1,000,000 ids still
// fill most of the 256 buckets.
const idRun = 4096

// NewRun makes the next id start a run, unless it would anyway: an
// import's batch takes its ids from runs of its own, so that two batches
// stored at once count their identities in buckets of their own.
func (g *IDs) NewRun() {
	g.taken = (g.taken + idRun - 1) / idRun * idRun
}

// Next returns the next id.
func (g *IDs) Next() string {
	var b [8]byte
	if !g.started {
		rand.Read(b[:])
		g.next, g.first, g.started = binary.BigEndian.Uint64(b[:]), b[7], true
	}
	first := g.first + byte(g.taken/idRun)
	binary.BigEndian.PutUint64(b[:], g.next&(1<<56-1)|uint64(first)<<56)
	g.next++
	g.taken++
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
