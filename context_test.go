package latchkey_test

import (
	"context"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestMayGrant(t *testing.T) {
	ctx := context.Background()
	if err := latchkey.MayGrant(ctx, []string{"tenants:update"}); err != nil {
		t.Errorf("the system (no actor) holds every scope: %v", err)
	}
	a := latchkey.Actor{Type: "application", ID: "a", Scopes: []string{"roles:update", "groups:read"}}
	if got := a.Lacks([]string{"groups:read", "tenants:update", "roles:update", "realms:delete"}); !slices.Equal(got, []string{"tenants:update", "realms:delete"}) {
		t.Errorf("lacks %v", got)
	}
	ctx = latchkey.WithActor(ctx, a)
	if err := latchkey.MayGrant(ctx, []string{"groups:read"}); err != nil {
		t.Errorf("a scope it holds: %v", err)
	}
	err := latchkey.MayGrant(ctx, []string{"groups:read", "tenants:update"})
	if latchkey.ErrorCode(err) != latchkey.CodeForbidden || err.Error() != "forbidden: the token does not hold tenants:update, so it cannot give it" {
		t.Errorf("a scope it lacks: %v", err)
	}
	if err := latchkey.MayGrant(latchkey.WithActor(context.Background(), latchkey.Actor{Type: "identity", ID: "i"}), []string{"groups:read"}); err == nil {
		t.Error("an actor without scopes gives one")
	}
}
