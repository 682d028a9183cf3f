package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/policy"
)

// policyRoutes: the realm's access policy, our extension of the API.
func (s *Server) policyRoutes(mux *httpx.Mux) {
	mux.Handle("GET "+httpx.RealmPath+"/policy", s.auth(s.getPolicy, "policy:read"))
	mux.Handle("PUT "+httpx.RealmPath+"/policy", s.auth(s.putPolicy, "policy:update"))
	mux.Handle("POST "+httpx.RealmPath+"/policy:evaluate", s.auth(s.evaluatePolicy, "policy:read"))
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.Policy.Get(r.Context(), r.PathValue("tenant"), r.PathValue("realm"))
	httpx.Reply(w, r, p, err)
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TenantID      json.RawMessage `json:"tenant_id"`
		RealmID       json.RawMessage `json:"realm_id"`
		UpdateTime    json.RawMessage `json:"update_time"`
		Rules         []policy.Rule   `json:"rules"`
		DefaultEffect string          `json:"default_effect"`
	}
	if err := httpx.DecodeWrapped(w, r, "policy", &in, true); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p, err := s.Policy.Put(r.Context(), r.PathValue("tenant"), r.PathValue("realm"),
		policy.Policy{Rules: in.Rules, DefaultEffect: in.DefaultEffect})
	httpx.Reply(w, r, p, latchkey.WithFieldPrefix(err, "policy."))
}

func (s *Server) evaluatePolicy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		IdentityID    string `json:"identity_id"`
		ApplicationID string `json:"application_id"`
	}
	if err := httpx.DecodeBody(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	d, err := s.Policy.Evaluate(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.IdentityID, in.ApplicationID)
	httpx.Reply(w, r, d, err)
}
