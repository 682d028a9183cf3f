package oidctest

import (
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestSessionsAcrossNodes: two nodes on one PostgreSQL behind one public
// URL, as behind a load balancer. A passkey signs in to application A on
// the first; the second signs the browser in to application B without a
// ceremony, and ends the session (RP-initiated logout), after which the
// first answers prompt=none with an error that needs the user.
func TestSessionsAcrossNodes(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "postgres")
	other := testenv.StartNodeWith(t, server.Config{DataDir: p.node.Config.DataDir, Database: p.node.Config.Database},
		func(cfg *server.Config) { nodeConfig(cfg, p.clock); cfg.PublicURL = p.node.URL })
	s := &suite{provider: p}
	a := p.newClient(t, "Node app A", nil)
	b := p.newClient(t, "Node app B", nil)
	there := "https://" + other.Config.Listen
	first := s.flow(t, newAuthz(a, "openid"), "basic")
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"nodes-sso", func(t *testing.T) {
			second := s.flowExpectingCeremony(t, newAuthz(servedBy(b, p.node.URL, there), "openid"), false)
			if second.claims["sub"] != first.claims["sub"] {
				t.Errorf("sub %v on the second node, %v on the first", second.claims["sub"], first.claims["sub"])
			}
		}},
		{"nodes-logout", func(t *testing.T) {
			state := rand.Text()
			q := url.Values{"id_token_hint": {first.idToken}, "post_logout_redirect_uri": {p.rp.URL + "/post_logout_redirect"}, "state": {state}}
			p.patchClient(t, a, map[string]any{"post_logout_redirect_uris": []string{p.rp.URL + "/post_logout_redirect"}})
			end, _ := servedBy(a, p.node.URL, there).meta["end_session_endpoint"].(string)
			if end == "" {
				t.Fatalf("no end_session_endpoint")
			}
			v := p.confirmIfAsked(t, p.browse(t, end+"?"+q.Encode(), false, false))
			if v.hit == nil || v.hit.Path != "/post_logout_redirect" || v.hit.Query.Get("state") != state {
				t.Fatalf("want the post-logout redirect URI with state %s, got %v", state, v)
			}
			silent := newAuthz(a, "openid")
			silent.params.Set("prompt", "none")
			checkError(t, silent, p.browse(t, silent.url(), false, false), userInterfaceErrors...)
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.run(t)
		})
	}
}

// servedBy is the client as another node serves it: the same issuer, the
// endpoints of its discovery reached at that node's address.
func servedBy(c *client, public, node string) *client {
	moved := *c
	moved.meta = map[string]any{}
	for k, v := range c.meta {
		if u, ok := v.(string); ok && (strings.HasSuffix(k, "_endpoint") || k == "jwks_uri") {
			v = strings.Replace(u, public, node, 1)
		}
		moved.meta[k] = v
	}
	return &moved
}
