package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Benchmarks of passkey enrollment over HTTP against a real node, on each
// engine; BENCHMARKS.md has the figures and the command.
//
//	go test ./internal/httpapi/ -run '^$' -bench 'CreateReturnJob|BindSoftwarePasskey' -benchtime 3000x -cpu 2

// benchNode starts a node on the engine for a benchmark, with a realm, an
// embedded authenticator config and identities, and returns an API client.
func benchNode(b *testing.B, engine string, identities int) (c client, realm, config string, ids []string, n *testenv.Node) {
	n = testenv.StartNode(b, engine, func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	c = client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(b, ""), http: pooledHTTP}
	realm = newRealm(b, c, "Bench")
	config = embeddedConfig(b, c, realm, "https://app.example.com")
	for i := range identities {
		ids = append(ids, str(b, newIdentity(b, c, realm, "user"+strconv.Itoa(i)), "id"))
	}
	return c, realm, config, ids, n
}

// BenchmarkCreateReturnJob creates RETURN credential binding jobs over HTTP
// from 16 concurrent clients.
func BenchmarkCreateReturnJob(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, config, ids, _ := benchNode(b, eng.Name, 64)
			var next atomic.Int64
			body := map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": config}}
			b.SetParallelism(8) // × GOMAXPROCS clients
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[next.Add(1)%int64(len(ids))]
					if resp := c.do(b, "POST", "/realms/"+realm+"/identities/"+id+"/credential-binding-jobs", body); resp.Status != http.StatusOK {
						b.Fatalf("create: %d %s", resp.Status, resp.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
		})
	}
}

// BenchmarkBindSoftwarePasskey verifies :bind proofs (ES256 JWS) and stores
// the credentials, over HTTP from 16 concurrent clients. The jobs and the
// proofs are made before the clock starts.
func BenchmarkBindSoftwarePasskey(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, config, ids, n := benchNode(b, eng.Name, 64)
			type bind struct {
				b     binding
				proof map[string]any
			}
			binds := make([]bind, b.N)
			for i := range binds {
				id := ids[i%len(ids)]
				j, link, err := n.Passkeys.CreateBindingJob(context.Background(), c.tenant, realm, id,
					passkey.JobRequest{DeliveryMethod: passkey.Return, AuthenticatorConfigID: config})
				if err != nil {
					b.Fatal(err)
				}
				u, _ := url.Parse(link)
				bb := binding{realm: realm, identity: id, job: j.ID, token: u.Query().Get("token"), link: link}
				binds[i].b = bb
				binds[i].proof, _ = softwareProof(b, bb.subject(c), bb.token)
			}
			var next atomic.Int64
			b.SetParallelism(8)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					x := binds[next.Add(1)-1]
					if resp := x.b.call(b, c, "bind", x.b.token, x.proof); resp.Status != http.StatusOK {
						b.Fatalf("bind: %d %s", resp.Status, resp.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "binds/s")
		})
	}
}
