package httpapi_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestDatabaseOutage cuts a node off its PostgreSQL (through a TCP proxy, so
// the shared server keeps running) as a restart does: every route answers
// 503 with Retry-After, never 500, and once the database is back the node
// serves again by itself. SQLite, in the node's own process, has no outage.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dsn, err := url.Parse(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, dsn.Host)
	dsn.Host = proxy.addr
	n := testenv.StartNodeWith(t, server.Config{DataDir: t.TempDir(), Database: dsn.String(),
		Logger: slog.New(slog.DiscardHandler)}, nil)
	c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
	realm := n.Creds().RealmID
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {n.Creds().ClientID},
		"client_secret": {n.Creds().ClientSecret}}.Encode()
	created := 0
	requests := []struct {
		name string
		send func() testenv.Response
	}{
		{"list identities", func() testenv.Response { return c.do(t, "GET", "/realms/"+realm+"/identities", nil) }},
		{"create identity", func() testenv.Response {
			created++
			return c.do(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{
				"display_name": "Outage", "traits": map[string]any{"type": "traits_v0", "username": "outage" + strconv.Itoa(created)}}})
		}},
		{"SCIM users", func() testenv.Response { return c.do(t, "GET", "/realms/"+realm+"/scim/v2/Users", nil) }},
		{"token", func() testenv.Response {
			return send(t, "POST", n.Creds().TokenEndpoint, form, strings.NewReader(creds))
		}},
		{"readyz", func() testenv.Response { return send(t, "GET", n.URL+"/readyz", nil, nil) }},
	}
	for _, r := range requests {
		if resp := r.send(); resp.Status >= 300 {
			t.Fatalf("%s before the outage: status %d %s", r.name, resp.Status, resp.Body)
		}
	}

	proxy.down()
	for _, r := range requests {
		resp := r.send()
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: status %d, Retry-After %q: %s", r.name, resp.Status, resp.Header.Get("Retry-After"), resp.Body)
		}
	}

	// Back up: each pooled connection that the outage broke fails one more
	// request (a 503 too) before the pool replaces it; then all is served.
	proxy.up(t)
	for _, r := range requests {
		for attempt := 1; ; attempt++ {
			resp := r.send()
			if resp.Status < 300 {
				break
			}
			if resp.Status != http.StatusServiceUnavailable || attempt == 50 {
				t.Fatalf("%s after the outage, attempt %d: status %d %s", r.name, attempt, resp.Status, resp.Body)
			}
		}
	}
}

// tcpProxy forwards connections on addr to a target; down closes the
// listener and every connection, as a database restart does, and up
// listens on the same address again.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{addr: "127.0.0.1:0", target: target, conns: map[net.Conn]bool{}}
	p.up(t)
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			if !p.track(in, out) {
				return
			}
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
}

// track records a pair of connections, or closes them when the proxy went
// down meanwhile.
func (p *tcpProxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		in.Close()
		out.Close()
		return false
	}
	p.conns[in], p.conns[out] = true, true
	return true
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for conn := range p.conns {
		conn.Close()
		delete(p.conns, conn)
	}
}
