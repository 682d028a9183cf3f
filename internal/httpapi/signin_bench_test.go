package httpapi_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkPasskeySignIn runs full passkey sign-ins over HTTP against a
// real node, each as the embedded SDK and an OIDC client make it:
// /authorize (the request JWT), the software passkey's proof at
// bi-authenticate (verification, policy, the code) and the code's
// redemption at /token (ID and access token). It reports sign-ins per
// second and the p50 and p99 of one whole sign-in.
//
// By default 16 clients (LATCHKEY_BENCH_CLIENTS) sign in one after another
// (a closed loop: the throughput the node reaches, with latency that
// includes queueing for the clients' own turns). With LATCHKEY_BENCH_RATE
// set, sign-ins start at that rate per second whatever their latency (an
// open loop), and latency counts from when each was due: whether the node
// sustains the rate, and how fast it answers at it. LATCHKEY_BENCH_WARMUP
// sign-ins (default none) run before the timing, in the closed loop: a
// node that has run a while has prepared each statement of its batches
// on each connection, which a new one does in its first seconds.
//
//	go test ./internal/httpapi/ -run '^$' -bench 'PasskeySignIn' -benchtime 3000x -cpu 2
//	LATCHKEY_BENCH_RATE=500 go test ./internal/httpapi/ -run '^$' -bench 'PasskeySignIn' -benchtime 10000x -cpu 2
func BenchmarkPasskeySignIn(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, config, ids, n := benchNode(b, eng.Name, 64)
			keys := make([]*ecdsa.PrivateKey, len(ids))
			for i, id := range ids {
				bd := newBinding(b, c, realm, id, config)
				var proof map[string]any
				proof, keys[i] = softwareProof(b, bd.subject(c), bd.token)
				if resp := bd.call(b, c, "bind", bd.token, proof); resp.Status != http.StatusOK {
					b.Fatalf("bind: %d %s", resp.Status, resp.Body)
				}
			}
			appID, clientID, secret := sdkApp(b, c, realm, config, sdkOrigin+"/callback")
			issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
			c.ok(b, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
			query := signInQuery(clientID, sdkOrigin+"/callback").Encode()
			measureConcurrent(b, n.Config.Database, "signins", func(k int) {
				i := k % len(ids)
				signIn(b, issuer, query, clientID, secret, ids[i], realm, c.tenant, keys[i])
			})
		})
	}
}

// BenchmarkHostedSignIn is BenchmarkPasskeySignIn through the hosted web
// authenticator, as a browser and an OIDC client make it: /authorize (the
// sign-in page with its WebAuthn challenge), the WebAuthn assertion of a
// virtual authenticator at the page's sign-in endpoint (go-webauthn's
// verification, policy, the code) and the code's redemption at /token.
// The same environment variables apply.
//
//	go test ./internal/httpapi/ -run '^$' -bench 'HostedSignIn' -benchtime 3000x -cpu 2
func BenchmarkHostedSignIn(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, _, n := benchNode(b, eng.Name, 0)
			holders := make([]passkeyHolder, 64)
			for i := range holders {
				holders[i] = newPasskeyHolder(b, n.URL, c, realm, "user"+strconv.Itoa(i))
			}
			callback := "https://app.example.com/callback"
			appID, clientID, secret := oidcClient(b, n, realm, callback)
			issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
			c.ok(b, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
			query := signInQuery(clientID, callback)
			measureConcurrent(b, n.Config.Database, "signins", func(k int) {
				answer := holders[k%len(holders)].signIn(b, issuer, query)
				to, err := url.Parse(str(b, answer, "redirect"))
				if err != nil {
					b.Fatalf("sign-in answered %v", answer)
				}
				redeemForIDToken(b, issuer, clientID, secret, to.Query().Get("code"), callback)
			})
		})
	}
}

// measureConcurrent runs b.N operations (do(k) is the k-th: a sign-in, a
// SAML Response), in the closed or open loop the environment asks for
// (after LATCHKEY_BENCH_WARMUP untimed ones, if set), and
// reports their rate (unit per second), their latency, the CPU this
// process (server and clients) spent per operation, and on PostgreSQL
// (database, the node's DSN) that of the database's backends
// (pg-cpu-ms/op; the server's WAL writer and checkpointer are not in it).
func measureConcurrent(b *testing.B, database, unit string, do func(k int)) {
	clients := 16
	if n, err := strconv.Atoi(os.Getenv("LATCHKEY_BENCH_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	rate, _ := strconv.ParseFloat(os.Getenv("LATCHKEY_BENCH_RATE"), 64)
	if warmup, _ := strconv.Atoi(os.Getenv("LATCHKEY_BENCH_WARMUP")); warmup > 0 && b.N > 1 {
		warm(clients, warmup, do)
	}
	backends := postgresBackends(database)
	cpu, pgCPU := processCPU(), backends.cpu()
	b.ResetTimer()
	var latencies []time.Duration
	var elapsed time.Duration
	if rate > 0 {
		latencies, elapsed = openLoop(b.N, rate, do)
	} else {
		latencies, elapsed = closedLoop(b, clients, do)
	}
	b.StopTimer()
	cpu, pgCPU = processCPU()-cpu, backends.cpu()-pgCPU
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/1000, "cpu-ms/op")
	if backends != nil {
		b.ReportMetric(float64(pgCPU.Microseconds())/float64(b.N)/1000, "pg-cpu-ms/op")
	}
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
}

// closedLoop calls do b.N times (do(0) … do(b.N-1)) from clients
// goroutines, each calling again as soon as its call returns, and returns
// each call's latency and the time all took.
func closedLoop(b *testing.B, clients int, do func(int)) ([]time.Duration, time.Duration) {
	var next atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)) // × GOMAXPROCS clients
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			do(int(next.Add(1) - 1))
			d := time.Since(t0)
			mu.Lock()
			latencies = append(latencies, d)
			mu.Unlock()
		}
	})
	return latencies, time.Since(start)
}

// warm calls do n times from clients goroutines, each calling again as
// soon as its call returns, untimed.
func warm(clients, n int, do func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				do(k)
			}
		})
	}
	wg.Wait()
}

// openLoop starts n calls of do at rate per second, each in its own
// goroutine whatever the latency of the others, and returns each call's
// latency counted from when it was due (so that a node that falls behind
// shows its backlog) and the time until the last call returned.
func openLoop(n int, rate float64, do func(int)) ([]time.Duration, time.Duration) {
	latencies := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	for k := range n {
		due := start.Add(time.Duration(float64(k) * float64(time.Second) / rate))
		time.Sleep(time.Until(due))
		wg.Go(func() {
			do(k)
			latencies[k] = time.Since(due)
		})
	}
	wg.Wait()
	return latencies, time.Since(start)
}

// signIn is one sign-in of identity with its software passkey key. Every
// answer is read to its end (sendWith), so that connections are reused: a
// body closed unread closes its connection.
func signIn(b *testing.B, issuer, query, clientID, secret, identity, realm, tenant string, key *ecdsa.PrivateKey) {
	resp := sendWith(b, noRedirects, "GET", issuer+"/authorize?"+query, nil, nil)
	to, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := jwt.ParseSigned(to.Query().Get("request"), []jose.SignatureAlgorithm{jose.ES256})
	if resp.Status != http.StatusFound || err != nil {
		b.Fatalf("authorize: %d %v", resp.Status, err)
	}
	var req sdkRequestClaims
	tok.UnsafeClaimsWithoutVerification(&req)
	now := time.Now().Unix()
	claims := softwareClaims(b, key, thumbprint(b, &key.PublicKey), map[string]any{
		"sub": "CN=" + identity + ", OU=" + realm + ", O=" + tenant, "aud": []string{issuer + "/bi-authenticate"},
		"exp": now + 300, "iat": now, "jti": strconv.FormatInt(now, 10),
		"bi_tid": req.TransactionID, "bi_non": req.Authn.Action.Prove.Nonce})
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp = sendWith(b, noRedirects, "POST", issuer+"/bi-authenticate", form, strings.NewReader(url.Values{"claims": {claims}}.Encode()))
	var answer struct{ Type, Code, Message string }
	if err := json.Unmarshal(resp.Body, &answer); err != nil || answer.Type != "allow" {
		b.Fatalf("bi-authenticate: %d %s", resp.Status, resp.Body)
	}
	redeemForIDToken(b, issuer, clientID, secret, answer.Code, sdkOrigin+"/callback")
}

// redeemForIDToken redeems a code (of a sign-in with sdkVerifier's PKCE
// challenge) and fails unless the answer has an ID token.
func redeemForIDToken(b *testing.B, issuer, clientID, secret, code, redirectURI string) {
	resp := sendWith(b, pooledHTTP, "POST", issuer+"/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret))}},
		strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {sdkVerifier}}.Encode()))
	var tokens struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(resp.Body, &tokens); resp.Status != http.StatusOK || err != nil || tokens.IDToken == "" {
		b.Fatalf("token: %d %s", resp.Status, resp.Body)
	}
}

// BenchmarkSingleSignOn is a single sign-on into an application, as a
// browser with a session and an OIDC client make it: /authorize with the
// session's cookie (the session read, policy, the code, the session's
// use recorded; no ceremony) and the code's redemption at /token (ID and
// access token: two RS256 signatures, see BenchmarkRS256Sign). The
// sessions, one per identity, begin as the hosted page begins them. The
// same environment variables apply.
//
//	go test ./internal/httpapi/ -run '^$' -bench 'SingleSignOn|RS256Sign' -benchtime 5000x -cpu 2
//	LATCHKEY_BENCH_RATE=700 go test ./internal/httpapi/ -run '^$' -bench 'SingleSignOn' -benchtime 14000x -cpu 2
func BenchmarkSingleSignOn(b *testing.B) {
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			c, realm, _, _, n := benchNode(b, eng.Name, 0)
			cookies := make([]string, 64)
			for i := range cookies {
				h := newPasskeyHolder(b, n.URL, c, realm, "user"+strconv.Itoa(i))
				creds := c.list(b, "/realms/"+realm+"/identities/"+h.identity+"/credentials")
				_, value, err := n.Sessions.Start(b.Context(), session.SignIn{TenantID: c.tenant, RealmID: realm, IdentityID: h.identity,
					CredentialID: str(b, items(b, creds, "credentials")[0], "id"), AMR: oauth.PasskeyAMR(passkey.Config{}), ACR: oauth.PasskeyACR}, nil)
				if err != nil {
					b.Fatal(err)
				}
				cookies[i] = session.CookieName + "=" + value
			}
			callback := "https://app.example.com/callback"
			appID, clientID, secret := oidcClient(b, n, realm, callback)
			issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + appID
			c.ok(b, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "allow"})
			authorize := issuer + "/authorize?" + signInQuery(clientID, callback).Encode()
			measureConcurrent(b, n.Config.Database, "signins", func(k int) {
				resp := sendWith(b, noRedirects, "GET", authorize, http.Header{"Cookie": {cookies[k%len(cookies)]}}, nil)
				to, err := url.Parse(resp.Header.Get("Location"))
				if resp.Status != http.StatusFound || err != nil || to.Query().Get("code") == "" {
					b.Fatalf("authorize with the session: %d %s %s", resp.Status, resp.Header.Get("Location"), resp.Body)
				}
				redeemForIDToken(b, issuer, clientID, secret, to.Query().Get("code"), callback)
			})
		})
	}
}
