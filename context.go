package latchkey

import "context"

// Actor is who performs a request: the principal of its access token.
type Actor struct {
	Type     string // "application" or "identity"
	ID       string
	TenantID string
	RealmID  string
	TokenID  string
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
