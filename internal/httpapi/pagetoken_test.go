package httpapi_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestPageTokenExpiry: a page token lasts a week by the node's clock; a
// management token minted after each move of the clock keeps the requests
// authorised. Each engine's node has a clock of its own.
func TestPageTokenExpiry(t *testing.T) {
	t.Parallel()
	const lifetime = 7 * 24 * time.Hour
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			clock := testenv.NewClock()
			n := testenv.StartNode(t, eng.Name, func(cfg *server.Config) {
				cfg.Logger, cfg.Clock = slog.New(slog.DiscardHandler), clock.Now
			})
			c := client{base: n.URL, tenant: n.Creds().TenantID, token: n.Token(t, "")}
			realm := newRealm(t, c, "Pages")
			newIdentity(t, c, realm, "ada")
			newIdentity(t, c, realm, "bob")
			token := str(t, c.list(t, "/realms/"+realm+"/identities", "page_size", "1"), "next_page_token")
			next := func() int {
				return c.withToken(n.Token(t, "")).do(t, "GET", "/realms/"+realm+"/identities?page_token="+token, nil).Status
			}
			clock.Advance(lifetime - time.Hour)
			if s := next(); s != http.StatusOK {
				t.Errorf("a page token an hour short of a week old: %d, want 200", s)
			}
			clock.Advance(2 * time.Hour)
			if s := next(); s != http.StatusBadRequest {
				t.Errorf("a page token more than a week old: %d, want 400", s)
			}
		})
	}
}
