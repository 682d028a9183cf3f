package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestOps(t *testing.T) {
	t.Parallel()
	const metricsToken = "prometheus-scrapes-with-this"
	forEachEngine(t, func(cfg *server.Config) { cfg.MetricsToken = metricsToken }, func(t *testing.T, e *env) {
		get := func(path string) testenv.Response { return send(t, "GET", e.node.URL+path, nil, nil) }

		for _, path := range []string{"/healthz", "/readyz"} {
			resp := get(path)
			if resp.Status != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: status %d: %s", path, resp.Status, resp.Body)
			}
			assertSame(t, resp.JSON(t), map[string]any{"status": "ok"})
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no X-Request-Id", path)
			}
			if resp.Header.Get("RateLimit-Limit") != "" {
				t.Errorf("%s: RateLimit-Limit %q with rate limits off", path, resp.Header.Get("RateLimit-Limit"))
			}
		}

		t.Run("not found", func(t *testing.T) {
			for _, path := range []string{"/nope", "/", "/v1", "/v1/tenants/" + e.tenant() + "/bogus", "/v2/tenants/" + e.tenant(),
				"/v1/tenants/" + e.tenant() + "/realms/" + e.adminRealm() + "/roles"} {
				for _, token := range []string{"", e.api.token} {
					h := http.Header{}
					if token != "" {
						h.Set("Authorization", "Bearer "+token)
					}
					body := assertError(t, send(t, "GET", e.node.URL+path, h, nil), http.StatusNotFound, "not_found", "not found")
					assertKeys(t, body, "code", "message")
				}
			}
		})

		t.Run("method not allowed", func(t *testing.T) {
			realm := "/v1/tenants/" + e.tenant() + "/realms/" + e.adminRealm()
			for _, tc := range []struct {
				method, path string
				allow        []string
			}{
				{"POST", "/healthz", []string{"GET"}},
				{"DELETE", "/v1/tenants/" + e.tenant(), []string{"GET", "PATCH"}},
				{"PUT", realm + "/identities/0123456789abcdef", []string{"GET", "PATCH", "DELETE"}},
				{"DELETE", realm + "/identities", []string{"GET", "POST"}},
				{"GET", realm + "/applications/" + e.app() + "/token", []string{"POST"}},
				{"GET", realm + "/identities:batchDelete", []string{"POST"}},
			} {
				t.Run(tc.method+" "+tc.path, func(t *testing.T) {
					h := http.Header{"Authorization": {"Bearer " + e.api.token}}
					resp := send(t, tc.method, e.node.URL+tc.path, h, nil)
					body := assertError(t, resp, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
					assertKeys(t, body, "code", "message")
					allow := resp.Header.Get("Allow")
					for _, m := range tc.allow {
						if !strings.Contains(allow, m) {
							t.Errorf("Allow %q lacks %s", allow, m)
						}
					}
				})
			}
		})

		t.Run("metrics", func(t *testing.T) {
			e.api.get(t, "")
			for _, h := range []http.Header{nil, {"Authorization": {"Bearer " + e.api.token}}, {"Authorization": {"Bearer " + metricsToken + "x"}}} {
				resp := send(t, "GET", e.node.URL+"/metrics", h, nil)
				assertBareError(t, resp, http.StatusUnauthorized, "unauthorized", "unauthorized")
				if resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(resp.Body), "latchkey_http") {
					t.Errorf("/metrics without its token: %v %s", resp.Header, resp.Body)
				}
			}
			resp := send(t, "GET", e.node.URL+"/metrics", http.Header{"Authorization": {"Bearer " + metricsToken}}, nil)
			if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("/metrics: status %d, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			text := string(resp.Body)
			for _, want := range []string{
				"# TYPE latchkey_http_requests_total counter",
				`latchkey_http_requests_total{code="200",method="GET",route="GET /v1/tenants/{tenant}"} `,
				`latchkey_http_requests_total{code="404",method="GET",route="unmatched"} `,
				"latchkey_http_request_duration_seconds_bucket",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		})
	})
}

// TestReadyzFollowsTheDatabase: /readyz answers 503 in the API's error
// format while the node's PostgreSQL database refuses connections, and 200
// again once it accepts them; /healthz stays 200 throughout.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	n := testenv.StartNode(t, "postgres", func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	dsn, err := url.Parse(n.Config.Database)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(dsn.Path, "/")
	admin, err := sql.Open("pgx", os.Getenv("LATCHKEY_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	exec := func(statement string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(t.Context(), statement, args...); err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	}
	status := func(path string) int { return send(t, "GET", n.URL+path, nil, nil).Status }

	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with the database up: %d, want 200", got)
	}

	// New sessions are refused first, so that the node cannot reconnect
	// between the termination of its sessions and the request.
	exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	// pg_terminate_backend only signals: wait until the sessions are gone.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var sessions int
		if err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if sessions == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open on %s", sessions, name)
		}
	}
	body := assertError(t, send(t, "GET", n.URL+"/readyz", nil, nil), http.StatusServiceUnavailable, "service_unavailable", "database unreachable")
	assertKeys(t, body, "code", "message")
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz with the database down: %d, want 200 (the process is up)", got)
	}

	// Once the database accepts connections again the node reconnects; the
	// first check may still meet a connection the pool had not yet dropped.
	exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS true`)
	got := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = status("/readyz"); got == http.StatusOK {
			break
		}
	}
	if got != http.StatusOK {
		t.Errorf("/readyz 5 s after the database accepts connections again: %d, want 200", got)
	}
}

// rateLimitHeaders returns the RateLimit-* headers as numbers.
func rateLimitHeaders(t testing.TB, resp testenv.Response) (limit, remaining, reset int) {
	t.Helper()
	n := func(name string) int {
		v, err := strconv.Atoi(resp.Header.Get(name))
		if err != nil {
			t.Fatalf("%s %q: %v", name, resp.Header.Get(name), err)
		}
		return v
	}
	return n("RateLimit-Limit"), n("RateLimit-Remaining"), n("RateLimit-Reset")
}

// assertAdmitted requires a 200 with the RateLimit-* headers of a bucket of 3.
func assertAdmitted(t testing.TB, resp testenv.Response, remaining int) {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", resp.Status, resp.Body)
	}
	limit, rem, reset := rateLimitHeaders(t, resp)
	if limit != 3 || rem != remaining || reset < 1 || reset > 3 {
		t.Errorf("RateLimit-Limit %d Remaining %d Reset %d, want 3, %d, 1…3", limit, rem, reset, remaining)
	}
}

// assertLimited requires the 429 of an empty bucket of 3 and returns its Retry-After.
func assertLimited(t testing.TB, resp testenv.Response) time.Duration {
	t.Helper()
	body := assertError(t, resp, http.StatusTooManyRequests, "too_many_requests", "too many requests")
	assertKeys(t, body, "code", "message")
	limit, rem, reset := rateLimitHeaders(t, resp)
	if limit != 3 || rem != 0 || reset < 1 || reset > 3 {
		t.Errorf("RateLimit-Limit %d Remaining %d Reset %d, want 3, 0, 1…3", limit, rem, reset)
	}
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds", resp.Header.Get("Retry-After"))
	}
	return time.Duration(retry) * time.Second
}

func TestRateLimitPerToken(t *testing.T) {
	limit := func(cfg *server.Config) { cfg.TokenRate, cfg.TokenBurst = 1, 3 }
	forEachEngine(t, limit, func(t *testing.T, e *env) {
		first := e.api
		for i := range 3 {
			assertAdmitted(t, first.do(t, "GET", "/realms", nil), 2-i)
		}
		retry := assertLimited(t, first.do(t, "GET", "/realms", nil))
		assertLimited(t, first.do(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Refused"}}))
		if l := e.api.withToken(e.node.Token(t, "")).list(t, "/realms", "filter", `display_name eq "Refused"`); len(items(t, l, "realms")) != 0 {
			t.Error("a refused request was carried out")
		}

		// Another token has its own bucket (the one above took a request of it).
		second := e.api.withToken(e.node.Token(t, ""))
		assertAdmitted(t, second.do(t, "GET", "/realms", nil), 2)
		// Requests without a valid token are not limited per token.
		for range 5 {
			assertBareError(t, first.withToken("garbage").do(t, "GET", "/realms", nil), http.StatusUnauthorized, "unauthorized", "unauthorized")
		}
		if resp := send(t, "GET", e.node.URL+"/healthz", nil, nil); resp.Status != http.StatusOK {
			t.Errorf("/healthz: status %d", resp.Status)
		}

		time.Sleep(retry) // the rate limit demands it: wait for the bucket to refill
		if resp := first.do(t, "GET", "/realms", nil); resp.Status != http.StatusOK {
			t.Errorf("after Retry-After: status %d", resp.Status)
		}
	})
}

func TestRateLimitPerIP(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.IPRate, cfg.IPBurst = 1, 3
			})
			for i := range 3 {
				assertAdmitted(t, send(t, "GET", n.URL+"/healthz", nil, nil), 2-i)
			}
			retry := assertLimited(t, send(t, "GET", n.URL+"/healthz", nil, nil))
			// Every endpoint counts, the token endpoint and unauthenticated requests too.
			creds := n.Creds()
			form := url.Values{"grant_type": {"client_credentials"}}
			assertLimited(t, postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret))
			assertLimited(t, send(t, "GET", n.URL+"/v1/tenants/"+creds.TenantID, nil, nil))
			assertLimited(t, send(t, "GET", n.URL+"/nope", nil, nil))

			t.Run("another client IP is admitted", func(t *testing.T) {
				resp, err := getFrom(t.Context(), "127.0.0.2", n.URL+"/healthz")
				if err != nil {
					t.Skipf("cannot connect from 127.0.0.2 on this system: %v", err)
				}
				assertAdmitted(t, resp, 2)
			})

			time.Sleep(retry) // the rate limit demands it: wait for the bucket to refill
			if resp := postToken(t, creds.TokenEndpoint, form, creds.ClientID, creds.ClientSecret); resp.Status != http.StatusOK {
				t.Errorf("after Retry-After: status %d: %s", resp.Status, resp.Body)
			}
		})
	}
}

// fromIP is a client whose connections come from the local address ip.
func fromIP(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// getFrom sends a GET from the local address ip.
func getFrom(ctx context.Context, ip, rawURL string) (testenv.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		return testenv.Response{}, err
	}
	resp, err := fromIP(ip).Do(req)
	if err != nil {
		return testenv.Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// TestMetricsListen: with --metrics-listen the metrics are served there
// alone, and not on the API's address; without a token or a listener of
// their own they are not served at all.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(cfg *server.Config) { cfg.MetricsListen = "127.0.0.1:0" }, func(t *testing.T, e *env) {
		assertError(t, send(t, "GET", e.node.URL+"/metrics", nil, nil), http.StatusNotFound, "not_found", "not found")
		metrics := "http://" + e.node.MetricsAddr().String()
		if resp := send(t, "GET", metrics+"/metrics", nil, nil); resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), "latchkey_http_requests_total") {
			t.Errorf("/metrics on --metrics-listen: %d %s", resp.Status, resp.Body)
		}
		assertError(t, send(t, "GET", metrics+"/v1/tenants/"+e.tenant(), nil, nil), http.StatusNotFound, "not_found", "not found")
	})
}

// TestRateLimitBehindProxy: X-Forwarded-For names the client only when the
// TCP peer is a trusted proxy, and then its right-most address that is not
// a trusted proxy (what the client wrote left of it is ignored); rate
// limits and audit events go by that address.
func TestRateLimitBehindProxy(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.IPRate, cfg.IPBurst = 1, 3
				_, proxy, _ := net.ParseCIDR("127.0.0.1/32")
				cfg.TrustedProxies = []net.IPNet{*proxy}
			})
			via := func(hc *http.Client, method, path, forwarded, token string, body any) testenv.Response {
				t.Helper()
				h := http.Header{"X-Forwarded-For": {forwarded}, "Authorization": {"Bearer " + token}}
				rd := testenv.Body(t, body)
				if rd != nil {
					h.Set("Content-Type", "application/json")
				}
				return sendWith(t, hc, method, n.URL+path, h, rd)
			}
			for i := range 3 {
				assertAdmitted(t, via(pooledHTTP, "GET", "/healthz", "198.51.100.1", "", nil), 2-i)
			}
			assertLimited(t, via(pooledHTTP, "GET", "/healthz", "198.51.100.1", "", nil))
			assertLimited(t, via(pooledHTTP, "GET", "/healthz", "198.51.100.1, 127.0.0.1", "", nil)) // a trusted hop is skipped
			assertAdmitted(t, via(pooledHTTP, "GET", "/healthz", "198.51.100.1, 198.51.100.2", "", nil), 2)
			assertAdmitted(t, via(pooledHTTP, "GET", "/healthz", "198.51.100.3", "", nil), 2) // the proxy's own bucket is untouched

			// Audit events record the client the trusted proxy names.
			creds := n.Creds()
			token := func(forwarded string) string {
				resp := sendWith(t, pooledHTTP, "POST", creds.TokenEndpoint, http.Header{"X-Forwarded-For": {forwarded},
					"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(creds.ClientID+":"+creds.ClientSecret))}},
					strings.NewReader("grant_type=client_credentials"))
				return str(t, resp.JSON(t), "access_token")
			}
			tok := token("198.51.100.5")
			realm := func(resp testenv.Response) string {
				t.Helper()
				if resp.Status != http.StatusOK {
					t.Fatalf("create a realm: %d %s", resp.Status, resp.Body)
				}
				return str(t, resp.JSON(t), "id")
			}
			viaProxy := realm(via(pooledHTTP, "POST", "/v1/tenants/"+creds.TenantID+"/realms", "203.0.113.1, 198.51.100.5", tok,
				map[string]any{"realm": map[string]any{"display_name": "Via proxy", "classification": "SECURE_CUSTOMER"}}))
			clientIP := func(realm string) any {
				t.Helper()
				events := via(pooledHTTP, "GET", "/v1/tenants/"+creds.TenantID+"/realms/"+realm+"/events", "198.51.100.6", tok, nil).JSON(t)
				return items(t, events, "events")[0]["client_ip"]
			}
			if ip := clientIP(viaProxy); ip != "198.51.100.5" {
				t.Errorf("the event of a request through a trusted proxy records %v, want 198.51.100.5", ip)
			}

			// Another peer is no trusted proxy: its X-Forwarded-For is ignored.
			untrusted := fromIP("127.0.0.2")
			if _, err := getFrom(t.Context(), "127.0.0.2", n.URL+"/healthz"); err != nil {
				t.Skipf("cannot connect from 127.0.0.2 on this system: %v", err)
			}
			direct := realm(via(untrusted, "POST", "/v1/tenants/"+creds.TenantID+"/realms", "198.51.100.7", tok,
				map[string]any{"realm": map[string]any{"display_name": "Direct", "classification": "SECURE_CUSTOMER"}}))
			if ip := clientIP(direct); ip != "127.0.0.2" {
				t.Errorf("the event of a request from an untrusted peer records %v, want 127.0.0.2", ip)
			}
			// One bucket whatever it claims: its three requests so far came as three clients.
			assertAdmitted(t, via(untrusted, "GET", "/healthz", "198.51.100.8", "", nil), 0)
			assertLimited(t, via(untrusted, "GET", "/healthz", "198.51.100.9", "", nil))
		})
	}
}
