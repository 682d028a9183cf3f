package latchkey

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a resource id: 16 lowercase hex digits (64 random bits).
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
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
