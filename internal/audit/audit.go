// Package audit owns the audit log: the Event every mutation records, in the
// same transaction as the mutation, and the Service that lists them.
//
// It must not import HTTP packages, storage engines or other domain packages.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey"
)

// Event records one change: who made it, what, to which resource, when, and
// in which request from which client IP.
type Event struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"tenant_id"`
	RealmID      string    `json:"realm_id,omitempty"`
	ActorType    string    `json:"actor_type"`
	ActorID      string    `json:"actor_id"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	RequestID    string    `json:"request_id,omitempty"`
	ClientIP     string    `json:"client_ip,omitempty"`
	CreateTime   time.Time `json:"create_time"`
}

// NewAt returns the event for action (e.g. "identity.create") on a resource
// at time now (from the caller's latchkey.Clock), with the actor and request
// id that ctx carries. A context without an actor is the system acting on
// its own (bootstrap, background jobs).
func NewAt(ctx context.Context, now time.Time, tenantID, realmID, action, resourceType, resourceID string) Event {
	a := latchkey.ActorFrom(ctx)
	if a.Type == "" {
		a.Type, a.ID = "system", "latchkey"
	}
	return Event{
		ID: newEventID(now), TenantID: tenantID, RealmID: realmID,
		ActorType: a.Type, ActorID: a.ID, Action: action,
		ResourceType: resourceType, ResourceID: resourceID,
		RequestID: latchkey.RequestIDFrom(ctx), ClientIP: latchkey.ClientIPFrom(ctx), CreateTime: now,
	}
}

// newEventID returns an id that sorts by time: 13 hex digits of Unix
// microseconds, then 11 random hex digits so that ids made in the same
// microsecond on different nodes still differ.
func newEventID(t time.Time) string {
	return fmt.Sprintf("%013x", t.UnixMicro()) + latchkey.NewID()[:11]
}

// Store lists recorded events, newest first: ids descend, and
// ListOptions.After is the last (oldest) id of the previous page. An empty
// realmID lists the events of the whole tenant, including those of deleted
// realms and of the tenant itself.
type Store interface {
	ListEvents(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]Event, int, error)
}

// FilterAttributes are the attributes an events filter may use.
var FilterAttributes = []string{"action", "resource_type", "resource_id", "actor_id", "request_id", "realm_id", "client_ip"}
