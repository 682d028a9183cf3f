package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
)

// auth wraps a management handler: it requires a valid bearer token for the
// management API, of the tenant in the path, holding every listed scope.
func (s *Server) auth(h http.HandlerFunc, scopes ...string) http.Handler {
	return s.guard(h, refuseAPI, scopes)
}

// refusal writes a 401, 403, 429, 500 or 503 in an API's own error format.
type refusal func(w http.ResponseWriter, r *http.Request, status int)

func refuseAPI(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		httpx.WriteError(w, r, httpx.ErrUnauthorized)
	case http.StatusTooManyRequests:
		httpx.WriteError(w, r, httpx.ErrTooManyRequests)
	case http.StatusInternalServerError:
		httpx.WriteError(w, r, httpx.ErrInternal)
	case http.StatusServiceUnavailable:
		httpx.WriteError(w, r, httpx.ErrUnavailable)
	default:
		httpx.WriteError(w, r, httpx.ErrForbidden)
	}
}

type principalKey struct{}

// principalFrom returns the principal that guard verified for a request.
func principalFrom(ctx context.Context) oauth.Principal {
	p, _ := ctx.Value(principalKey{}).(oauth.Principal)
	return p
}

// guard authenticates the bearer of a request: a valid management token of
// the tenant in the path, within its rate limit, holding every scope of at
// least one of scopeSets (an empty set: any token of the tenant). The
// token's principal becomes the actor that audit events record, and
// principalFrom returns it. Refusals are written by refuse.
func (s *Server) guard(h http.Handler, refuse refusal, scopeSets ...[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := httpx.Bearer(r)
		if !ok {
			refuse(w, r, http.StatusUnauthorized)
			return
		}
		p, err := s.OAuth.Verify(r.Context(), raw)
		if errors.Is(err, oauth.ErrInvalidToken) {
			refuse(w, r, http.StatusUnauthorized)
			return
		}
		if err != nil {
			refuse(w, r, httpx.Status(httpx.Fault(r, err).Code))
			return
		}
		if !admit(w, r, s.PerToken, "token:"+p.TokenID, refuse) {
			return
		}
		if !p.Manages(r.PathValue("tenant")) || !slices.ContainsFunc(scopeSets, p.HasScopes) {
			refuse(w, r, http.StatusForbidden)
			return
		}
		ctx := latchkey.WithActor(r.Context(), latchkey.Actor{
			Type: p.Type, ID: p.ID, TenantID: p.TenantID, RealmID: p.RealmID, TokenID: p.TokenID, Scopes: p.Scopes,
			DisplayName: s.OAuth.ActorName(r.Context(), p),
		})
		ctx = context.WithValue(ctx, principalKey{}, p)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
