package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/webhook"
)

// webhookRoutes are a realm's webhooks (a Latchkey extension) and their
// delivery log.
func (s *Server) webhookRoutes(mux *httpx.Mux) {
	hooks := httpx.RealmPath + "/webhooks"
	hook := hooks + "/{webhook}"
	mux.Handle("POST "+hooks, s.auth(s.createWebhook, "webhooks:create"))
	mux.Handle("GET "+hooks, s.auth(s.listWebhooks, "webhooks:read"))
	mux.HandleVerbs("GET "+hook, httpx.Verbs{"": s.auth(s.getWebhook, "webhooks:read")})
	mux.HandleVerbs("PATCH "+hook, httpx.Verbs{"": s.auth(s.updateWebhook, "webhooks:update")})
	mux.HandleVerbs("DELETE "+hook, httpx.Verbs{"": s.auth(s.deleteWebhook, "webhooks:delete")})
	mux.HandleVerbs("POST "+hook, httpx.Verbs{
		"rotateSecret": s.auth(s.rotateWebhookSecret, "webhooks:update"),
		"test":         s.auth(s.testWebhook, "webhooks:update"),
	})
	mux.Handle("GET "+hook+"/deliveries", s.auth(s.listWebhookDeliveries, "webhooks:read"))
	mux.HandleVerbs("POST "+hook+"/deliveries/{delivery}", httpx.Verbs{"redeliver": s.auth(s.redeliver, "webhooks:update")})
}

type webhookIn struct {
	readOnly
	DisplayName *string         `json:"display_name"`
	URL         *string         `json:"url"`
	EventTypes  *[]string       `json:"event_types"`
	Enabled     *bool           `json:"enabled"`
	Failing     json.RawMessage `json:"failing"` // read-only
}

func (in webhookIn) patch() webhook.Patch {
	return webhook.Patch{DisplayName: in.DisplayName, URL: in.URL, EventTypes: in.EventTypes, Enabled: in.Enabled}
}

// webhookWithSecret is a webhook as created or rotated: the only answers
// that show its secret.
type webhookWithSecret struct {
	webhook.Webhook
	Secret string `json:"secret"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhookIn
	if err := httpx.DecodeWrapped(w, r, "webhook", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	h, secret, err := s.Webhooks.Create(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.patch())
	httpx.Reply(w, r, webhookWithSecret{h, secret}, latchkey.WithFieldPrefix(err, "webhook."))
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hs, err := s.Webhooks.List(r.Context(), r.PathValue("tenant"), r.PathValue("realm"))
	httpx.Reply(w, r, map[string]any{"webhooks": hs, "total_size": len(hs)}, err)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	h, err := s.Webhooks.Get(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"))
	httpx.Reply(w, r, h, err)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var in webhookIn
	if err := httpx.DecodeWrapped(w, r, "webhook", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	h, err := s.Webhooks.Update(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"), in.patch())
	httpx.Reply(w, r, h, latchkey.WithFieldPrefix(err, "webhook."))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	httpx.ReplyEmpty(w, r, s.Webhooks.Delete(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook")))
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	h, secret, err := s.Webhooks.RotateSecret(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"))
	httpx.Reply(w, r, webhookWithSecret{h, secret}, err)
}

// deliveryOut is a delivery as the API shows it: no payload, no lease.
type deliveryOut struct {
	ID              string     `json:"id"`
	Type            string     `json:"type"`
	State           string     `json:"status"`
	Attempts        int        `json:"attempts"`
	LastStatus      int        `json:"last_status_code,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	LastAttemptTime *time.Time `json:"last_attempt_time,omitempty"`
	NextAttemptTime *time.Time `json:"next_attempt_time,omitempty"`
	CreateTime      time.Time  `json:"create_time"`
}

func deliveryOf(d delivery.Delivery) deliveryOut {
	var m struct {
		Type string `json:"type"`
	}
	json.Unmarshal([]byte(d.Payload), &m) // the type is informative; our own payloads decode
	out := deliveryOut{ID: d.ID, Type: m.Type, State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreateTime: d.CreateTime}
	if !d.LastAttemptTime.IsZero() {
		out.LastAttemptTime = &d.LastAttemptTime
	}
	if d.State == delivery.StatePending {
		out.NextAttemptTime = &d.NextAttemptTime
	}
	return out
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	ds, err := s.Webhooks.Deliveries(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"))
	out := make([]deliveryOut, len(ds))
	for i, d := range ds {
		out[i] = deliveryOf(d)
	}
	httpx.Reply(w, r, map[string]any{"deliveries": out, "total_size": len(out)}, err)
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	d, err := s.Webhooks.Redeliver(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"), r.PathValue("delivery"))
	httpx.Reply(w, r, deliveryOf(d), err)
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) {
	if err := decodeOptionalEmpty(w, r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	d, err := s.Webhooks.Test(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("webhook"))
	httpx.Reply(w, r, deliveryOf(d), err)
}
