package mail_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestActiveThemeCached: a node trusts the theme it read for
// nodecache.TTL, so a hosted page costs no statement for it; a change made
// on this node shows at once, one made on another node within the TTL.
func TestActiveThemeCached(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			here, other := mail.NewService(s.Mail()), mail.NewService(s.Mail())
			here.Clock, other.Clock = clock.Now, clock.Now
			logo := func(svc *mail.Service) string {
				t.Helper()
				th, err := svc.ActiveTheme(t.Context(), r.TenantID, r.ID)
				must(t, err)
				return th.LogoURLLight
			}
			before := logo(here)
			first := "https://acme.example/first.png"
			created, err := other.CreateTheme(t.Context(), r.TenantID, r.ID, mail.ThemePatch{LogoURLLight: &first})
			must(t, err)
			if got := logo(other); got != first {
				t.Fatalf("the node that created the theme shows logo %q", got)
			}
			if got := logo(here); got != before {
				t.Fatalf("within the TTL of its read, this node shows logo %q, want the %q it read", got, before)
			}
			clock.Advance(nodecache.TTL + time.Millisecond)
			if got := logo(here); got != first {
				t.Fatalf("after the TTL this node shows logo %q, want %q", got, first)
			}
			second := "https://acme.example/second.png"
			_, err = here.UpdateTheme(t.Context(), r.TenantID, r.ID, created.ID, mail.ThemePatch{LogoURLLight: &second})
			must(t, err)
			if got := logo(here); got != second {
				t.Fatalf("the node that changed the theme shows logo %q, want %q at once", got, second)
			}
			if _, err := here.ActiveTheme(t.Context(), r.TenantID, "0000000000000000"); err == nil {
				t.Fatal("a realm that does not exist has a theme")
			}
		})
	}
}
