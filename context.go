package latchkey

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// Actor is who performs a request: the principal of its access token.
type Actor struct {
	Type     string // "application" or "identity"
	ID       string
	TenantID string
	RealmID  string
	TokenID  string
	// DisplayName is the actor's name when it acted, for the audit log
	// ("" when unknown).
	DisplayName string
	// Scopes are those of the actor's token: what it may grant to others.
	Scopes []string
}

type actorKey struct{}
type requestIDKey struct{}

// WithActor returns a context carrying the actor of the request.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx; the zero Actor is the system
// itself (a latchkey command, a start of the server), which holds every scope.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// WithRequestID returns a context carrying the id of the request being served.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id carried by ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type clientIPKey struct{}

// WithClientIP returns a context carrying the IP address of the client
// that sent the request.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

type userAgentKey struct{}

// WithUserAgent returns a context carrying the User-Agent of the request's
// client, for sign-in events.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// UserAgentFrom returns the user agent carried by ctx, or "".
func UserAgentFrom(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

// ClientIPFrom returns the client IP carried by ctx, or "".
func ClientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// Lacks returns those of scopes that the actor does not hold; the system
// holds every scope.
func (a Actor) Lacks(scopes []string) []string {
	if a.Type == "" {
		return nil
	}
	var out []string
	for _, s := range scopes {
		if !slices.Contains(a.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// MayGrant is the rule that keeps a token from making a stronger one: the
// actor of ctx can give no one (an application, a role, an identity, a
// group's members) a management scope that it does not hold itself. It
// returns a 403 naming the scopes it lacks.
func MayGrant(ctx context.Context, scopes []string) error {
	if missing := ActorFrom(ctx).Lacks(scopes); len(missing) > 0 {
		return Errorf(CodeForbidden, "the token does not hold %s, so it cannot give it", strings.Join(missing, ", "))
	}
	return nil
}

type loggerKey struct{}

// WithLogger returns a context whose faults are logged to l: the node's
// logger, which the HTTP middleware gives every request.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger carried by ctx, or slog's default.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
