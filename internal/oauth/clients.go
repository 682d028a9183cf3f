package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// ClientCacheTTL bounds how long a node goes on trusting what it read when a
// client last authenticated: after another node regenerates the client's
// secret or edits its application, the old secret or configuration may work
// on this node for up to this long. The node that makes the change forgets
// at once, and a deleted application fails at once everywhere (its token
// records can no longer be inserted).
const ClientCacheTTL = 2 * time.Second

// client is an authenticated application and the audience of its tokens
// (the identifier of its resource server, if it has one).
type client struct {
	Application
	audience []string
}

// clientCache holds, per node, the clients that authenticated in the last
// ClientCacheTTL, so that a busy client costs no application and resource
// server read per token. One entry per application: its memory is bounded
// by the applications in use.
type clientCache struct {
	mu      sync.Mutex
	entries map[string]cachedClient // by tenant/realm/application of the endpoint
}

type cachedClient struct {
	client
	credentials [sha256.Size]byte // of the client id and secret that authenticated
	expires     time.Time
}

// credentialsHash identifies a client id and secret without keeping the
// secret in memory.
func credentialsHash(id, secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(id + "\x00" + secret))
}

func (c *clientCache) get(key string, credentials [sha256.Size]byte) (client, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || time.Now().After(e.expires) || subtle.ConstantTimeCompare(e.credentials[:], credentials[:]) != 1 {
		return client{}, false
	}
	return e.client, true
}

func (c *clientCache) put(key string, credentials [sha256.Size]byte, cl client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedClient{}
	}
	c.entries[key] = cachedClient{client: cl, credentials: credentials, expires: time.Now().Add(ClientCacheTTL)}
}

// clear forgets every client; the node calls it when it changes an
// application or a resource server (rare writes, so forgetting them all is
// simplest and misses none).
func (c *clientCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
