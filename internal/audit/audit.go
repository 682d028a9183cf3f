// Package audit owns the audit log: the Event every mutation and every
// sign-in step records, in the same transaction as its own writes, and the
// Service that lists and prunes them.
//
// Every event is written by one store method (Tx.RecordEvent, or the
// sign-in's own batched writes that call the same insert), so that what
// fans events out (webhooks) hooks there.
//
// It must not import HTTP packages, storage engines or other domain packages.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Event records one change or one step of a sign-in: who, what, to which
// resource, when, and in which request from which client. Its JSON is the
// events API's and the webhooks' payload: fields are only ever added.
type Event struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenant_id"`
	RealmID   string `json:"realm_id,omitempty"`
	ActorType string `json:"actor_type"`
	ActorID   string `json:"actor_id"`
	// ActorDisplayName and ResourceDisplayName are the names at the time
	// of the event ("" when unknown or when the resource has none).
	ActorDisplayName string `json:"actor_display_name,omitempty"`
	// Action is lower case ("identity.update", "sign_in.denied").
	Action              string `json:"action"`
	ResourceType        string `json:"resource_type"`
	ResourceID          string `json:"resource_id"`
	ResourceDisplayName string `json:"resource_display_name,omitempty"`
	// Changes holds, for an update, the fields it changed.
	Changes   map[string]Change `json:"changes,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	ClientIP  string            `json:"client_ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	// CorrelationID ties the steps of one sign-in: the authorization
	// request's id, carried by its code, its tokens and their refreshes.
	CorrelationID string `json:"correlation_id,omitempty"`
	IdentityID    string `json:"identity_id,omitempty"`
	ApplicationID string `json:"application_id,omitempty"`
	CredentialID  string `json:"credential_id,omitempty"`
	// Outcome is "allowed" or "denied" for sign-in events; Reason says why
	// a sign-in was denied.
	Outcome    string    `json:"outcome,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	GrantType  string    `json:"grant_type,omitempty"`
	CreateTime time.Time `json:"create_time"`
}

// Change is one field's change: its old and new value, or, for a secret,
// only that it changed (Redacted).
type Change struct {
	Old      any  `json:"old,omitempty"`
	New      any  `json:"new,omitempty"`
	Redacted bool `json:"redacted,omitempty"`
}

// Sign-in event actions.
const (
	SignInStarted   = "sign_in.started"
	SignInAllowed   = "sign_in.allowed"
	SignInDenied    = "sign_in.denied"
	TokenIssued     = "token.issued"
	TokenRefreshed  = "token.refreshed"
	TokenRevoked    = "token.revoked"
	SessionEnded    = "session.ended"
	PasskeyBound    = "passkey.bound"
	PasskeyRevoked  = "passkey.revoked"
	PasskeyImported = "passkey.imported"
)

// Outcomes of sign-in events.
const (
	Allowed = "allowed"
	Denied  = "denied"
)

// NewAt returns the event for action (e.g. "identity.create") on a resource
// at time now (from the caller's latchkey.Clock), with the actor, request
// id, client IP and user agent that ctx carries. A context without an
// actor is the system acting on its own (bootstrap, background jobs).
func NewAt(ctx context.Context, now time.Time, tenantID, realmID, action, resourceType, resourceID string) Event {
	a := latchkey.ActorFrom(ctx)
	if a.Type == "" {
		a.Type, a.ID = "system", "latchkey"
	}
	return Event{
		ID: newEventID(now), TenantID: tenantID, RealmID: realmID,
		ActorType: a.Type, ActorID: a.ID, ActorDisplayName: a.DisplayName, Action: strings.ToLower(action),
		ResourceType: resourceType, ResourceID: resourceID,
		RequestID: latchkey.RequestIDFrom(ctx), ClientIP: latchkey.ClientIPFrom(ctx),
		UserAgent: latchkey.UserAgentFrom(ctx), CreateTime: now,
	}
}

// Diff returns the changes from before to after, field by field (fields
// equal in both are left out); nested objects compare field by field under
// dotted names ("protocol_config.redirect_uris"). Fields named secret, at
// any depth, are only marked Redacted. nil when nothing changed.
func Diff(before, after map[string]any, secret ...string) map[string]Change {
	out := map[string]Change{}
	diff(out, "", before, after, secret)
	if len(out) == 0 {
		return nil
	}
	return out
}

func diff(out map[string]Change, prefix string, before, after map[string]any, secret []string) {
	change := func(field string, ov, nv any) Change {
		if slices.Contains(secret, field) {
			return Change{Redacted: true}
		}
		return Change{Old: ov, New: nv}
	}
	for k, nv := range after {
		ov := before[k]
		om, oldIsObject := ov.(map[string]any)
		nm, newIsObject := nv.(map[string]any)
		switch {
		case oldIsObject && newIsObject:
			diff(out, prefix+k+".", om, nm, secret)
		case fmt.Sprint(ov) != fmt.Sprint(nv):
			out[prefix+k] = change(k, ov, nv)
		}
	}
	for k, ov := range before {
		if _, ok := after[k]; !ok && ov != nil {
			out[prefix+k] = change(k, ov, nil)
		}
	}
}

// ChangesOf is Diff of two versions of a resource, compared by their JSON
// fields; update_time, which every update changes, is left out.
func ChangesOf(before, after any, secret ...string) map[string]Change {
	c := Diff(fields(before), fields(after), secret...)
	delete(c, "update_time")
	if len(c) == 0 {
		return nil
	}
	return c
}

// Changed returns e naming its resource (name, as it is after the change)
// with the fields that changed from before to after (ChangesOf): the one
// way every service records an update.
func (e Event) Changed(name string, before, after any, secret ...string) Event {
	e.ResourceDisplayName, e.Changes = name, ChangesOf(before, after, secret...)
	return e
}

// Snapshot is v's JSON now: the "before" of Changed when the edit that
// follows may decode into v and so overwrite the arrays a copy shares.
func Snapshot(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// fields is v's JSON object as a map (nil when v is not one).
func fields(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// newEventID returns an id that sorts by time: 13 hex digits of Unix
// microseconds, then 11 random hex digits so that ids made in the same
// microsecond on different nodes still differ.
func newEventID(t time.Time) string {
	return fmt.Sprintf("%013x", t.UnixMicro()) + latchkey.NewID()[:11]
}

// IDsBefore returns the smallest id an event made at t or later can have:
// every event made before t has a smaller id, so pruning by id is pruning
// by time, on the primary key.
func IDsBefore(t time.Time) string { return fmt.Sprintf("%013x", t.UnixMicro()) }

// MaxTotal is the most matches a list of events counts. Counting them all
// takes time that grows with the log (seconds at 10,000,000 events), while
// a page does not; a total above MaxTotal is only "more than MaxTotal", as
// in the console's identity search. A count stops at MaxTotal+1 matches,
// which a filter that few events match makes it walk many rows to find:
// 10,000 cost 90 ms at 1,000,000 events for action sw "sign_in." on SQLite.
const MaxTotal = 1_000

// Store lists recorded events, newest first: ids descend, and
// ListOptions.After is the last (oldest) id of the previous page. An empty
// realmID lists the events of the whole tenant, including those of deleted
// realms and of the tenant itself. The total counts at most MaxTotal+1
// matches: MaxTotal+1 means more than MaxTotal.
type Store interface {
	ListEvents(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]Event, int, error)
	// DeleteEventsBefore deletes at most limit events, of any tenant, made
	// before t, and says how many it deleted.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}

// FilterAttributes are the attributes an events filter may use. action and
// resource_type compare case-insensitively.
var FilterAttributes = []string{"action", "resource_type", "resource_id", "actor_id", "request_id", "realm_id", "client_ip",
	"ip", "create_time", "identity_id", "application_id", "credential_id", "correlation_id", "outcome"}

// OrderedAttributes are those an events filter may compare with gt, ge,
// lt and le (RFC 3339 times).
var OrderedAttributes = []string{"create_time"}
