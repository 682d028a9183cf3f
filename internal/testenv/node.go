package testenv

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apiclient"
	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/server"
)

// Node is a Latchkey node serving on localhost for one test.
type Node struct {
	*server.Node
	URL    string // http://localhost:PORT, or https:// when it serves TLS
	Config server.Config
	// HTTP is a client for the node: it trusts a self-signed certificate.
	HTTP *http.Client
}

// StartNode starts a node on the named engine ("sqlite" or "postgres") with
// rate limits off; configure may change the configuration first. The node
// stops when the test ends.
func StartNode(t testing.TB, engine string, configure func(*server.Config)) *Node {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir()}
	if engine == "postgres" {
		cfg.Database = MigratedPostgresDSN(t)
	}
	return StartNodeWith(t, cfg, configure)
}

// StartNodeWith starts a node with cfg (its Listen and PublicURL are set here).
func StartNodeWith(t testing.TB, cfg server.Config, configure func(*server.Config)) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfg.Listen = "localhost:" + port
	cfg.PublicURL = "http://localhost:" + port
	if configure != nil {
		configure(&cfg)
	}
	if cfg.TLS() && cfg.PublicURL == "http://localhost:"+port {
		cfg.PublicURL = "https://localhost:" + port
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.Open(ctx, cfg)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
		n.Close()
	})
	return &Node{Node: n, URL: cfg.PublicURL, Config: cfg, HTTP: httpClient(cfg)}
}

// httpClient returns a client that trusts the node's self-signed
// certificate, which server.Open made.
func httpClient(cfg server.Config) *http.Client {
	if !cfg.TLSSelfSigned {
		return http.DefaultClient
	}
	return apiclient.HTTPClient(filepath.Join(cfg.DataDir, server.SelfSignedCert))
}

// Token returns a management token with the given scopes ("" = all).
func (n *Node) Token(t testing.TB, scope string) string {
	t.Helper()
	tok, err := apiclient.Token(t.Context(), n.HTTP, n.Credentials, scope)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok
}

// Creds are the node's bootstrap credentials.
func (n *Node) Creds() bootstrap.Credentials { return n.Credentials }

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Body returns a request body: a string as is, nil as no body, anything
// else marshalled to JSON.
func Body(t testing.TB, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReader(string(raw))
}

// Do sends a request with a bearer token ("" for none) and a JSON body
// (a string is sent as is; anything else is marshalled; nil sends nothing).
func Do(t testing.TB, method, url, token string, body any) Response {
	t.Helper()
	rd := Body(t, body)
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
