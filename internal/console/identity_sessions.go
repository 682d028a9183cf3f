package console

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	sessions "github.com/latchkey/latchkey/internal/session"
)

func (c *Console) identitySessionRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+identityPrefix+"/sessions", ofIdentity(c.identitySessions), "identities:read", "sessions:read")
	c.handle(mux, "POST "+identityPrefix+"/sessions/{session}/end", ofIdentity(c.endSession), "identities:read", "sessions:delete")
	c.handle(mux, "POST "+identityPrefix+"/sessions/end", ofIdentity(c.endAllSessions), "identities:read", "sessions:delete")
}

// sessionsTab is the Sessions tab: the identity's live sessions, with the
// names of the applications each signed in to.
type sessionsTab struct {
	Sessions []sessions.Session
	Apps     map[string]string // application id → display name
}

func (c *Console) identitySessions(q *request, i directory.Identity) error {
	ss, err := c.OAuth.ListIdentitySessions(q.Context(), q.tenantID, q.realm.ID, i.ID)
	if err != nil {
		return err
	}
	t := sessionsTab{Sessions: ss, Apps: map[string]string{}}
	if len(ss) > 0 {
		apps, _, err := c.OAuth.ListApplications(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
		if err != nil {
			return err
		}
		for _, a := range apps {
			t.Apps[a.ID] = a.DisplayName
		}
	}
	q.tab(http.StatusOK, i, "sessions", t)
	return nil
}

func (c *Console) endSession(q *request, i directory.Identity) error {
	if err := c.OAuth.EndIdentitySession(q.Context(), q.tenantID, q.realm.ID, i.ID, q.PathValue("session")); err != nil {
		return err
	}
	q.redirect(q.identityPath(i, "/sessions"), "Session ended: its browser must sign in again.")
	return nil
}

func (c *Console) endAllSessions(q *request, i directory.Identity) error {
	ended, err := c.OAuth.EndIdentitySessions(q.Context(), q.tenantID, q.realm.ID, i.ID)
	if err != nil {
		return err
	}
	what := strconv.Itoa(len(ended)) + " sessions ended"
	if len(ended) == 1 {
		what = "1 session ended"
	}
	q.redirect(q.identityPath(i, "/sessions"), i.Traits.Username+" is signed out everywhere ("+what+").")
	return nil
}
