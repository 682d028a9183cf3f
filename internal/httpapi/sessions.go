package httpapi

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/session"
)

// sessionRoutes are an identity's sign-in sessions (a Latchkey extension):
// list them, end one, end all ("sign out everywhere").
func (s *Server) sessionRoutes(mux *httpx.Mux) {
	identity := httpx.RealmPath + "/identities/{identity}"
	mux.Handle("GET "+identity+"/sessions", s.auth(s.listSessions, "identities:read", "sessions:read"))
	mux.HandleVerbs("DELETE "+identity+"/sessions/{session}", httpx.Verbs{"": s.auth(s.endSession, "identities:read", "sessions:delete")})
	mux.HandleVerbs("POST "+identity, httpx.Verbs{"endSessions": s.auth(s.endSessions, "identities:read", "sessions:delete")})
}

// sessionOut is a session as the API shows it.
type sessionOut struct {
	ID             string    `json:"id"`
	IdentityID     string    `json:"identity_id"`
	CredentialID   string    `json:"credential_id"`
	AuthTime       time.Time `json:"auth_time"`
	AMR            []string  `json:"amr"`
	ACR            string    `json:"acr"`
	IP             string    `json:"ip"`
	UserAgent      string    `json:"user_agent"`
	CreateTime     time.Time `json:"create_time"`
	LastSeenTime   time.Time `json:"last_seen_time"`
	ExpireTime     time.Time `json:"expire_time"` // the idle expiry, never after the absolute one
	ApplicationIDs []string  `json:"application_ids"`
}

func sessionsOut(ss []session.Session) map[string]any {
	out := make([]sessionOut, len(ss))
	for i, v := range ss {
		out[i] = sessionOut{ID: v.ID, IdentityID: v.IdentityID, CredentialID: v.CredentialID, AuthTime: v.AuthTime, AMR: v.AMR,
			ACR: v.ACR, IP: v.IP, UserAgent: v.UserAgent, CreateTime: v.CreateTime, LastSeenTime: v.LastSeenTime,
			ExpireTime: v.IdleExpireTime, ApplicationIDs: v.Applications}
		if out[i].ApplicationIDs == nil {
			out[i].ApplicationIDs = []string{}
		}
	}
	return map[string]any{"sessions": out, "total_size": len(out)}
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	ss, err := s.OAuth.ListIdentitySessions(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"))
	httpx.Reply(w, r, sessionsOut(ss), err)
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.OAuth.EndIdentitySession(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		r.PathValue("identity"), r.PathValue("session")))
}

func (s *Server) endSessions(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ended, err := s.OAuth.EndIdentitySessions(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("identity"))
	httpx.Reply(w, r, sessionsOut(ended), err)
}
