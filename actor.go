package loupe

import "context"

type actorKey struct{}

// WithActor returns a context that says who is acting: the signed-in user of
// a request, or a pseudo-user (no ID) such as "cli:NAME" for the command
// line. Storage records it as the actor of the events a write appends.
func WithActor(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, actorKey{}, u)
}

// ActorFrom returns the actor WithActor stored, or nil.
func ActorFrom(ctx context.Context) *User {
	u, _ := ctx.Value(actorKey{}).(*User)
	return u
}
