package main_test

// End-to-end tests: they build the real latchkey binary once (pure Go,
// CGO_ENABLED=0) and run it as separate OS processes, talking to it over
// HTTP(S) only. Tests that need PostgreSQL get a fresh database from
// testenv.PostgresDSN, which skips them when LATCHKEY_TEST_POSTGRES is unset.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv" // also registers the "pgx" and "sqlite" SQL drivers
)

// binary is the latchkey executable that TestMain builds.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "latchkey-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "latchkey")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "CGO_ENABLED=0 go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Flags that turn rate limiting off, for tests that generate load.
var noRateLimits = []string{"--rate-limit-token", "0", "--rate-limit-ip", "0"}

// ---------------------------------------------------------------------------
// Processes

// environ is this process's environment without LATCHKEY_* variables (so
// that a developer's settings cannot leak into the tests), plus extra.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freeAddr returns localhost:PORT with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// output is a file that a process writes to directly (no copying goroutine
// in between), so that what it printed before answering a request is there
// to read once the answer has come.
type output struct{ path string }

func (o output) String() string {
	b, _ := os.ReadFile(o.path)
	return string(b)
}

// tail is the end of s, for failure messages.
func tail(s string) string {
	const max = 6000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// node is one `latchkey serve` process.
type node struct {
	URL     string // http(s)://localhost:PORT
	Addr    string // localhost:PORT
	DataDir string
	client  *http.Client // set once the node is ready
	trusted string       // the certificate file its https client trusts

	cmd            *exec.Cmd
	stdout, stderr output
	exited         chan struct{} // closed once the process has exited
	waitErr        error         // the exit status, once exited is closed
}

// serve starts `latchkey serve --listen addr --data-dir dataDir args…` and
// waits until it is ready.
func serve(t *testing.T, addr, dataDir string, args ...string) *node {
	t.Helper()
	n := launch(t, addr, dataDir, nil, append([]string{"serve", "--listen", addr, "--data-dir", dataDir}, args...)...)
	n.waitReady(t)
	return n
}

// launch starts the binary with args and the extra environment, without
// waiting. addr and dataDir say where the node will listen and keep its
// files; the URL is https when args hold --tls-self-signed or --tls-cert,
// and its client trusts only that certificate. The process is stopped when
// the test ends, and its output logged if the test failed.
func launch(t *testing.T, addr, dataDir string, env []string, args ...string) *node {
	t.Helper()
	scheme, trusted := "http", filepath.Join(dataDir, "tls-self-signed.crt")
	if i := slices.Index(args, "--tls-cert"); i >= 0 && i+1 < len(args) {
		scheme, trusted = "https", args[i+1]
	} else if slices.Contains(args, "--tls-self-signed") {
		scheme = "https"
	}
	n := &node{URL: scheme + "://" + addr, Addr: addr, DataDir: dataDir, trusted: trusted, exited: make(chan struct{})}
	n.cmd = exec.Command(binary, args...)
	n.cmd.Env = environ(env...)
	n.cmd.Dir = t.TempDir()
	logs := t.TempDir()
	n.stdout, n.stderr = output{filepath.Join(logs, "stdout")}, output{filepath.Join(logs, "stderr")}
	stdout, err := os.Create(n.stdout.path)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(n.stderr.path)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	n.cmd.Stdout, n.cmd.Stderr = stdout, stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.waitErr = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		if !n.hasExited() {
			n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
				if n.waitErr != nil {
					t.Errorf("%s: exit status after SIGTERM: %v", n.URL, n.waitErr)
				}
			case <-time.After(10 * time.Second):
				n.cmd.Process.Kill()
				<-n.exited
				t.Errorf("%s: did not exit within 10s of SIGTERM", n.URL)
			}
		}
		if n.client != nil {
			n.client.CloseIdleConnections()
		}
		if t.Failed() {
			t.Logf("latchkey %s (pid %d) stdout:\n%s\nstderr:\n%s",
				strings.Join(args, " "), n.cmd.Process.Pid, tail(n.stdout.String()), tail(n.stderr.String()))
		}
	})
	return n
}

func (n *node) hasExited() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// waitReady polls GET /healthz until it answers 200. An https node is
// reached with a client that trusts only the node's certificate (a
// self-signed one appears in the data directory once the node starts).
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		client, err := newClient(n.URL, n.trusted)
		if err == nil {
			var resp *http.Response
			if resp, err = client.Get(n.URL + "/healthz"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					n.client = client
					return
				}
				err = fmt.Errorf("GET /healthz: %s", resp.Status)
			}
			client.CloseIdleConnections()
		}
		last = err
		select {
		case <-n.exited:
			t.Fatalf("latchkey serve exited before it was ready (%v); stderr:\n%s", n.waitErr, tail(n.stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 30s: %v", n.URL, last)
		}
	}
}

// newClient returns an HTTP client for baseURL; for https it trusts only the
// certificate in certFile.
func newClient(baseURL, certFile string) (*http.Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	if strings.HasPrefix(baseURL, "https:") {
		pemBytes, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("no certificate in %s", certFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// stop sends SIGTERM and requires a clean exit (status 0) within 10 seconds.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if n.hasExited() {
		t.Fatalf("%s had already exited: %v", n.URL, n.waitErr)
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
		t.Fatalf("%s did not exit within 10s of SIGTERM", n.URL)
	}
	if n.waitErr != nil {
		t.Fatalf("%s: exit status after SIGTERM: %v, want 0", n.URL, n.waitErr)
	}
	n.client.CloseIdleConnections()
}

// kill sends SIGKILL and waits for the process to die.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.exited
	n.client.CloseIdleConnections()
}

// run runs the binary to completion and returns its output and exit error.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = environ(env...)
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// mustRun runs the binary, requires success, and returns its stdout.
func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, env, args...)
	if err != nil {
		t.Fatalf("latchkey %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, tail(stderr))
	}
	return stdout
}

// mustFail runs the binary, requires exit status 1, and returns its stderr.
func mustFail(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, env, args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("latchkey %s: got %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, tail(stderr))
	}
	return stderr
}

// ---------------------------------------------------------------------------
// API

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Body   []byte
}

// object decodes the body as a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %.500s", err, r.Body)
	}
	return m
}

// request sends method path (relative to the node's URL) with a bearer
// token ("" for none) and a JSON body (nil for none). It may be called from
// any goroutine.
func (n *node) request(ctx context.Context, method, path, token string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b}, err
}

// expect sends a request, requires the status want, and returns the body as
// a JSON object (nil when it is empty).
func (n *node) expect(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	resp, err := n.request(t.Context(), method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.Status != want {
		t.Fatalf("%s %s on %s: status %d, want %d: %.500s", method, path, n.URL, resp.Status, want, resp.Body)
	}
	if len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil
	}
	return resp.object(t)
}

// credentials reads <dir>/bootstrap.json.
func credentials(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]string
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("bootstrap.json: %v: %s", err, b)
	}
	return c
}

// token gets a management token with the node's bootstrap credentials.
func (n *node) token(t *testing.T) string {
	t.Helper()
	return n.tokenWith(t, credentials(t, n.DataDir))
}

// tokenWith gets a management token from the node with the given
// credentials (as bootstrap.json holds them), by the client-credentials grant.
func (n *node) tokenWith(t *testing.T, c map[string]string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c["token_endpoint"], strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c["client_id"], c["client_secret"])
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("token endpoint %s: %s: %s", c["token_endpoint"], resp.Status, body)
	}
	return out.AccessToken
}

// jwtPart decodes part i (0 header, 1 claims) of a JWT, failing the test
// when tok is not a three-part JWT.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatalf("JWT part %d of %q: %v", i, tok, err)
	}
	return m
}

func tenantPath(tenant string) string        { return "/v1/tenants/" + tenant }
func realmPath(tenant, realm string) string  { return tenantPath(tenant) + "/realms/" + realm }
func identities(tenant, realm string) string { return realmPath(tenant, realm) + "/identities" }

// createRealm creates a realm and returns its id.
func (n *node) createRealm(t *testing.T, token, tenant string) string {
	t.Helper()
	name := "E2E " + rand.Text()[:8] // display names are unique in a tenant
	r := n.expect(t, http.StatusOK, http.MethodPost, tenantPath(tenant)+"/realms", token,
		map[string]any{"realm": map[string]any{"display_name": name, "classification": "SECURE_CUSTOMER"}})
	return r["id"].(string)
}

func newIdentity(username string) map[string]any {
	return map[string]any{"identity": map[string]any{
		"display_name": "User " + username,
		"traits":       map[string]any{"type": "traits_v0", "username": username},
	}}
}

// createIdentities creates count identities with 16 concurrent clients and
// returns their ids.
func (n *node) createIdentities(t *testing.T, token, tenant, realm string, count int) []string {
	t.Helper()
	const workers = 16
	ids := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < count; i += workers {
				resp, err := n.request(t.Context(), http.MethodPost, identities(tenant, realm), token, newIdentity(fmt.Sprintf("user%04d", i)))
				var created struct{ ID string }
				switch {
				case err != nil:
					errs[i] = err
				case resp.Status != http.StatusOK:
					errs[i] = fmt.Errorf("status %d: %.300s", resp.Status, resp.Body)
				default:
					errs[i] = json.Unmarshal(resp.Body, &created)
					ids[i] = created.ID
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("create identities: %v", err)
	}
	return ids
}

// listIdentities pages through a realm's identities (200 a page) and returns
// the total_size of the first page and the ids of all pages. Every page must
// report the same total_size.
func (n *node) listIdentities(t *testing.T, token, tenant, realm, filter string) (total int, ids []string) {
	t.Helper()
	q := url.Values{"page_size": {"200"}}
	if filter != "" {
		q.Set("filter", filter)
	}
	for page := 0; ; page++ {
		var body struct {
			Identities []struct{ ID string } `json:"identities"`
			TotalSize  *int                  `json:"total_size"`
			Next       string                `json:"next_page_token"`
		}
		raw, _ := json.Marshal(n.expect(t, http.StatusOK, http.MethodGet, identities(tenant, realm)+"?"+q.Encode(), token, nil))
		if err := json.Unmarshal(raw, &body); err != nil || body.TotalSize == nil {
			t.Fatalf("list page %d: %v: %s", page, err, raw)
		}
		if page == 0 {
			total = *body.TotalSize
		} else if *body.TotalSize != total {
			t.Fatalf("page %d says total_size %d, the first page %d", page, *body.TotalSize, total)
		}
		for _, i := range body.Identities {
			ids = append(ids, i.ID)
		}
		if body.Next == "" {
			return total, ids
		}
		q.Set("page_token", body.Next)
	}
}

// newMasterKey returns a fresh master key: base64 of 32 random bytes.
func newMasterKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

const banner = "Latchkey is set up"

// ---------------------------------------------------------------------------
// Tests

// TestFirstStartAndRestart: an empty SQLite data dir is bootstrapped once,
// with a 0600 bootstrap.json that `latchkey token` uses; a restart keeps the
// tenant and the credentials.
func TestFirstStartAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	addr := freeAddr(t)
	n := serve(t, addr, dir)

	c := credentials(t, dir)
	if !strings.Contains(n.stdout.String(), banner+": tenant "+c["tenant_id"]) ||
		!strings.Contains(n.stdout.String(), "latchkey token --data-dir "+dir) {
		t.Errorf("first start: stdout lacks the banner for tenant %s:\n%s", c["tenant_id"], n.stdout.String())
	}
	info, err := os.Stat(filepath.Join(dir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.json mode %v, want 0600", info.Mode().Perm())
	}
	keys := slices.Sorted(maps.Keys(c))
	want := []string{"api_base_url", "application_id", "client_id", "client_secret", "realm_id", "tenant_id", "token_endpoint"}
	if !slices.Equal(keys, want) {
		t.Errorf("bootstrap.json keys %v, want exactly %v", keys, want)
	}
	for k, v := range c {
		if v == "" {
			t.Errorf("bootstrap.json: %s is empty", k)
		}
	}
	if c["api_base_url"] != n.URL || !strings.HasPrefix(c["token_endpoint"], n.URL+"/v1/tenants/"+c["tenant_id"]+"/") {
		t.Errorf("api_base_url %q, token_endpoint %q; want them on %s", c["api_base_url"], c["token_endpoint"], n.URL)
	}

	out := mustRun(t, nil, "token", "--data-dir", dir)
	tok := strings.TrimSuffix(out, "\n")
	if strings.ContainsAny(tok, " \n") || jwtPart(t, tok, 0)["alg"] != "RS256" {
		t.Fatalf("latchkey token printed %q, want one RS256 JWT", out)
	}
	tenant := n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
	if tenant["id"] != c["tenant_id"] {
		t.Errorf("GET tenant answered %v", tenant)
	}
	n.expect(t, http.StatusUnauthorized, http.MethodGet, tenantPath(c["tenant_id"]), tok+"x", nil)

	// A long-lived SCIM token, as Okta or Entra ID is given.
	scimTok := strings.TrimSpace(mustRun(t, nil, "token", "--data-dir", dir, "--scope", "scim:all", "--lifetime", "8760h"))
	if claims := jwtPart(t, scimTok, 1); claims["exp"].(float64)-claims["iat"].(float64) != 8760*3600 || claims["scope"] != "scim:all" {
		t.Errorf("SCIM token claims %v, want scope scim:all and a lifetime of 8760h", claims)
	}
	n.expect(t, http.StatusOK, http.MethodGet, realmPath(c["tenant_id"], c["realm_id"])+"/scim/v2/Users?count=0", scimTok, nil)
	n.expect(t, http.StatusForbidden, http.MethodGet, tenantPath(c["tenant_id"]), scimTok, nil)

	n.stop(t)
	n = serve(t, addr, dir)
	if strings.Contains(n.stdout.String(), banner) {
		t.Errorf("restart printed the banner again:\n%s", n.stdout.String())
	}
	if again := credentials(t, dir); !maps.Equal(again, c) {
		t.Errorf("restart changed bootstrap.json:\n%v\nbefore:\n%v", again, c)
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil) // the old token
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), n.tokenWith(t, c), nil)
}

// TestConfiguration: LATCHKEY_* variables stand in for absent flags and
// flags beat them; version and migrate work.
func TestConfiguration(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		env := []string{"LATCHKEY_LISTEN=" + addr, "LATCHKEY_DATA_DIR=" + dir}
		n := launch(t, addr, dir, env, "serve")
		n.waitReady(t)
		c := credentials(t, dir)
		if c["api_base_url"] != "http://"+addr {
			t.Errorf("api_base_url %q, want http://%s", c["api_base_url"], addr)
		}
		tok := strings.TrimSpace(mustRun(t, env, "token"))
		n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
	})

	t.Run("flags win", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		envDir := filepath.Join(t.TempDir(), "from-env")
		// Were the variables used, the node could not listen, and would
		// write to envDir.
		env := []string{"LATCHKEY_LISTEN=256.0.0.1:1", "LATCHKEY_DATA_DIR=" + envDir}
		n := launch(t, addr, dir, env, "serve", "--listen", addr, "--data-dir", dir)
		n.waitReady(t)
		if c := credentials(t, dir); c["api_base_url"] != "http://"+addr {
			t.Errorf("api_base_url %q, want http://%s", c["api_base_url"], addr)
		}
		if _, err := os.Stat(envDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LATCHKEY_DATA_DIR was used despite --data-dir: %v", err)
		}
	})

	t.Run("version", func(t *testing.T) {
		out := mustRun(t, nil, "version")
		if !strings.HasPrefix(out, "latchkey") || strings.Count(out, "\n") != 1 {
			t.Errorf("latchkey version printed %q", out)
		}
	})

	t.Run("migrate sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		if out := mustRun(t, nil, "migrate", "--data-dir", dir); !strings.Contains(out, "database is up to date") {
			t.Errorf("migrate printed %q", out)
		}
		checkMigrated(t, "sqlite", "file:"+filepath.Join(dir, "latchkey.db")+"?mode=ro")
		if out := mustRun(t, nil, "migrate", "--data-dir", dir); !strings.Contains(out, "database is up to date") {
			t.Errorf("second migrate printed %q", out)
		}
	})

	t.Run("migrate postgres", func(t *testing.T) {
		dsn := testenv.PostgresDSN(t)
		out := mustRun(t, nil, "migrate", "--data-dir", t.TempDir(), "--database", dsn)
		if !strings.Contains(out, "database is up to date") {
			t.Errorf("migrate printed %q", out)
		}
		checkMigrated(t, "pgx", dsn)
	})
}

// checkMigrated requires the database to have the schema but no data: the
// migrate command does not bootstrap.
func checkMigrated(t *testing.T, driver, dsn string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"tenants", "identities", "tokens", "signing_keys"} {
		var k int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&k); err != nil {
			t.Errorf("after migrate: table %s: %v", table, err)
		} else if k != 0 {
			t.Errorf("after migrate: table %s has %d rows, want 0", table, k)
		}
	}
}

// TestSelfSignedTLS: --tls-self-signed serves HTTPS with a certificate kept
// in the data dir, advertised https URLs, and `latchkey token` trusting it.
func TestSelfSignedTLS(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	n := serve(t, addr, dir, "--tls-self-signed")
	if !strings.HasPrefix(n.URL, "https://localhost:") {
		t.Fatalf("URL %s", n.URL)
	}
	c := credentials(t, dir)
	for _, k := range []string{"api_base_url", "token_endpoint"} {
		if !strings.HasPrefix(c[k], "https://localhost:") {
			t.Errorf("%s is %q, want https://localhost:…", k, c[k])
		}
	}
	tok := strings.TrimSpace(mustRun(t, nil, "token", "--data-dir", dir))
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)

	// Plain HTTP is not served on the port.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}

	certFile := filepath.Join(dir, "tls-self-signed.crt")
	first, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "tls-self-signed.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}

	n.stop(t)
	n = serve(t, addr, dir, "--tls-self-signed")
	again, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("restart replaced the self-signed certificate")
	}
	resp, err := n.client.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	block, _ := pem.Decode(first)
	if block == nil || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, block.Bytes) {
		t.Error("after restart the node serves another certificate than the one first written")
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
}

// TestRequestLogs: in both log formats every request's log line carries the
// request id its answer returned in X-Request-Id (a valid incoming one is
// kept), with the method, path and status; in json every stderr line is a
// JSON object.
func TestRequestLogs(t *testing.T) {
	for _, tc := range []struct {
		format string
		fields func(line string) (map[string]string, error)
	}{
		{"json", jsonLogFields},
		{"text", textLogFields},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			n := serve(t, freeAddr(t), dir, "--log-format", tc.format)
			tok := n.token(t)
			for _, req := range []struct {
				path, token, requestID string
				status                 int
			}{
				{tenantPath(credentials(t, dir)["tenant_id"]), tok, "", http.StatusOK},
				{"/v1/nope", "", "", http.StatusNotFound},
				{"/healthz", "", "caller-chosen.id_1", http.StatusOK},
			} {
				id := n.requestID(t, req.path, req.token, req.requestID, req.status)
				if req.requestID != "" && id != req.requestID {
					t.Errorf("GET %s: X-Request-Id %q, want the incoming %q", req.path, id, req.requestID)
				}
				line := n.waitLog(t, tc.fields, func(f map[string]string) bool { return f["msg"] == "request" && f["request_id"] == id })
				want := map[string]string{"method": "GET", "path": req.path, "status": strconv.Itoa(req.status)}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("log line of request %s: %s %q, want %q", id, k, line[k], v)
					}
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(n.stderr.String()), "\n") {
				f, err := tc.fields(line)
				if err != nil {
					t.Errorf("stderr line is not a %s log line (%v): %s", tc.format, err, line)
				} else if f["msg"] == "request" && f["request_id"] == "" {
					t.Errorf("request log line without request_id: %s", line)
				}
			}
		})
	}
}

// requestID sends GET path, with X-Request-Id incoming unless it is "",
// requires the status want, and returns the X-Request-Id of the answer.
func (n *node) requestID(t *testing.T, path, token, incoming string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, n.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if incoming != "" {
		req.Header.Set("X-Request-Id", incoming)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != want || id == "" {
		t.Fatalf("GET %s: status %d, X-Request-Id %q; want %d and an id", path, resp.StatusCode, id, want)
	}
	return id
}

// waitLog returns the fields of the first stderr line that match accepts,
// waiting for it: the line is written as the answer goes out.
func (n *node) waitLog(t *testing.T, fields func(string) (map[string]string, error), match func(map[string]string) bool) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(n.stderr.String(), "\n") {
			if f, err := fields(line); err == nil && match(f) {
				return f
			}
		}
	}
	t.Fatalf("no matching log line within 5s; stderr:\n%s", tail(n.stderr.String()))
	return nil
}

// jsonLogFields reads a JSON log line, its values as text.
func jsonLogFields(line string) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return nil, err
	}
	f := make(map[string]string, len(m))
	for k, v := range m {
		f[k] = fmt.Sprint(v)
	}
	return f, nil
}

// textLogKV is one key=value of a log/slog text line; quoted values are Go strings.
var textLogKV = regexp.MustCompile(`(\S+?)=("(?:[^"\\]|\\.)*"|\S*)(?: |$)`)

// textLogFields reads a log/slog text line.
func textLogFields(line string) (map[string]string, error) {
	f := map[string]string{}
	rest := line
	for rest != "" {
		m := textLogKV.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, fmt.Errorf("not key=value at %q", rest)
		}
		key, value := rest[m[2]:m[3]], rest[m[4]:m[5]]
		if strings.HasPrefix(value, `"`) {
			var err error
			if value, err = strconv.Unquote(value); err != nil {
				return nil, err
			}
		}
		f[key] = value
		rest = rest[m[1]:]
	}
	if f["msg"] == "" {
		return nil, errors.New("no msg")
	}
	return f, nil
}

// TestTLSCertificate: --tls-cert and --tls-key serve HTTPS with that
// certificate, the only one the client trusts; an incomplete or mismatched
// pair stops the start, before anything is bootstrapped, naming the flags.
func TestTLSCertificate(t *testing.T) {
	certs := t.TempDir()
	cert, key := writeCertificate(t, certs, "localhost")
	otherCert, otherKey := writeCertificate(t, certs, "other")
	addr, dir := freeAddr(t), t.TempDir()

	for _, tc := range []struct {
		name string
		tls  []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", key}, "--tls-cert and --tls-key go together"},
		{"key of another cert", []string{"--tls-cert", cert, "--tls-key", otherKey}, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := mustFail(t, nil, append([]string{"serve", "--listen", addr, "--data-dir", dir}, tc.tls...)...)
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "--tls-cert") {
				t.Errorf("stderr does not say %q about --tls-cert:\n%s", tc.want, tail(stderr))
			}
			if _, err := os.Stat(filepath.Join(dir, "bootstrap.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed start bootstrapped: %v", err)
			}
		})
	}

	n := serve(t, addr, dir, "--tls-cert", cert, "--tls-key", key)
	c := credentials(t, dir)
	if c["api_base_url"] != "https://"+addr {
		t.Errorf("api_base_url %q, want https://%s", c["api_base_url"], addr)
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), n.token(t), nil)

	resp, err := n.client.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(pemBytes); block == nil || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, block.Bytes) {
		t.Error("the node serves another certificate than --tls-cert")
	}
	// A client trusting another certificate is refused: trust is really checked.
	other, err := newClient(n.URL, otherCert)
	if err != nil {
		t.Fatal(err)
	}
	defer other.CloseIdleConnections()
	if resp, err := other.Get(n.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a client trusting another certificate reached the node")
	}
}

// writeCertificate writes a self-signed certificate for localhost and its
// key to dir/name.crt and dir/name.key.
func writeCertificate(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestMasterKey: a database refuses a master key other than its own, given
// by flag or by LATCHKEY_MASTER_KEY.
func TestMasterKey(t *testing.T) {
	t.Run("generated key", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		serve(t, addr, dir).stop(t) // creates the database with a generated key
		stderr := mustFail(t, nil, "serve", "--listen", addr, "--data-dir", dir, "--master-key", newMasterKey())
		if !strings.Contains(stderr, "master key does not match") || !strings.Contains(stderr, "--master-key") {
			t.Errorf("stderr does not explain the master key mismatch:\n%s", tail(stderr))
		}
	})

	t.Run("LATCHKEY_MASTER_KEY", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		key := newMasterKey()
		n := launch(t, addr, dir, []string{"LATCHKEY_MASTER_KEY=" + key}, "serve", "--listen", addr, "--data-dir", dir)
		n.waitReady(t)
		n.stop(t)
		if _, err := os.Stat(filepath.Join(dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a master.key file was generated although LATCHKEY_MASTER_KEY was set: %v", err)
		}
		// The same key as a flag opens the database.
		n = serve(t, addr, dir, "--master-key", key)
		tok := n.token(t)
		n.stop(t)
		// Another key in the variable does not, nor the generated default.
		stderr := mustFail(t, []string{"LATCHKEY_MASTER_KEY=" + newMasterKey()}, "serve", "--listen", addr, "--data-dir", dir)
		if !strings.Contains(stderr, "--master-key") {
			t.Errorf("stderr does not name --master-key:\n%s", tail(stderr))
		}
		mustFail(t, nil, "serve", "--listen", addr, "--data-dir", dir)
		// The flag beats a wrong variable.
		n = launch(t, addr, dir, []string{"LATCHKEY_MASTER_KEY=" + newMasterKey()},
			"serve", "--listen", addr, "--data-dir", dir, "--master-key", key)
		n.waitReady(t)
		n.expect(t, http.StatusOK, http.MethodGet, tenantPath(credentials(t, dir)["tenant_id"]), tok, nil)
	})
}

// startCluster starts two nodes on one PostgreSQL database at the same
// time, and checks that they bootstrapped it exactly once (the same
// credentials in both bootstrap.json files, one banner), publish the same
// signing keys, and accept each other's tokens.
func startCluster(t *testing.T, dsn string) (a, b *node) {
	t.Helper()
	args := append([]string{"--database", dsn, "--master-key", newMasterKey()}, noRateLimits...)
	var nodes [2]*node
	for i := range nodes {
		addr, dir := freeAddr(t), t.TempDir()
		nodes[i] = launch(t, addr, dir, nil, append([]string{"serve", "--listen", addr, "--data-dir", dir}, args...)...)
	}
	for _, n := range nodes {
		n.waitReady(t)
	}
	a, b = nodes[0], nodes[1]
	ca, cb := credentials(t, a.DataDir), credentials(t, b.DataDir)
	for _, k := range []string{"tenant_id", "realm_id", "application_id", "client_id", "client_secret"} {
		if ca[k] != cb[k] {
			t.Errorf("bootstrap.json %s: node A %q, node B %q", k, ca[k], cb[k])
		}
	}
	if banners := strings.Count(a.stdout.String()+b.stdout.String(), banner); banners != 1 {
		t.Errorf("%d nodes printed the bootstrap banner, want exactly 1", banners)
	}
	jwks := realmPath(ca["tenant_id"], ca["realm_id"]) + "/applications/" + ca["application_id"] + "/.well-known/jwks.json"
	ka, kb := keyIDs(t, a, jwks), keyIDs(t, b, jwks)
	if len(ka) == 0 || !slices.Equal(ka, kb) {
		t.Errorf("the nodes publish different signing keys: A %v, B %v", ka, kb)
	}
	for _, from := range nodes {
		tok := from.token(t)
		for _, to := range nodes {
			if r, err := to.request(t.Context(), http.MethodGet, tenantPath(ca["tenant_id"]), tok, nil); err != nil || r.Status != http.StatusOK {
				t.Errorf("a token of %s on %s: %v %d %s", from.URL, to.URL, err, r.Status, r.Body)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return a, b
}

// keyIDs lists the key ids of a JWKS.
func keyIDs(t *testing.T, n *node, path string) []string {
	t.Helper()
	var set struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	raw, _ := json.Marshal(n.expect(t, http.StatusOK, http.MethodGet, path, "", nil))
	json.Unmarshal(raw, &set)
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

// TestConcurrentStartOnMigratedDatabase: with the schema already in place
// (`latchkey migrate`), no migration lock staggers the nodes, so they reach
// bootstrap together; still one tenant and one set of signing keys result.
func TestConcurrentStartOnMigratedDatabase(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	mustRun(t, nil, "migrate", "--data-dir", t.TempDir(), "--database", dsn)
	startCluster(t, dsn)
}

// TestTwoNodesOnePostgres: two processes share a PostgreSQL database: they
// bootstrap it once, enforce unique usernames together, and see each
// other's token revocations at once.
func TestTwoNodesOnePostgres(t *testing.T) {
	a, b := startCluster(t, testenv.PostgresDSN(t))
	nodes := []*node{a, b}
	ca := credentials(t, a.DataDir)
	tenant := ca["tenant_id"]
	tokA, tokB := a.token(t), b.token(t)
	realm := a.createRealm(t, tokA, tenant)

	t.Run("unique username across nodes", func(t *testing.T) {
		const requests = 50
		type result struct {
			resp response
			err  error
		}
		results := make([]result, requests)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range requests {
			n, tok := a, tokA
			if i%2 == 1 {
				n, tok = b, tokB
			}
			wg.Go(func() {
				<-start
				resp, err := n.request(t.Context(), http.MethodPost, identities(tenant, realm), tok, newIdentity(letterCase("alice", i)))
				results[i] = result{resp, err}
			})
		}
		close(start)
		wg.Wait()
		var created []string
		conflicts := 0
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("request %d: %v", i, r.err)
			case r.resp.Status == http.StatusOK:
				created = append(created, r.resp.object(t)["id"].(string))
			case r.resp.Status == http.StatusConflict && r.resp.object(t)["code"] == "conflict":
				conflicts++
			default:
				t.Errorf("request %d (%q): status %d: %s", i, letterCase("alice", i), r.resp.Status, r.resp.Body)
			}
		}
		if len(created) != 1 || conflicts != requests-1 {
			t.Fatalf("%d created, %d conflicts; want 1 and %d", len(created), conflicts, requests-1)
		}
		for _, n := range nodes {
			total, ids := n.listIdentities(t, tokA, tenant, realm, `traits.username eq "alice"`)
			if total != 1 || !slices.Equal(ids, created) {
				t.Errorf("%s: filter lists total_size %d, ids %v; want 1, %v", n.URL, total, ids, created)
			}
		}
	})

	t.Run("revocation across nodes", func(t *testing.T) {
		victim := a.token(t)
		path := tenantPath(tenant)
		a.expect(t, http.StatusOK, http.MethodGet, path, victim, nil)
		b.expect(t, http.StatusOK, http.MethodGet, path, victim, nil)
		jti, _ := jwtPart(t, victim, 1)["jti"].(string)
		if jti == "" {
			t.Fatal("token has no jti")
		}
		b.expect(t, http.StatusOK, http.MethodDelete,
			realmPath(tenant, ca["realm_id"])+"/applications/"+ca["application_id"]+"/tokens/"+jti, tokB, nil)
		a.expect(t, http.StatusUnauthorized, http.MethodGet, path, victim, nil)
		b.expect(t, http.StatusUnauthorized, http.MethodGet, path, victim, nil)
		a.expect(t, http.StatusOK, http.MethodGet, path, tokA, nil) // other tokens live on
	})
}

// letterCase returns s with the letters whose bit is set in i upper-cased.
func letterCase(s string, i int) string {
	b := []byte(s)
	for j := range b {
		if i>>j&1 == 1 {
			b[j] = byte(strings.ToUpper(string(b[j]))[0])
		}
	}
	return string(b)
}

// TestKillDuringBatchDelete: SIGKILL while a batch delete of 1000 identities
// runs leaves all of them or none, on both engines. A first, undisturbed
// batch delete measures how long one takes; the node is then killed at
// fractions of that time after sending, so that kills land before, during
// and around the commit.
func TestKillDuringBatchDelete(t *testing.T) {
	const count = 1000
	fractions := []float64{0, 0.2, 0.4, 0.6, 0.8, 1, 1.5}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			args := noRateLimits
			if engine == "postgres" {
				args = append(slices.Clone(args), "--database", testenv.PostgresDSN(t))
			}
			addr, dir := freeAddr(t), t.TempDir()
			n := serve(t, addr, dir, args...)
			tenant := credentials(t, dir)["tenant_id"]
			tok := n.token(t)

			realm := n.createRealm(t, tok, tenant)
			ids := n.createIdentities(t, tok, tenant, realm, count)
			began := time.Now()
			n.expect(t, http.StatusOK, http.MethodPost, identities(tenant, realm)+":batchDelete", tok, map[string]any{"ids": ids})
			took := time.Since(began)
			if total, _ := n.listIdentities(t, tok, tenant, realm, ""); total != 0 {
				t.Fatalf("after a batch delete of all %d identities, %d remain", count, total)
			}
			t.Logf("an undisturbed batch delete of %d identities took %v", count, took)

			outcomes := map[int]int{} // identities left → rounds
			for _, f := range fractions {
				delay := time.Duration(f * float64(took))
				realm := n.createRealm(t, tok, tenant)
				ids := n.createIdentities(t, tok, tenant, realm, count)
				status := n.sendThenKill(t, identities(tenant, realm)+":batchDelete", tok, map[string]any{"ids": ids}, delay)
				n = serve(t, addr, dir, args...)
				total, listed := n.listIdentities(t, tok, tenant, realm, "")
				outcomes[total]++
				t.Logf("killed %v after sending: response %d, %d identities remain", delay.Round(time.Millisecond), status, total)
				if len(listed) != total {
					t.Errorf("total_size %d, but paging listed %d identities", total, len(listed))
				}
				switch total {
				case 0:
				case count:
					if slices.Sort(listed); !slices.Equal(listed, slices.Sorted(slices.Values(ids))) {
						t.Errorf("the %d identities listed are not the ones created", total)
					}
				default:
					t.Errorf("%d of %d identities remain: the batch delete was partly applied", total, count)
				}
				if status == http.StatusOK && total != 0 {
					t.Errorf("the batch delete answered 200 but %d identities remain", total)
				}
			}
			t.Logf("outcomes (identities left: rounds): %v", outcomes)
		})
	}
}

// sendThenKill writes a POST with a JSON body on a connection of its own,
// kills the node delay after the request was sent, and returns the status
// of the response, or 0 when none arrived before the node died.
func (n *node) sendThenKill(t *testing.T, path, token string, body any, delay time.Duration) int {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, n.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	conn, err := net.Dial("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay) // how long the node works on the request before it dies
	n.kill(t)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

// TestGracefulShutdown: on SIGTERM the node stops accepting connections but
// finishes the request in flight, then exits with status 0.
func TestGracefulShutdown(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	n := serve(t, addr, dir)
	c := credentials(t, dir)
	tok := n.token(t)
	body := `{"identity": {"display_name": "In Flight", "traits": {"type": "traits_v0", "username": "inflight"}}}`
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		identities(c["tenant_id"], c["realm_id"]), addr, tok, len(body))

	// A request whose body is only half sent is in flight. The node answers
	// "100 Continue" once its handler reads the body, so after that answer the
	// request is surely being handled (a request whose headers the server
	// reads only after shutdown began would be dropped, by design of net/http).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	replies := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(replies, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", resp, err)
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	n.cmd.Process.Signal(syscall.SIGTERM)
	// Wait until the node has stopped listening: it is shutting down.
	for deadline := time.Now().Add(10 * time.Second); ; {
		other, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		other.Close()
		if time.Now().After(deadline) {
			t.Fatal("the node still accepts connections 10s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n.hasExited() {
		t.Fatalf("the node exited (%v) with a request in flight", n.waitErr)
	}

	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(replies, nil)
	if err != nil {
		t.Fatalf("the request in flight got no response: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight answered %s: %s", resp.Status, answer)
	}
	var created struct{ ID string }
	json.Unmarshal(answer, &created)

	select {
	case <-n.exited:
		if n.waitErr != nil {
			t.Fatalf("exit status %v, want 0", n.waitErr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the node did not exit within 5s of finishing the request")
	}

	// What the request did was committed.
	n = serve(t, addr, dir)
	n.expect(t, http.StatusOK, http.MethodGet, identities(c["tenant_id"], c["realm_id"])+"/"+created.ID, tok, nil)
}

// TestKeysRotate: `latchkey keys rotate` makes a new signing key of each
// algorithm in the database each time.
func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, nil, "migrate", "--data-dir", dir)
	said := regexp.MustCompile(`^new RS256 signing key (\S+)\nnew ES256 signing key (\S+)\n`)
	first := said.FindStringSubmatch(mustRun(t, nil, "keys", "rotate", "--data-dir", dir))
	second := said.FindStringSubmatch(mustRun(t, nil, "keys", "rotate", "--data-dir", dir))
	if first == nil || second == nil || first[1] == second[1] || first[2] == second[2] {
		t.Errorf("keys rotate said %q, then %q", first, second)
	}
}

// TestAdminEnroll: the first start names the first administrator and
// prints the console and a one-time binding link; `latchkey admin enroll`
// prints a fresh one, and refuses an unknown username.
func TestAdminEnroll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	n := serve(t, addr, dir, "--admin-username", "boss", "--admin-email", "boss@example.com")
	linkRE := regexp.MustCompile(`https?://\S+:invokeAuthenticator\?token=\S+`)
	first := linkRE.FindString(n.stdout.String())
	if !strings.Contains(n.stdout.String(), "The admin console is at "+n.URL+"/console/") || first == "" {
		t.Fatalf("first start printed no console link:\n%s", n.stdout.String())
	}
	page := func(link string) int {
		resp, err := n.client.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := page(first); status != http.StatusOK {
		t.Fatalf("the printed link answers %d", status)
	}
	again := strings.TrimSpace(mustRun(t, nil, "admin", "enroll", "--data-dir", dir))
	if !linkRE.MatchString(again) || again == first || page(again) != http.StatusOK {
		t.Fatalf("admin enroll printed %q (first %q)", again, first)
	}
	if stderr := mustFail(t, nil, "admin", "enroll", "--data-dir", dir, "--username", "nobody"); !strings.Contains(stderr, `"nobody"`) {
		t.Fatalf("unknown username: %s", stderr)
	}
	if stderr := mustFail(t, nil, "admin", "enroll", "--data-dir", t.TempDir()); !strings.Contains(stderr, "start latchkey serve once") {
		t.Fatalf("a database without console: %s", stderr)
	}
	n.stop(t)
	n = serve(t, addr, dir)
	if strings.Contains(n.stdout.String(), "invokeAuthenticator") {
		t.Errorf("a restart printed a binding link again:\n%s", n.stdout.String())
	}
}

// TestCredentials: `latchkey credentials` prints the management
// application's credentials, which the API never answers; --regenerate
// gives it a new secret, the only way to, and the old one stops working.
func TestCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	n := serve(t, freeAddr(t), dir)
	old := credentials(t, dir)
	var printed map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, nil, "credentials", "--data-dir", dir)), &printed); err != nil || printed["client_secret"] != old["client_secret"] {
		t.Fatalf("credentials printed %v (%v)", printed, err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "credentials", "--regenerate", "--data-dir", dir)), &printed); err != nil ||
		printed["client_secret"] == old["client_secret"] || printed["client_id"] != old["client_id"] {
		t.Fatalf("credentials --regenerate printed %v (%v)", printed, err)
	}
	if c := credentials(t, dir); c["client_secret"] != printed["client_secret"] {
		t.Error("bootstrap.json does not hold the new secret")
	}
	n.token(t) // with the new secret, from bootstrap.json
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, old["token_endpoint"], strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(old["client_id"], old["client_secret"])
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old secret answers %d", resp.StatusCode)
	}
	if stderr := mustFail(t, nil, "credentials", "--data-dir", t.TempDir()); !strings.Contains(stderr, "start latchkey serve once") {
		t.Errorf("a database never bootstrapped: %s", stderr)
	}
}
