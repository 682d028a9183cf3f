package httpapi

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
)

// listEvents lists the audit events of a realm, or of the whole tenant when
// the path names no realm, newest first (our extension). Its total_size
// counts up to audit.MaxTotal (see eventPages).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	tenant, realm := r.PathValue("tenant"), r.PathValue("realm")
	servePage(w, r, s.Clock.Now(), eventPages, audit.FilterAttributes, "events", func(e audit.Event) string { return e.ID },
		func(opts latchkey.ListOptions) ([]audit.Event, int, error) {
			if realm != "" {
				if _, err := s.Directory.GetRealm(r.Context(), tenant, realm); err != nil {
					return nil, 0, err
				}
			}
			return s.Events.ListEvents(r.Context(), tenant, realm, opts)
		})
}
