package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkRS256Sign is the physical limit of token issuance: one RS256
// signature (2048-bit key) per token, on all cores.
//
//	go test ./internal/httpapi/ -run '^$' -bench 'RS256Sign|ClientCredentials' -benchtime 3000x -cpu 2
func BenchmarkRS256Sign(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"iss":"https://example.com","sub":"client","scope":"identities:read","exp":4102444800}`)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := signer.Sign(payload); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signatures/s")
}

// BenchmarkClientCredentials issues management tokens at the token endpoint
// over HTTP from 16 concurrent clients, on each engine.
func BenchmarkClientCredentials(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			_, _, _, _, n := benchNode(b, eng.Name, 0)
			creds := n.Creds()
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"identities:read"}}
			b.SetParallelism(8)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp := postToken(b, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret); resp.Status != http.StatusOK {
						b.Fatalf("token: %d %s", resp.Status, resp.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
		})
	}
}
