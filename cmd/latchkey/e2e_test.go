package main_test

// End-to-end tests: they build the real latchkey binary once (pure Go,
// CGO_ENABLED=0) and run it as separate OS processes, talking to it over
// HTTP(S) only. Tests that need PostgreSQL get a fresh database from
// testenv.PostgresDSN, which skips them when LATCHKEY_TEST_POSTGRES is unset.
// This file holds TestMain and the helpers the tests share; the tests are in
// files by flow: start, tls, logs, cluster, shutdown, commands and import.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

// mustFail runs the binary, requires exit status 1 and the error said
// once ("latchkey: …", not Cobra's "Error: …" as well), and returns its
// stderr.
func mustFail(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, env, args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("latchkey %s: got %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, tail(stderr))
	}
	if strings.HasPrefix(stderr, "Error: ") || strings.Contains(stderr, "\nError: ") || !strings.Contains(stderr, "latchkey: ") {
		t.Errorf("latchkey %s: the error not said once as latchkey: …\n%s", strings.Join(args, " "), tail(stderr))
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
// credentials (as bootstrap.json holds them), by the client-credentials
// grant at the node's own token endpoint (bootstrap.json's is on the
// public URL, which may be another node's).
func (n *node) tokenWith(t *testing.T, c map[string]string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	u, err := url.Parse(c["token_endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	endpoint := n.URL + u.Path
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
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
		t.Fatalf("token endpoint %s: %s: %s", endpoint, resp.Status, body)
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
