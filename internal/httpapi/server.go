package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/ratelimit"
	"github.com/latchkey/latchkey/internal/scim"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/tracing"
	"github.com/latchkey/latchkey/internal/webhook"
)

// Server holds what the handlers need.
type Server struct {
	Directory *directory.Service
	OAuth     *oauth.Service
	Events    audit.Store
	Metrics   *metrics.Registry
	// Ready reports whether the node can serve (its database answers).
	Ready func(ctx context.Context) error
	// PerToken and PerIP limit requests per access token and per client IP.
	PerToken, PerIP *ratelimit.Limiter
	Logger          *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For tells
	// the client IP (for rate limits, the log and audit events).
	TrustedProxies []net.IPNet
	// MetricsToken is the bearer token /metrics asks for; "" serves no
	// /metrics here (MetricsHandler may serve them on another listener).
	MetricsToken string
	// SCIM serves the SCIM 2.0 endpoints of each realm; nil serves none.
	SCIM *scim.Handler
	// Mail serves the themes.
	Mail *mail.Service
	// Passkeys serves authenticator configs, binding jobs and credentials.
	Passkeys *passkey.Service
	// Policy serves the realms' access policies and their evaluation.
	Policy *policy.Service
	// Provisioning serves CSV imports and exports.
	Provisioning *provisioning.Service
	// Webhooks serves the realms' webhooks and their deliveries.
	Webhooks *webhook.Service
	// SSO serves SSO configs, identity providers and launch mechanisms; nil serves none.
	SSO *sso.Service
	// Console serves the admin console under /console; nil serves none.
	Console http.Handler
	// Clock dates page tokens and tells when they expire.
	Clock latchkey.Clock
}

// Handler returns the node's handler: mux, on which the management API
// (Routes) and the authenticator have registered, behind the middleware
// every request passes (request ids, logging, metrics, per-IP limits, text
// checks, JSON 404s and 405s).
func (s *Server) Handler(mux *httpx.Mux) http.Handler {
	return s.observe(s.limitIP(checkText(jsonFallback(mux))))
}

// Routes registers the management API, the console, SCIM and the
// operational endpoints on mux.
func (s *Server) Routes(mux *httpx.Mux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.MetricsToken != "" {
		mux.Handle("GET /metrics", s.metrics(s.MetricsToken))
	}

	mux.Handle("GET "+httpx.AppPath+"/tokens", s.auth(s.listTokens, "tokens:read"))
	mux.Handle("DELETE "+httpx.AppPath+"/tokens/{token}", s.auth(s.deleteToken, "tokens:delete"))
	mux.Handle("POST "+httpx.RealmPath+"/introspect", s.introspection())

	mux.Handle("GET "+httpx.TenantPath, s.auth(s.getTenant, "tenants:read"))
	mux.Handle("PATCH "+httpx.TenantPath, s.auth(s.updateTenant, "tenants:update"))

	mux.Handle("POST "+httpx.TenantPath+"/realms", s.auth(s.createRealm, "realms:create"))
	mux.Handle("GET "+httpx.TenantPath+"/realms", s.auth(s.listRealms, "realms:read"))
	mux.Handle("GET "+httpx.RealmPath, s.auth(s.getRealm, "realms:read"))
	mux.Handle("PATCH "+httpx.RealmPath, s.auth(s.updateRealm, "realms:update"))
	mux.Handle("DELETE "+httpx.RealmPath, s.auth(s.deleteRealm, "realms:delete"))

	mux.Handle("POST "+httpx.RealmPath+"/identities", s.auth(s.createIdentity, "identities:create"))
	mux.Handle("GET "+httpx.RealmPath+"/identities", s.auth(s.listIdentities, "identities:read"))
	mux.Handle("POST "+httpx.RealmPath+"/identities:batchDelete", s.auth(s.batchDeleteIdentities, "identities:delete"))
	mux.HandleVerbs("GET "+httpx.RealmPath+"/identities/{identity}", httpx.Verbs{
		"":           s.auth(s.getIdentity, "identities:read"),
		"listGroups": s.auth(s.listIdentityGroups, "identities:read", "groups:read"),
		"listRoles":  s.auth(s.listIdentityRoles, "identities:read", "roles:read", "resource-servers:read"),
	})
	mux.HandleVerbs("PATCH "+httpx.RealmPath+"/identities/{identity}", httpx.Verbs{"": s.auth(s.updateIdentity, "identities:update")})
	mux.HandleVerbs("DELETE "+httpx.RealmPath+"/identities/{identity}", httpx.Verbs{"": s.auth(s.deleteIdentity, "identities:delete")})

	mux.Handle("POST "+httpx.RealmPath+"/groups", s.auth(s.createGroup, "groups:create"))
	mux.Handle("GET "+httpx.RealmPath+"/groups", s.auth(s.listGroups, "groups:read"))
	mux.HandleVerbs("GET "+httpx.RealmPath+"/groups/{group}", httpx.Verbs{
		"":            s.auth(s.getGroup, "groups:read"),
		"listMembers": s.auth(s.listGroupMembers, "groups:read", "identities:read"),
		"listRoles":   s.auth(s.listGroupRoles, "groups:read", "roles:read", "resource-servers:read"),
	})
	mux.HandleVerbs("PATCH "+httpx.RealmPath+"/groups/{group}", httpx.Verbs{"": s.auth(s.updateGroup, "groups:update")})
	mux.HandleVerbs("DELETE "+httpx.RealmPath+"/groups/{group}", httpx.Verbs{"": s.auth(s.deleteGroup, "groups:delete")})
	mux.HandleVerbs("POST "+httpx.RealmPath+"/groups/{group}", httpx.Verbs{
		"addMembers":    s.auth(s.addGroupMembers, "groups:update", "identities:read"),
		"deleteMembers": s.auth(s.deleteGroupMembers, "groups:update", "identities:read"),
	})

	// "themes/active" is a literal segment: ServeMux prefers it to {theme}.
	mux.Handle("POST "+httpx.RealmPath+"/themes", s.auth(s.createTheme, "themes:create"))
	mux.Handle("GET "+httpx.RealmPath+"/themes/active", s.auth(s.activeTheme, "themes:read"))
	mux.Handle("GET "+httpx.RealmPath+"/themes/{theme}", s.auth(s.getTheme, "themes:read"))
	mux.Handle("PATCH "+httpx.RealmPath+"/themes/{theme}", s.auth(s.updateTheme, "themes:update"))

	mux.Handle("GET "+httpx.TenantPath+"/events", s.auth(s.listEvents, "events:read"))
	mux.Handle("GET "+httpx.RealmPath+"/events", s.auth(s.listEvents, "events:read"))

	if s.Console != nil {
		mux.Handle("/console/", s.Console)
		mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	}
	s.scimRoutes(mux)
	s.passkeyRoutes(mux)
	s.policyRoutes(mux)
	s.appRoutes(mux)
	s.sessionRoutes(mux)
	s.roleRoutes(mux)
	s.provisioningRoutes(mux)
	s.webhookRoutes(mux)
	s.ssoRoutes(mux)
}

// jsonFallback answers requests that match no route, or match one with
// another method, with the API's JSON error instead of ServeMux's text.
func jsonFallback(mux *httpx.Mux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			httpx.WriteError(w, r, latchkey.Errorf(httpx.CodeMethodNotAllowed, "method not allowed"))
			return
		}
		httpx.WriteError(w, r, httpx.ErrNotFound)
	})
}

// statusProbe records the status a handler would answer with, and discards the rest.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

// userAgent is the request's User-Agent, cut to a length an event keeps.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return ua
}

// observe gives every request an id, then logs it and counts it once served.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = latchkey.NewID()
		}
		w.Header().Set("X-Request-Id", id)
		ip := s.clientIP(r)
		ctx, endSpan := tracing.StartRequest(r.Context(), r)
		r = r.WithContext(latchkey.WithLogger(latchkey.WithUserAgent(latchkey.WithClientIP(latchkey.WithRequestID(ctx, id), ip), userAgent(r)), s.Logger))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.Logger.Error("panic", "panic", p, "request_id", id)
				if !rec.wrote {
					httpx.WriteError(rec, r, httpx.ErrInternal)
				}
			}
			d := time.Since(start)
			s.Metrics.ObserveRequest(r.Pattern, r.Method, rec.status, d)
			endSpan(r.Pattern, rec.status, id, ip)
			s.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", float64(d.Microseconds())/1000, "request_id", id, "remote", r.RemoteAddr, "client_ip", ip)
		}()
		next.ServeHTTP(rec, r)
	})
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// limitIP applies the per-client-IP limit to every request.
func (s *Server) limitIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !admit(w, r, s.PerIP, "ip:"+latchkey.ClientIPFrom(r.Context()), refusalFor(r)) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admit takes a token for key, sets the RateLimit-* headers, and answers
// 429 with Retry-After when there is none.
func admit(w http.ResponseWriter, r *http.Request, l *ratelimit.Limiter, key string, refuse refusal) bool {
	if l == nil || l.Rate <= 0 {
		return true
	}
	d := l.Allow(key)
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if d.Allowed {
		return true
	}
	h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
	refuse(w, r, http.StatusTooManyRequests)
	return false
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.Logger.Warn("not ready", "err", err, "request_id", latchkey.RequestIDFrom(r.Context()))
		httpx.WriteError(w, r, latchkey.Errorf(latchkey.CodeUnavailable, "database unreachable"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
