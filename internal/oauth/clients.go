package oauth

import (
	"crypto/sha256"

	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/passkey"
)

// ClientCacheTTL bounds how long a node goes on trusting what it read of an
// application: after another node regenerates the client's secret, edits
// the application or its authenticator config, the old secret or
// configuration may work on this node for up to this long. The node that
// makes the change forgets at once, and a deleted application fails at
// once everywhere (its token records can no longer be inserted).
const ClientCacheTTL = nodecache.TTL

// client is an authenticated application and the audience of its tokens
// (the identifier of its resource server, if it has one).
type client struct {
	Application
	audience []string
}

// authenticatedClient is a client with the credentials it authenticated with.
type authenticatedClient struct {
	client
	credentials [sha256.Size]byte // of the client id and secret, so that the secret is not kept in memory
}

// signInApp is an application that users sign in to, with the
// authenticator config it signs them in with (ok false: none, the hosted
// page).
type signInApp struct {
	Application
	config passkey.AuthenticatorConfig
	ok     bool
	eam    *EAM // the Entra ID config it is the external authentication method of; nil for none
}

// credentialsHash identifies a client id and secret without keeping the
// secret in memory.
func credentialsHash(id, secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(id + "\x00" + secret))
}

// Forget makes this node read every application, resource server and
// authenticator config again. The node calls it once it changed one of
// them (rare writes, so forgetting them all is simplest and misses none).
func (s *Service) Forget() {
	s.clients.Clear()
	s.signInApps.Clear()
}
