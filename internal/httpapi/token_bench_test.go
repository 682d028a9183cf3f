package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/latchkey/latchkey/internal/fastrsa"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkRS256Sign is the physical limit of token issuance: one RS256
// signature (2048-bit key) per token, on all cores, through the signer the
// node's tokens use (fastrsa: OpenSSL when the process can load it).
//
//	go test ./internal/httpapi/ -run '^$' -bench 'Sign$|ClientCredentials' -benchtime 3000x -cpu 2
func BenchmarkRS256Sign(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	benchSign(b, jose.RS256, cryptosigner.Opaque(fastrsa.Signer(key)))
}

// BenchmarkES256Sign is the same limit for an application that signs with ES256 (P-256).
func BenchmarkES256Sign(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	benchSign(b, jose.ES256, key)
}

func benchSign(b *testing.B, alg jose.SignatureAlgorithm, key any) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
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
// over HTTP from 16 and 64 concurrent keep-alive clients, on each engine,
// for an application that signs with RS256 and one that signs with ES256.
// An engine whose node refuses ES256 (a commit before issue 22) runs
// RS256 only, so that the same benchmark measures both commits.
func BenchmarkClientCredentials(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, _, _, _, n := benchNode(b, eng.Name, 0)
			creds := n.Creds()
			app := str(b, c.do(b, "GET", "/realms/"+creds.RealmID+"/applications/"+creds.ApplicationID, nil).JSON(b), "resource_server_id")
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"identities:read"}}
			for _, alg := range []string{"RS256", "ES256"} {
				resp := c.do(b, "POST", "/realms/"+creds.RealmID+"/applications", map[string]any{"application": map[string]any{
					"display_name": "Bench " + alg, "resource_server_id": app, "protocol_config": map[string]any{
						"type": "oauth2", "grant_type": []string{"client_credentials"}, "allowed_scopes": []string{"identities:read"},
						"token_configuration": map[string]any{"expires_after": 3600, "token_signing_algorithm": alg}}}})
				if resp.Status != http.StatusOK {
					b.Logf("%s: %d %s", alg, resp.Status, resp.Body)
					continue
				}
				a := resp.JSON(b)
				pc := a["protocol_config"].(map[string]any)
				endpoint := strings.Replace(creds.TokenEndpoint, creds.ApplicationID, str(b, a, "id"), 1)
				for _, clients := range []int{16, 64} {
					b.Run(alg+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
						b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
						start := time.Now()
						b.ResetTimer()
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if resp := postToken(b, endpoint, form, str(b, pc, "client_id"), str(b, pc, "client_secret")); resp.Status != http.StatusOK {
									b.Fatalf("token: %d %s", resp.Status, resp.Body)
								}
							}
						})
						b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
					})
				}
			}
		})
	}
}
